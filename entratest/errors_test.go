package entratest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var descRE = regexp.MustCompile(`^AADSTS(\d+): [^\r\n]+\r\nTrace ID: ([0-9a-f-]{36})\r\nCorrelation ID: ([0-9a-f-]{36})\r\nTimestamp: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)$`)

func TestTokenErrors(t *testing.T) {
	s, d := seeded(t, nil)
	expired := newGUID()
	if err := s.AddApp(d.TenantID, App{ClientID: expired, Secrets: []Secret{{Value: "old-secret-canary", Expires: time.Now().Add(-time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	tokenPath := "/" + d.TenantID + "/oauth2/v2.0/token"
	scope := d.API.AppIDURI + "/.default"
	cc := func(client, secret, scope string) url.Values { return ccForm(client, secret, scope) }
	noSecret := url.Values{"grant_type": {"client_credentials"}, "client_id": {d.Daemon.ClientID}, "scope": {scope}}
	badAssertion := url.Values{"grant_type": {"client_credentials"}, "client_id": {d.Daemon.ClientID}, "scope": {scope},
		"client_assertion_type": {assertionType}, "client_assertion": {"eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"}}
	tests := []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		wantError  string
		wantCode   int
	}{
		{"wrong secret", tokenPath, cc(d.Daemon.ClientID, "wrong-secret-canary", scope), 401, "invalid_client", 7000215},
		{"expired secret", tokenPath, cc(expired, "old-secret-canary", scope), 401, "invalid_client", 7000222},
		{"unknown app", tokenPath, cc(newGUID(), "x", scope), 400, "unauthorized_client", 700016},
		{"client credentials on consumers", "/consumers/oauth2/v2.0/token", cc(newGUID(), "x", scope), 400, "invalid_request", 9001023},
		{"missing credential", tokenPath, noSecret, 401, "invalid_client", 7000218},
		{"bad assertion signature", tokenPath, badAssertion, 401, "invalid_client", 700027},
		{"public client sends secret", tokenPath, cc(d.PublicClient.ClientID, "x", scope), 400, "invalid_client", 700025},
		{"non-.default scope", tokenPath, cc(d.Daemon.ClientID, d.Daemon.ClientSecret, "https://graph.microsoft.com/User.Read.All"), 400, "invalid_scope", 1002012},
		{"bare Graph permission", tokenPath, cc(d.Daemon.ClientID, d.Daemon.ClientSecret, "User.Read"), 400, "invalid_scope", 1002012},
		{"two .default resources", tokenPath, cc(d.Daemon.ClientID, d.Daemon.ClientSecret, scope+" https://graph.microsoft.com/.default"), 400, "invalid_scope", 70011},
		{"unknown resource", tokenPath, cc(d.Daemon.ClientID, d.Daemon.ClientSecret, "api://nope/.default"), 400, "invalid_resource", 500011},
		{"empty scope", tokenPath, cc(d.Daemon.ClientID, d.Daemon.ClientSecret, " "), 400, "invalid_request", 900144},
		{"only OIDC scopes", tokenPath, cc(d.Daemon.ClientID, d.Daemon.ClientSecret, "openid profile"), 400, "invalid_scope", 1002012},
		{"unknown tenant", "/" + newGUID() + "/oauth2/v2.0/token", cc(d.Daemon.ClientID, d.Daemon.ClientSecret, scope), 400, "invalid_request", 90002},
		{"unknown grant", tokenPath, url.Values{"grant_type": {"magic"}}, 400, "unsupported_grant_type", 70003},
		{"missing grant", tokenPath, url.Values{"client_id": {d.Daemon.ClientID}}, 400, "invalid_request", 900144},
		{"missing client_id", tokenPath, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, 400, "invalid_request", 900144},
		{"v1 without resource", "/" + d.TenantID + "/oauth2/token", cc(d.Daemon.ClientID, d.Daemon.ClientSecret, ""), 400, "invalid_request", 900144},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL+tt.path, strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			corr := newGUID()
			req.Header.Set("client-request-id", corr)
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			trace := resp.Header.Get("x-ms-request-id")
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, canary := range []string{"wrong-secret-canary", "old-secret-canary", d.Daemon.ClientSecret} {
				if strings.Contains(string(raw), canary) {
					t.Fatalf("the answer echoes a secret: %s", raw)
				}
			}
			resp.Body = io.NopCloser(strings.NewReader(string(raw)))
			code, m := decode(t, resp)
			checkErrorShape(t, code, m, tt.wantStatus, tt.wantError, tt.wantCode)
			if m["trace_id"] != trace || m["correlation_id"] != corr {
				t.Errorf("trace_id %v (header %s), correlation_id %v (sent %s)", m["trace_id"], trace, m["correlation_id"], corr)
			}
		})
	}
}

// checkErrorShape checks an Entra error body (§3.1).
func checkErrorShape(t *testing.T, code int, m map[string]any, wantStatus int, wantError string, wantCode int) {
	t.Helper()
	codes, _ := m["error_codes"].([]any)
	if code != wantStatus || m["error"] != wantError || len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Fatalf("got %d %v %v, want %d %s [%d]: %v", code, m["error"], codes, wantStatus, wantError, wantCode, m["error_description"])
	}
	desc, _ := m["error_description"].(string)
	sub := descRE.FindStringSubmatch(desc)
	if sub == nil {
		t.Fatalf("error_description %q does not match Entra's shape", desc)
	}
	if sub[1] != strconv.Itoa(wantCode) || sub[2] != m["trace_id"] || sub[3] != m["correlation_id"] || sub[4] != m["timestamp"] {
		t.Errorf("description parts %q vs body %v", sub[1:], m)
	}
	if want := "https://login.microsoftonline.com/error?code=" + strconv.Itoa(wantCode); m["error_uri"] != want {
		t.Errorf("error_uri = %v, want %s", m["error_uri"], want)
	}
}

func TestBadInput(t *testing.T) {
	s, d := seeded(t, nil)
	tokenURL := s.Authority(d.TenantID) + "/oauth2/v2.0/token"
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantCode    int
	}{
		{"GET", http.MethodGet, "", "", 405, 900561},
		{"PUT", http.MethodPut, "application/x-www-form-urlencoded", "grant_type=client_credentials", 405, 900561},
		{"JSON body", http.MethodPost, "application/json", `{"grant_type":"client_credentials"}`, 400, 900144},
		{"no content type", http.MethodPost, "", "grant_type=client_credentials", 400, 900144},
		{"malformed form", http.MethodPost, "application/x-www-form-urlencoded", "grant_type=%zz", 400, 9002313},
		{"body over 1 MiB", http.MethodPost, "application/x-www-form-urlencoded", "grant_type=client_credentials&x=" + strings.Repeat("a", 1<<20), 400, 9002313},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tokenURL, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			code, m := decode(t, resp)
			checkErrorShape(t, code, m, tt.wantStatus, "invalid_request", tt.wantCode)
		})
	}
}

