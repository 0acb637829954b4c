package entratest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// token POSTs a form to the v2 token endpoint and decodes the JSON answer.
func (e *ufEnv) token(t *testing.T, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	return ufPostJSON(t, e.c, e.s.Authority(tenant)+"/oauth2/v2.0/token", form)
}

func ufPostJSON(t *testing.T, c *http.Client, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("POST %s: decode: %v", u, err)
	}
	return resp.StatusCode, body
}

// ufWantError checks an OAuth error answer.
func ufWantError(t *testing.T, status int, body map[string]any, wantStatus int, wantErr string, wantCode int) {
	t.Helper()
	if status != wantStatus || body["error"] != wantErr {
		t.Fatalf("got %d %v (%v), want %d %s AADSTS%d", status, body["error"], body["error_description"], wantStatus, wantErr, wantCode)
	}
	if wantCode == 0 {
		return
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Fatalf("error_codes: got %v, want [%d] (%v)", body["error_codes"], wantCode, body["error_description"])
	}
	desc, _ := body["error_description"].(string)
	if !strings.HasPrefix(desc, "AADSTS"+strconv.Itoa(wantCode)+": ") {
		t.Fatalf("error_description: got %q, want prefix AADSTS%d", desc, wantCode)
	}
}

// ufRedeemForm is an authorization_code redemption by the demo public client.
func (e *ufEnv) redeemForm(code, verifier, scope string) url.Values {
	f := url.Values{
		"grant_type":   {"authorization_code"},
		"client_id":    {e.demo.PublicClient.ClientID},
		"code":         {code},
		"redirect_uri": {e.demo.PublicClient.RedirectURI},
		"client_info":  {"1"},
	}
	if verifier != "" {
		f.Set("code_verifier", verifier)
	}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

// ufPKCE returns a verifier and its S256 challenge.
func ufPKCE(seed string) (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat(seed, 40)))[:50]
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// ufClaims reads a JWT's payload without verifying it (verification is the
// interop tests' business, with go-jose against the JWKS).
func ufClaims(t *testing.T, tok any) map[string]any {
	t.Helper()
	s, _ := tok.(string)
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return c
}

// addLoopbackApp registers a public client with a loopback redirect URI,
// consented to the demo API's scope.
func (e *ufEnv) addLoopbackApp(t *testing.T, clientID string) {
	t.Helper()
	err := e.s.AddApp(e.tid, App{
		ClientID:     clientID,
		DisplayName:  "loopback app",
		PublicClient: true,
		RedirectURIs: []string{"http://localhost", "http://127.0.0.1/cb"},
		Grants: []Grant{{Resource: e.demo.API.AppIDURI, DelegatedScopes: []string{"access_as_user"}},
			{Resource: e.demo.OBOAPI.AppIDURI, DelegatedScopes: []string{"access_as_user"}}},
	})
	if err != nil {
		t.Fatalf("AddApp: %v", err)
	}
}

func TestAuthCodeRedeem(t *testing.T) {
	e := ufNew(t, nil)
	verifier, challenge := ufPKCE("v")
	q := e.authQuery(e.demo.API.Scope + " openid profile offline_access")
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("nonce", "nonce-42")
	code := e.code(t, e.tid, q)

	scope := e.demo.API.Scope + " openid offline_access profile"
	status, body := e.token(t, e.tid, e.redeemForm(code, verifier, scope))
	if status != http.StatusOK {
		t.Fatalf("redeem: got %d %v, want 200", status, body)
	}
	// Entra's answer: OIDC scopes sorted, offline_access dropped, then the
	// consented scopes of the resource.
	if want := "openid profile " + e.demo.API.Scope; body["scope"] != want {
		t.Fatalf("scope: got %q, want %q", body["scope"], want)
	}
	for _, k := range []string{"access_token", "refresh_token", "id_token", "client_info"} {
		if v, _ := body[k].(string); v == "" {
			t.Fatalf("%s missing from %v", k, body)
		}
	}
	if exp, _ := body["expires_in"].(float64); body["token_type"] != "Bearer" || exp < 3600 || exp > 5400 || body["ext_expires_in"] != exp {
		t.Fatalf("token_type/expires_in: got %v %v %v", body["token_type"], body["expires_in"], body["ext_expires_in"])
	}
	at := ufClaims(t, body["access_token"])
	want := map[string]any{"aud": e.demo.API.ClientID, "azp": e.demo.PublicClient.ClientID, "azpacr": "0",
		"scp": "access_as_user", "oid": e.demo.User.ObjectID, "tid": e.tid, "ver": "2.0"}
	for k, v := range want {
		if at[k] != v {
			t.Errorf("access token %s: got %v, want %v", k, at[k], v)
		}
	}
	idt := ufClaims(t, body["id_token"])
	if idt["aud"] != e.demo.PublicClient.ClientID || idt["nonce"] != "nonce-42" || idt["oid"] != e.demo.User.ObjectID {
		t.Errorf("id_token: got aud %v nonce %v oid %v", idt["aud"], idt["nonce"], idt["oid"])
	}
	ci, err := base64.RawURLEncoding.DecodeString(body["client_info"].(string))
	if err != nil {
		t.Fatalf("client_info: %v", err)
	}
	var info map[string]string
	if err := json.Unmarshal(ci, &info); err != nil || info["uid"] != e.demo.User.ObjectID || info["utid"] != e.tid {
		t.Fatalf("client_info: got %s, want uid %s utid %s", ci, e.demo.User.ObjectID, e.tid)
	}
}

