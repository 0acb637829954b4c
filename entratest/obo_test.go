package entratest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// userTokenFor signs the demo user in to the demo public client for scope
// (by auth code) and returns the access token (and id_token when asked).
func (e *ufEnv) userTokenFor(t *testing.T, tenant string, q url.Values) map[string]any {
	t.Helper()
	code := e.code(t, tenant, q)
	f := e.redeemForm(code, "", "")
	f.Set("client_id", q.Get("client_id"))
	status, body := e.token(t, tenant, f)
	if status != http.StatusOK {
		t.Fatalf("user token: got %d %v", status, body["error_description"])
	}
	return body
}

func (e *ufEnv) oboForm(assertion, scope string) url.Values {
	return url.Values{
		"grant_type":          {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"requested_token_use": {"on_behalf_of"},
		"client_id":           {e.demo.OBOAPI.ClientID},
		"client_secret":       {e.demo.OBOAPI.ClientSecret},
		"assertion":           {assertion},
		"scope":               {scope},
		"client_info":         {"1"},
	}
}

func TestOBO(t *testing.T) {
	e := ufNew(t, nil)
	assertion := e.userTokenFor(t, e.tid, e.authQuery(e.demo.OBOAPI.Scope))["access_token"].(string)
	t.Run("downstream API", func(t *testing.T) {
		scope := e.demo.API.Scope + " openid offline_access profile"
		status, body := e.token(t, e.tid, e.oboForm(assertion, scope))
		if status != http.StatusOK {
			t.Fatalf("OBO: got %d %v", status, body)
		}
		at := ufClaims(t, body["access_token"])
		want := map[string]any{"aud": e.demo.API.ClientID, "azp": e.demo.OBOAPI.ClientID, "azpacr": "1",
			"oid": e.demo.User.ObjectID, "tid": e.tid, "scp": "access_as_user"}
		for k, v := range want {
			if at[k] != v {
				t.Errorf("%s: got %v, want %v", k, at[k], v)
			}
		}
		if _, ok := body["refresh_token"].(string); !ok {
			t.Error("no refresh_token although offline_access was asked")
		}
		if _, ok := body["id_token"]; ok {
			t.Error("OBO answer has an id_token")
		}
		if want := "profile " + e.demo.API.Scope; body["scope"] != want {
			t.Errorf("scope: got %v, want %q", body["scope"], want)
		}
	})
	t.Run("downstream Graph", func(t *testing.T) {
		status, body := e.token(t, e.tid, e.oboForm(assertion, "https://graph.microsoft.com/User.Read"))
		if status != http.StatusOK {
			t.Fatalf("OBO: got %d %v", status, body)
		}
		if at := ufClaims(t, body["access_token"]); at["aud"] != e.s.GraphResource() || at["appid"] != e.demo.OBOAPI.ClientID {
			t.Fatalf("got aud %v appid %v, want Graph and the middle tier", at["aud"], at["appid"])
		}
		if _, ok := body["refresh_token"]; ok {
			t.Error("refresh_token without offline_access")
		}
	})
}

func TestOBOErrors(t *testing.T) {
	e := ufNew(t, nil)
	userTok := e.userTokenFor(t, e.tid, e.authQuery(e.demo.OBOAPI.Scope+" openid"))
	assertion := userTok["access_token"].(string)

	_, graphBody := e.token(t, e.tid, e.oboForm(assertion, "User.Read"))
	graphTok, _ := graphBody["access_token"].(string)
	apiTok := e.userTokenFor(t, e.tid, e.authQuery(e.demo.API.Scope))["access_token"].(string)
	status, ccBody := e.token(t, e.tid, url.Values{"grant_type": {"client_credentials"}, "client_id": {e.demo.Daemon.ClientID},
		"client_secret": {e.demo.Daemon.ClientSecret}, "scope": {e.demo.OBOAPI.AppIDURI + "/.default"}})
	if status != http.StatusOK {
		t.Fatalf("client credentials: %d %v", status, ccBody)
	}
	appTok := ccBody["access_token"].(string)

	// A token from another emulator (another cloud, other keys) for the same IDs.
	foreign := ufNew(t, &Options{Cloud: CloudChina})
	foreignTok := foreign.userTokenFor(t, foreign.tid, foreign.authQuery(foreign.demo.OBOAPI.Scope))["access_token"].(string)

	tests := []struct {
		name      string
		assertion string
		scope     string
		edit      func(url.Values)
		status    int
		err       string
		code      int
		mention   string
	}{
		{"Graph token", graphTok, e.demo.API.Scope, nil, 400, "invalid_grant", 50013, "Microsoft Graph token"},
		{"token for another API", apiTok, e.demo.API.Scope, nil, 400, "invalid_grant", 50013, e.demo.API.ClientID},
		{"app-only token", appTok, e.demo.API.Scope, nil, 400, "invalid_grant", 50013, "app-only"},
		{"id_token", userTok["id_token"].(string), e.demo.API.Scope, nil, 400, "invalid_grant", 240002, ""},
		{"another cloud", foreignTok, e.demo.API.Scope, nil, 400, "invalid_grant", 50013, "signature"},
		{"not a JWT", "abc", e.demo.API.Scope, nil, 400, "invalid_grant", 50027, ""},
		{"consent missing", assertion, "https://graph.microsoft.com/Mail.Read", nil, 400, "invalid_grant", 65001, ""},
		{"several resources", assertion, e.demo.API.Scope + " User.Read", nil, 400, "invalid_scope", 28000, ""},
		{"requested_token_use missing", assertion, e.demo.API.Scope, func(f url.Values) { f.Del("requested_token_use") }, 400, "invalid_request", 900144, ""},
		{"assertion missing", "", e.demo.API.Scope, nil, 400, "invalid_request", 900144, ""},
		{"wrong secret", assertion, e.demo.API.Scope, func(f url.Values) { f.Set("client_secret", "nope") }, 401, "invalid_client", 7000215, ""},
		{"public client", assertion, e.demo.API.Scope, func(f url.Values) { f.Set("client_id", e.demo.PublicClient.ClientID); f.Del("client_secret") }, 401, "invalid_client", 7000218, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.oboForm(tt.assertion, tt.scope)
			if tt.edit != nil {
				tt.edit(f)
			}
			status, body := e.token(t, e.tid, f)
			ufWantError(t, status, body, tt.status, tt.err, tt.code)
			desc, _ := body["error_description"].(string)
			if tt.mention != "" && !strings.Contains(desc, tt.mention) {
				t.Errorf("description %q does not mention %q", desc, tt.mention)
			}
			if tt.assertion != "" && len(tt.assertion) > 20 && strings.Contains(desc, tt.assertion[len(tt.assertion)-20:]) {
				t.Error("description echoes the assertion")
			}
			if tt.code == 65001 && body["suberror"] != "consent_required" {
				t.Errorf("suberror: got %v, want consent_required", body["suberror"])
			}
		})
	}
}

