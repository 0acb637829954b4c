package entra

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// api is a protected API for transport tests: it records what it saw and
// can answer with a claims challenge.
type api struct {
	srv       *httptest.Server
	mu        sync.Mutex
	auths     []string // Authorization of each request
	bodies    []string
	challenge int // answer this many requests with a claims challenge
}

const challengeClaims = `{"access_token":{"nbf":{"essential":true,"value":"1604106651"}}}`

func newAPI(t *testing.T) *api {
	a := &api{}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.auths = append(a.auths, r.Header.Get("Authorization"))
		a.bodies = append(a.bodies, string(body))
		challenge := a.challenge > 0
		if challenge {
			a.challenge--
		}
		a.mu.Unlock()
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			return
		}
		if challenge {
			w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="`+
				base64.StdEncoding.EncodeToString([]byte(challengeClaims))+`"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *api) seen() (auths, bodies []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auths...), append([]string(nil), a.bodies...)
}

func (a *api) host() string { u, _ := url.Parse(a.srv.URL); return u.Host }

// clientSetup returns a credential whose HTTP client trusts the emulator and
// the given API servers, with AllowedHosts = the first API's host.
func clientSetup(t *testing.T, m *emu, apis ...*api) *Credential {
	t.Helper()
	pool := m.s.CertPool()
	for _, a := range apis {
		pool.AddCert(a.srv.Certificate())
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return m.secretCred(t, func(o *Options) { o.HTTPClient = hc; o.AllowedHosts = []string{apis[0].host()} })
}

func TestClientAttachesTokenOnlyToAllowedHost(t *testing.T) {
	m := newEmu(t)
	good, other := newAPI(t), newAPI(t)
	cred := clientSetup(t, m, good, other)
	client := cred.Client(t.Context(), m.apiScope())

	req, _ := http.NewRequest("GET", good.srv.URL+"/data", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get("Authorization") != "" {
		t.Error("the caller's request was modified")
	}
	// Another host, directly and through a redirect: no token.
	for _, u := range []string{other.srv.URL + "/direct", good.srv.URL + "/redirect?to=" + url.QueryEscape(other.srv.URL+"/redirected")} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	auths, _ := good.seen()
	if len(auths) != 2 || !strings.HasPrefix(auths[0], "Bearer ") || !strings.HasPrefix(auths[1], "Bearer ") {
		t.Errorf("allowed host: got %q, want two Bearer headers", auths)
	}
	otherAuths, _ := other.seen()
	if len(otherAuths) != 2 || otherAuths[0] != "" || otherAuths[1] != "" {
		t.Errorf("other host: got %q, want two requests without Authorization", otherAuths)
	}
}

func TestClientClaimsChallenge(t *testing.T) {
	m := newEmu(t)
	a := newAPI(t)
	cred := clientSetup(t, m, a)
	client := cred.Client(t.Context(), m.apiScope())
	if _, err := cred.Token(t.Context(), m.apiScope()); err != nil {
		t.Fatal(err)
	}
	before := m.s.GrantCount("client_credentials")

	a.challenge = 1
	resp, err := client.Post(a.srv.URL+"/write", "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200 after the retry", resp.StatusCode)
	}
	auths, bodies := a.seen()
	if len(auths) != 2 || auths[0] == auths[1] {
		t.Fatalf("requests: got %d (same token: %v), want 2 with a new token", len(auths), len(auths) == 2 && auths[0] == auths[1])
	}
	if bodies[1] != "payload" {
		t.Errorf("replayed body: got %q, want payload", bodies[1])
	}
	if got := m.s.GrantCount("client_credentials"); got != before+1 {
		t.Errorf("token requests: got %d, want %d (one with claims)", got, before+1)
	}
	var claimsSent bool
	for _, r := range m.s.Requests() {
		if r.Form.Get("claims") != "" {
			claimsSent = strings.Contains(r.Form.Get("claims"), `"nbf"`)
		}
	}
	if !claimsSent {
		t.Error("the claims request did not reach the token endpoint")
	}

	// A resource that keeps challenging the token that already carries
	// its claims: no new token, no retry, the 401 goes to the caller.
	a.challenge = 100
	resp, err = client.Get(a.srv.URL + "/again")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if auths, _ := a.seen(); resp.StatusCode != http.StatusUnauthorized || len(auths) != 3 {
		t.Errorf("got status %d after %d requests, want 401 after 3", resp.StatusCode, len(auths))
	}

	// A body that cannot be replayed: no retry.
	a.challenge = 1
	req, _ := http.NewRequest("POST", a.srv.URL+"/once", io.NopCloser(bytes.NewReader([]byte("x"))))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if auths, _ := a.seen(); resp.StatusCode != http.StatusUnauthorized || len(auths) != 4 {
		t.Errorf("unreplayable body: got status %d after %d requests, want 401 after 4", resp.StatusCode, len(auths))
	}
}

func TestClientConfigErrors(t *testing.T) {
	m := newEmu(t)
	a := newAPI(t)
	noHosts := m.secretCred(t, nil)
	for name, client := range map[string]*http.Client{
		"api:// scope without AllowedHosts": noHosts.Client(t.Context(), m.apiScope()),
		"invalid scopes":                    clientSetup(t, m, a).Client(t.Context(), "User.Read", m.apiScope()),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.Get(a.srv.URL)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
		})
	}
	if auths, _ := a.seen(); len(auths) != 0 {
		t.Errorf("requests sent: got %d, want 0", len(auths))
	}
}

func TestHostAllowed(t *testing.T) {
	allowed := []string{"api.example.com", "LOCAL.test:8443", "[::1]:9000"}
	tests := []struct {
		url  string
		want bool
	}{
		{"https://api.example.com/x", true},
		{"https://API.example.com:443/x", true},
		{"http://api.example.com/x", false},
		{"https://api.example.com.evil.com/x", false},
		{"https://evil.com/api.example.com", false},
		{"https://local.test:8443/", true},
		{"https://local.test/", false},
		{"https://[::1]:9000/", true},
		{"https://user@api.example.com/", false},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.url)
		if got := hostAllowed(u, allowed); got != tt.want {
			t.Errorf("hostAllowed(%s): got %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestClaimsChallenge(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString([]byte(challengeClaims))
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{"standard", []string{`Bearer realm="", error="insufficient_claims", claims="` + enc + `"`}, challengeClaims},
		{"second header", []string{`Basic realm="x"`, `Bearer error="insufficient_claims", claims="` + enc + `"`}, challengeClaims},
		{"other error", []string{`Bearer error="invalid_token", claims="` + enc + `"`}, ""},
		{"not JSON", []string{`Bearer error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte("nope")) + `"`}, ""},
		{"bad base64", []string{`Bearer error="insufficient_claims", claims="!!!"`}, ""},
		{"unterminated", []string{`Bearer error="insufficient_claims", claims="` + enc}, ""},
		{"no claims", []string{`Bearer error="insufficient_claims"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := claimsChallenge(tt.header)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("got %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestClientResourceHosts(t *testing.T) {
	cred, err := NewClientSecretCredential("contoso.example", "client", "secret", &Options{AllowedHosts: []string{"api.contoso.example"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ scope, want string }{
		{"https://graph.microsoft.com/.default", "graph.microsoft.com"},
		{"00000003-0000-0000-c000-000000000000/.default", "graph.microsoft.com"},
		{Public.ARMScope(), "management.azure.com"},
		{"https://management.azure.com//.default", "management.azure.com"},
		{"https://vault.azure.net/.default", "vault.azure.net"},
		{"api://contoso-api/.default", "api.contoso.example"},
	}
	for _, tt := range tests {
		tr := cred.Client(t.Context(), tt.scope).Transport.(*Transport)
		if tr.err != nil || len(tr.AllowedHosts) != 1 || tr.AllowedHosts[0] != tt.want {
			t.Errorf("%s: got %q (err %v), want [%s]", tt.scope, tr.AllowedHosts, tr.err, tt.want)
		}
	}
}

func TestGraphRequests(t *testing.T) {
	cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret", &Options{Cloud: China})
	if err != nil {
		t.Fatal(err)
	}
	g := cred.Graph(t.Context())
	if got, want := g.Scope(), China.GraphScope(); got != want {
		t.Errorf("scope: got %q, want %q", got, want)
	}
	req, err := g.NewRequest(t.Context(), "GET", "/v1.0/users?$top=5", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.URL.String(), China.GraphURL()+"/v1.0/users?$top=5"; got != want {
		t.Errorf("URL: got %q, want %q", got, want)
	}
	for _, bad := range []string{"https://graph.microsoft.com/v1.0/me", "//graph.microsoft.com/v1.0/me", "/v1.0/../../x", "\\\\evil/x", "http:/x", "/v1.0/me#frag"} {
		if _, err := g.NewRequest(t.Context(), "GET", bad, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("NewRequest(%q): got %v, want ErrConfig", bad, err)
		}
	}
	custom, err := NewCloud(CloudConfig{Name: "stack", AuthorityHost: "https://login.stack.example"})
	if err != nil {
		t.Fatal(err)
	}
	noGraph, err := NewClientSecretCredential("contoso.example", "client", "secret", &Options{Cloud: custom})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noGraph.Graph(t.Context()).NewRequest(t.Context(), "GET", "/v1.0/me", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("cloud without Graph: got %v, want ErrConfig", err)
	}
	// The Graph client's transport sends China's Graph token to China's Graph only.
	tr := g.HTTPClient().Transport.(*Transport)
	if len(tr.AllowedHosts) != 1 || tr.AllowedHosts[0] != "microsoftgraph.chinacloudapi.cn" {
		t.Errorf("allowed hosts: got %q", tr.AllowedHosts)
	}
}