func TestPanicBecomesServerError(t *testing.T) {
	s := NewTestServer(t, nil)
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret-in-panic-canary") })
	rec := httptest.NewRecorder()
	r, _ := withIDs(httptest.NewRequest(http.MethodPost, "/x/oauth2/v2.0/token", nil))
	s.dispatch(boom, nil, &recorder{ResponseWriter: rec}, r)
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"error":"server_error"`) {
		t.Fatalf("got %d %s, want 500 server_error", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "canary") || strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("panic value or stack leaked: %s", rec.Body)
	}
}

// TestScopeResolution covers the delegated-scope rules used by the user grants.
func TestScopeResolution(t *testing.T) {
	s, d := seeded(t, nil)
	ten := s.lookupTenant(d.TenantID)
	pub := s.lookupApp(ten, d.PublicClient.ClientID)
	tests := []struct {
		name      string
		grant     string
		scope     string
		wantCode  int
		wantAud   string
		wantPerms string
		wantOIDC  int
		consent   int // expected delegatedScopes error code (0 = ok)
	}{
		{"API scope + OIDC", "refresh_token", d.API.Scope + " openid offline_access profile", 0, d.API.ClientID, "access_as_user", 3, 0},
		{"API .default", "refresh_token", d.API.AppIDURI + "/.default openid", 0, d.API.ClientID, "", 1, 0},
		{"GUID .default", "refresh_token", d.API.ClientID + "/.default", 0, d.API.ClientID, "", 0, 0},
		{"Graph bare name, not consented", "refresh_token", "Mail.Read", 0, "https://graph.microsoft.com", "Mail.Read", 0, 65001},
		{"only OIDC", "authorization_code", "openid profile", 0, "https://graph.microsoft.com", "", 2, 0},
		{"two resources", "refresh_token", d.API.Scope + " User.Read", 28000, "", "", 0, 0},
		{"unknown scope", "device_code", d.API.AppIDURI + "/write", 70011, "", "", 0, 0},
		{".default mixed", "device_code", d.API.AppIDURI + "/.default " + d.API.Scope, 70011, "", "", 0, 0},
		{"empty at code", "authorization_code", "", 28003, "", "", 0, 0},
		{"empty", "device_code", "", 900144, "", "", 0, 0},
		{"unknown resource", "device_code", "api://nope/x", 500011, "", "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &tokenRequest{form: url.Values{}, tenant: ten, tenantPath: d.TenantID, grant: tt.grant}
			rs, e := s.resolveScopes(req, tt.scope)
			if tt.wantCode != 0 {
				if e == nil || e.code != tt.wantCode {
					t.Fatalf("got %v, want AADSTS%d", e, tt.wantCode)
				}
				return
			}
			if e != nil {
				t.Fatalf("unexpected %v: %s", e, e.description)
			}
			if rs.audience != tt.wantAud || strings.Join(rs.perms, " ") != tt.wantPerms || len(rs.oidc) != tt.wantOIDC {
				t.Errorf("aud %q perms %v oidc %v", rs.audience, rs.perms, rs.oidc)
			}
			if strings.Join(rs.requested, " ") != strings.Join(strings.Fields(tt.scope), " ") {
				t.Errorf("requested = %v", rs.requested)
			}
			scp, e := s.delegatedScopes(pub, rs)
			if tt.consent != 0 {
				if e == nil || e.code != tt.consent || e.suberror != "consent_required" || e.err != "invalid_grant" {
					t.Fatalf("delegatedScopes: got %v, want invalid_grant %d consent_required", e, tt.consent)
				}
				return
			}
			if e != nil {
				t.Fatalf("delegatedScopes: %v", e)
			}
			if rs.dflt && (len(scp) != 1 || scp[0] != "access_as_user") {
				t.Errorf(".default gave scp %v, want [access_as_user]", scp)
			}
		})
	}
}
