package entratest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// graphGet calls the emulator's Graph with a bearer token ("" for none).
func graphGet(t *testing.T, s *Server, path, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.GraphURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: status %d, body not JSON: %q", path, resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header, m
}

// appToken gets a client-credentials token.
func appToken(t *testing.T, s *Server, tenant, clientID, secret, scope string) string {
	t.Helper()
	status, body := post(t, s, "/"+tenant+"/oauth2/v2.0/token", ccForm(clientID, secret, scope))
	if status != http.StatusOK {
		t.Fatalf("token for %s: %d %v", scope, status, body["error_description"])
	}
	return body["access_token"].(string)
}

// graphErrorCode returns error.code and checks Graph's error shape.
func graphErrorCode(t *testing.T, body map[string]any) string {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if v, _ := inner[k].(string); v == "" {
			t.Errorf("error.innerError.%s missing: %v", k, body)
		}
	}
	if m, _ := e["message"].(string); m == "" {
		t.Errorf("error.message missing: %v", body)
	}
	code, _ := e["code"].(string)
	return code
}

func TestGraphAppOnly(t *testing.T) {
	s, d := seeded(t, nil)
	daemon := appToken(t, s, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, s.GraphURL()+"/.default")
	byResource := appToken(t, s, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, s.GraphResource()+"/.default")
	if c := unverifiedClaims(t, daemon); c["aud"] != s.GraphResource() || c["idtyp"] != "app" {
		t.Fatalf("token for the served Graph URL: aud %v idtyp %v, want %s and app", c["aud"], c["idtyp"], s.GraphResource())
	}
	noRoles := appToken(t, s, d.TenantID, d.OBOAPI.ClientID, d.OBOAPI.ClientSecret, s.GraphURL()+"/.default")
	apiToken := appToken(t, s, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default")
	tests := []struct {
		name, path, token string
		status            int
		code              string // Graph error code, "" for success
		context           string // @odata.context suffix
	}{
		{"users", "/v1.0/users", daemon, 200, "", "/v1.0/$metadata#users"},
		{"users with the resource's scope", "/v1.0/users", byResource, 200, "", "/v1.0/$metadata#users"},
		{"user by UPN", "/v1.0/users/" + d.User.Username, daemon, 200, "", "/v1.0/$metadata#users/$entity"},
		{"user by id, case-insensitive segment", "/v1.0/Users/" + d.User.ObjectID, daemon, 200, "", "/v1.0/$metadata#users/$entity"},
		{"select", "/v1.0/users?$select=displayName", daemon, 200, "", "/v1.0/$metadata#users(displayName)"},
		{"beta", "/beta/users", daemon, 200, "", "/beta/$metadata#users"},
		{"unknown user", "/v1.0/users/nobody@contoso.onmicrosoft.com", daemon, 404, "Request_ResourceNotFound", ""},
		{"me with an app token", "/v1.0/me", daemon, 400, "BadRequest", ""},
		{"applications", "/v1.0/applications", daemon, 200, "", "/v1.0/$metadata#applications"},
		{"servicePrincipals", "/v1.0/servicePrincipals", daemon, 200, "", "/v1.0/$metadata#servicePrincipals"},
		{"unknown segment", "/v1.0/groups", daemon, 400, "BadRequest", ""},
		{"no role", "/v1.0/users", noRoles, 403, "Authorization_RequestDenied", ""},
		{"no role for applications", "/v1.0/applications", noRoles, 403, "Authorization_RequestDenied", ""},
		{"no token", "/v1.0/users", "", 401, "InvalidAuthenticationToken", ""},
		{"not a JWT", "/v1.0/users", "opaque-token", 401, "InvalidAuthenticationToken", ""},
		{"token for another API", "/v1.0/users", apiToken, 401, "InvalidAuthenticationToken", ""},
		{"tampered payload", "/v1.0/users", tamper(t, daemon), 401, "InvalidAuthenticationToken", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := graphGet(t, s, tt.path, tt.token)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, body)
			}
			if tt.code != "" {
				if got := graphErrorCode(t, body); got != tt.code {
					t.Errorf("error.code %q, want %q", got, tt.code)
				}
				if status == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"`) {
					t.Errorf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
				}
				return
			}
			if got, _ := body["@odata.context"].(string); got != s.GraphURL()+tt.context {
				t.Errorf("@odata.context %q, want %q", got, s.GraphURL()+tt.context)
			}
			if h.Get("request-id") == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("headers: request-id %q content type %q", h.Get("request-id"), h.Get("Content-Type"))
			}
		})
	}
	t.Run("users lists the demo user", func(t *testing.T) {
		_, _, body := graphGet(t, s, "/v1.0/users", daemon)
		v, _ := body["value"].([]any)
		if len(v) != 1 {
			t.Fatalf("value = %v, want the demo user", body["value"])
		}
		u := v[0].(map[string]any)
		if u["id"] != d.User.ObjectID || u["userPrincipalName"] != d.User.Username || u["displayName"] != "Alice Demo" {
			t.Errorf("user = %v", u)
		}
	})
}