// Without openid, offline_access and client_info=1 there is only an access token.
func TestAuthCodeMinimal(t *testing.T) {
	e := ufNew(t, nil)
	code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
	f := e.redeemForm(code, "", "")
	f.Del("client_info")
	status, body := e.token(t, e.tid, f)
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, body)
	}
	for _, k := range []string{"refresh_token", "id_token", "client_info"} {
		if _, ok := body[k]; ok {
			t.Errorf("%s present without being asked for", k)
		}
	}
	if body["scope"] != e.demo.API.Scope {
		t.Errorf("scope: got %v, want the authorize scope %s", body["scope"], e.demo.API.Scope)
	}
}

func TestAuthCodeReuse(t *testing.T) {
	e := ufNew(t, nil)
	code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
	if status, body := e.token(t, e.tid, e.redeemForm(code, "", "")); status != http.StatusOK {
		t.Fatalf("first redemption: %d %v", status, body)
	}
	status, body := e.token(t, e.tid, e.redeemForm(code, "", ""))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 54005)
}

// Concurrent redemptions of one code: exactly one wins.
func TestAuthCodeSingleUseConcurrent(t *testing.T) {
	e := ufNew(t, nil)
	code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := e.c.PostForm(e.s.Authority(e.tid)+"/oauth2/v2.0/token", e.redeemForm(code, "", ""))
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("successful redemptions: got %d (%v), want 1", ok, statuses)
	}
}

func TestAuthCodePKCE(t *testing.T) {
	e := ufNew(t, nil)
	verifier, s256 := ufPKCE("p")
	other, _ := ufPKCE("q")
	tests := []struct {
		name              string
		challenge, method string
		verifier          string
		wantOK            bool
	}{
		{"S256 match", s256, "S256", verifier, true},
		{"S256 mismatch", s256, "S256", other, false},
		{"S256 verifier missing", s256, "S256", "", false},
		{"S256 verifier is the challenge", s256, "S256", s256, false},
		{"plain match", verifier, "plain", verifier, true},
		{"plain by default", verifier, "", verifier, true},
		{"plain mismatch", verifier, "plain", other, false},
		{"no challenge no verifier", "", "", "", true},
		{"verifier without challenge", "", "", verifier, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := e.authQuery(e.demo.API.Scope)
			if tt.challenge != "" {
				q.Set("code_challenge", tt.challenge)
			}
			if tt.method != "" {
				q.Set("code_challenge_method", tt.method)
			}
			code := e.code(t, e.tid, q)
			status, body := e.token(t, e.tid, e.redeemForm(code, tt.verifier, ""))
			if tt.wantOK {
				if status != http.StatusOK {
					t.Fatalf("got %d %v, want 200", status, body)
				}
				return
			}
			ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 501481)
			// A failed check does not consume the code... unless it was right.
			if tt.verifier != "" && tt.challenge != "" {
				status, body = e.token(t, e.tid, e.redeemForm(code, verifier, ""))
				if status != http.StatusOK {
					t.Fatalf("retry with the right verifier: got %d %v, want 200", status, body)
				}
			}
		})
	}
}

func TestAuthCodeBindings(t *testing.T) {
	e := ufNew(t, nil)
	const otherClient = "0d1e2f30-4a5b-4c6d-8e9f-000000000001"
	e.addLoopbackApp(t, otherClient)
	t.Run("redirect_uri mismatch", func(t *testing.T) {
		code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
		f := e.redeemForm(code, "", "")
		f.Set("redirect_uri", "http://localhost:9999")
		status, body := e.token(t, e.tid, f)
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 70000)
	})
	t.Run("other client", func(t *testing.T) {
		code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
		f := e.redeemForm(code, "", "")
		f.Set("client_id", otherClient)
		status, body := e.token(t, e.tid, f)
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 70000)
	})
	t.Run("unknown code", func(t *testing.T) {
		status, body := e.token(t, e.tid, e.redeemForm("not-a-code", "", ""))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 9002313)
	})
	t.Run("consent missing at redemption", func(t *testing.T) {
		code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
		status, body := e.token(t, e.tid, e.redeemForm(code, "", "https://graph.microsoft.com/Mail.Read"))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)
		if body["suberror"] != "consent_required" {
			t.Fatalf("suberror: got %v, want consent_required", body["suberror"])
		}
	})
	t.Run("other consented resource at redemption", func(t *testing.T) {
		code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
		status, body := e.token(t, e.tid, e.redeemForm(code, "", e.demo.OBOAPI.Scope))
		if status != http.StatusOK || ufClaims(t, body["access_token"])["aud"] != e.demo.OBOAPI.ClientID {
			t.Fatalf("got %d %v, want a token for the OBO API", status, body["error_description"])
		}
	})
	t.Run("several resources at redemption", func(t *testing.T) {
		code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
		status, body := e.token(t, e.tid, e.redeemForm(code, "", e.demo.API.Scope+" "+e.demo.OBOAPI.Scope))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_scope", 28000)
	})
}

func TestAuthCodeExpired(t *testing.T) {
	clock := newUFClock()
	e := ufNew(t, &Options{Now: clock.Now})
	code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope))
	clock.Advance(10*time.Minute + time.Second)
	status, body := e.token(t, e.tid, e.redeemForm(code, "", ""))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 70008)
}

// No error string or description carries the code, verifier or tokens.
func TestAuthCodeErrorsCarryNoSecrets(t *testing.T) {
	e := ufNew(t, nil)
	verifier, challenge := ufPKCE("z")
	q := e.authQuery(e.demo.API.Scope)
	q.Set("code_challenge", challenge)
	code := e.code(t, e.tid, q)
	other, _ := ufPKCE("y")
	status, body := e.token(t, e.tid, e.redeemForm(code, other, ""))
	if status == http.StatusOK {
		t.Fatal("mismatched verifier accepted")
	}
	raw, _ := json.Marshal(body)
	for _, secret := range []string{code, other, verifier, challenge} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("error body holds a secret value: %s", raw)
		}
	}
}