// A token issued by another tenant of the same emulator (same middle-tier
// client ID, registered there too) is refused.
func TestOBOForeignTenant(t *testing.T) {
	e := ufNew(t, nil)
	const (
		tenantB = "0b0b0b0b-1111-4222-8333-444455556666"
		pubB    = "0b0b0b0b-0000-4000-8000-00000000c0b0"
	)
	if err := e.s.AddTenant(Tenant{ID: tenantB, DisplayName: "Fabrikam"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range []App{
		{ClientID: e.demo.OBOAPI.ClientID, AppIDURI: e.demo.OBOAPI.AppIDURI, Scopes: []string{"access_as_user"},
			Secrets: []Secret{{Value: e.demo.OBOAPI.ClientSecret}}, AccessTokenAcceptedVersion: 2},
		{ClientID: pubB, PublicClient: true, RedirectURIs: []string{"http://localhost"},
			Grants: []Grant{{Resource: e.demo.OBOAPI.ClientID, DelegatedScopes: []string{"access_as_user"}}}},
	} {
		if err := e.s.AddApp(tenantB, a); err != nil {
			t.Fatal(err)
		}
	}
	bob, err := e.s.AddUser(tenantB, User{Username: "bob@fabrikam.example"})
	if err != nil {
		t.Fatal(err)
	}
	q := e.authQuery(e.demo.OBOAPI.Scope)
	q.Set("client_id", pubB)
	q.Set("login_hint", bob.Username)
	tok := e.userTokenFor(t, tenantB, q)["access_token"].(string)
	if c := ufClaims(t, tok); c["tid"] != tenantB || c["aud"] != e.demo.OBOAPI.ClientID {
		t.Fatalf("tenant B token: got tid %v aud %v", c["tid"], c["aud"])
	}
	status, body := e.token(t, e.tid, e.oboForm(tok, e.demo.API.Scope))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 50013)
	if desc := body["error_description"].(string); !strings.Contains(desc, tenantB) || !strings.Contains(desc, e.tid) {
		t.Fatalf("description %q does not name both tenants", desc)
	}
}

func TestOBOExpiredAssertion(t *testing.T) {
	clock := newUFClock()
	e := ufNew(t, &Options{Now: clock.Now})
	assertion := e.userTokenFor(t, e.tid, e.authQuery(e.demo.OBOAPI.Scope))["access_token"].(string)
	clock.Advance(90*time.Minute + 6*time.Minute) // user tokens live 60 to 90 minutes
	status, body := e.token(t, e.tid, e.oboForm(assertion, e.demo.API.Scope))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 500133)
}