// tamper changes the payload of a JWT, keeping its signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"roles":[`, `"roles":["Directory.ReadWrite.All",`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestGraphRefusesOtherIssuersAndExpiredTokens(t *testing.T) {
	clock := newUFClock()
	s, d := seeded(t, &Options{Now: clock.Now})
	tok := appToken(t, s, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, s.GraphURL()+"/.default")
	china, cd := seeded(t, &Options{Cloud: CloudChina})
	chinaTok := appToken(t, china, cd.TenantID, cd.Daemon.ClientID, cd.Daemon.ClientSecret, china.GraphURL()+"/.default")
	other, od := seeded(t, nil)
	otherTok := appToken(t, other, od.TenantID, od.Daemon.ClientID, od.Daemon.ClientSecret, other.GraphURL()+"/.default")
	tests := []struct {
		name    string
		srv     *Server
		token   string
		advance time.Duration
		message string
	}{
		{"public token on China's Graph", china, tok, 0, "Invalid audience"},
		{"China token on the public Graph", s, chinaTok, 0, "Invalid audience"},
		{"same cloud, another emulator's keys", s, otherTok, 0, "Invalid signature"},
		{"expired beyond the skew", s, tok, time.Hour + 6*time.Minute, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			status, _, body := graphGet(t, tt.srv, "/v1.0/users", tt.token)
			if status != http.StatusUnauthorized || graphErrorCode(t, body) != "InvalidAuthenticationToken" {
				t.Fatalf("status %d %v, want 401 InvalidAuthenticationToken", status, body)
			}
			if msg := body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tt.message) {
				t.Errorf("message %q, want it to mention %q", msg, tt.message)
			}
		})
	}
	t.Run("within the skew", func(t *testing.T) {
		clock := newUFClock()
		s, d := seeded(t, &Options{Now: clock.Now})
		tok := appToken(t, s, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, s.GraphURL()+"/.default")
		clock.Advance(time.Hour + 4*time.Minute)
		if status, _, body := graphGet(t, s, "/v1.0/users", tok); status != http.StatusOK {
			t.Fatalf("status %d %v, want 200 within 5 minutes of skew", status, body)
		}
	})
}

// graphUserToken signs the demo user in (authorization code) for scope,
// with extra token-request parameters.
func graphUserToken(t *testing.T, e *ufEnv, scope string, extra url.Values) string {
	t.Helper()
	code := e.code(t, e.tid, e.authQuery(scope))
	f := e.redeemForm(code, "", scope)
	for k, v := range extra {
		f[k] = v
	}
	status, body := e.token(t, e.tid, f)
	if status != http.StatusOK {
		t.Fatalf("user token: %d %v", status, body["error_description"])
	}
	return body["access_token"].(string)
}

func TestGraphDelegated(t *testing.T) {
	e := ufNew(t, nil)
	tok := graphUserToken(t, e, "User.Read openid", nil)
	tests := []struct {
		name, path string
		status     int
		id         string
	}{
		{"me", "/v1.0/me", 200, e.demo.User.ObjectID},
		{"oneself by id with User.Read", "/v1.0/users/" + e.demo.User.ObjectID, 200, e.demo.User.ObjectID},
		{"all users needs User.ReadBasic.All", "/v1.0/users", 403, ""},
		{"applications need Application.Read.All", "/v1.0/applications", 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := graphGet(t, e.s, tt.path, tok)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, body)
			}
			if tt.id != "" && body["id"] != tt.id {
				t.Errorf("id %v, want %s", body["id"], tt.id)
			}
			if status == 403 && graphErrorCode(t, body) != "Authorization_RequestDenied" {
				t.Errorf("body %v", body)
			}
		})
	}
}

func TestGraphPersonalAccountID(t *testing.T) {
	e := ufNew(t, nil)
	u, err := e.s.AddUser(ConsumersTenantID, User{Username: "bob@outlook.com", ObjectID: "00000000-0000-0000-9f4e-8a2b1c3d5e6f"})
	if err != nil {
		t.Fatal(err)
	}
	e.s.SetSignInUser(u.Username)
	q := e.authQuery("User.Read")
	code := e.code(t, "consumers", q)
	status, body := e.token(t, "consumers", e.redeemForm(code, "", "User.Read"))
	if status != http.StatusOK {
		t.Fatalf("personal token: %d %v", status, body["error_description"])
	}
	tok := body["access_token"].(string)
	if oid := unverifiedClaims(t, tok)["oid"]; oid != u.ObjectID {
		t.Fatalf("token oid %v, want %s", oid, u.ObjectID)
	}
	status, _, me := graphGet(t, e.s, "/v1.0/me", tok)
	if status != http.StatusOK || me["id"] != "9f4e8a2b1c3d5e6f" {
		t.Fatalf("/me: %d id %v, want 200 and the 16-hex Graph id 9f4e8a2b1c3d5e6f", status, me["id"])
	}
}

func TestGraphCAERevocation(t *testing.T) {
	clock := newUFClock()
	e := ufNew(t, &Options{Now: clock.Now})
	caps := url.Values{"claims": {`{"access_token":{"xms_cc":{"values":["CP1"]}}}`}}
	cae := graphUserToken(t, e, "User.Read", caps)
	plain := graphUserToken(t, e, "User.Read", nil)
	if got := unverifiedClaims(t, cae)["xms_cc"]; len(stringList(got)) != 1 || stringList(got)[0] != "cp1" {
		t.Fatalf("xms_cc = %v, want [cp1]", got)
	}
	if got, ok := unverifiedClaims(t, plain)["xms_cc"]; ok {
		t.Fatalf("xms_cc = %v without client capabilities", got)
	}
	clock.Advance(time.Minute)
	e.s.RevokeRefreshTokens(e.demo.User.Username)
	status, h, body := graphGet(t, e.s, "/v1.0/me", cae)
	if status != http.StatusUnauthorized || graphErrorCode(t, body) != "InvalidAuthenticationToken" {
		t.Fatalf("CAE token after revocation: %d %v, want 401", status, body)
	}
	ch := h.Get("WWW-Authenticate")
	i := strings.Index(ch, `claims="`)
	if !strings.Contains(ch, `error="insufficient_claims"`) || i < 0 {
		t.Fatalf("WWW-Authenticate %q is not a claims challenge", ch)
	}
	claims, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(ch[i+len(`claims="`):], `"`))
	if err != nil || !strings.Contains(string(claims), `"nbf"`) {
		t.Fatalf("challenge claims %q (%v), want an nbf request", claims, err)
	}
	if status, _, body := graphGet(t, e.s, "/v1.0/me", plain); status != http.StatusOK {
		t.Fatalf("non-CAE token after revocation: %d %v, want 200 until it expires", status, body)
	}
	// A token asked for with the challenge's claims (after a new sign-in) passes.
	fresh := graphUserToken(t, e, "User.Read", url.Values{"claims": {string(claims)}})
	if status, _, body := graphGet(t, e.s, "/v1.0/me", fresh); status != http.StatusOK {
		t.Fatalf("token issued after the revocation: %d %v, want 200", status, body)
	}
}

func TestGraphMethodNotAllowed(t *testing.T) {
	s, _ := seeded(t, nil)
	resp, err := s.Client().Post(s.GraphURL()+"/v1.0/users", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /v1.0/users: %d, want 405", resp.StatusCode)
	}
	if got := s.Count(EndpointGraph); got != 1 {
		t.Errorf("Count(EndpointGraph) = %d, want 1", got)
	}
}

func TestGraphFaultsHaveGraphShape(t *testing.T) {
	s, d := seeded(t, nil)
	tok := appToken(t, s, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, s.GraphURL()+"/.default")
	s.InjectFault(EndpointGraph, Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second})
	status, h, body := graphGet(t, s, "/v1.0/users", tok)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") != "2" || graphErrorCode(t, body) != "TooManyRequests" {
		t.Fatalf("got %d Retry-After %q %v, want 429, 2 and Graph's TooManyRequests", status, h.Get("Retry-After"), body)
	}
	if status, _, body := graphGet(t, s, "/v1.0/users", tok); status != http.StatusOK {
		t.Fatalf("after the fault: %d %v", status, body)
	}
}
