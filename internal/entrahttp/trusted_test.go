package entrahttp

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeAuthority serves OIDC metadata for any tenant and answers token
// requests like a fakeServer. Its metadata may put token_endpoint on
// another server.
type fakeAuthority struct {
	*fakeServer
	elsewhere *fakeServer // where token_endpoint points, nil for here
}

func newFakeAuthority(t *testing.T, elsewhere *fakeServer, answers ...answer) *fakeAuthority {
	t.Helper()
	a := &fakeAuthority{fakeServer: &fakeServer{answers: answers}, elsewhere: elsewhere}
	a.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			a.metadata(w, r)
			return
		}
		a.serve(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *fakeAuthority) metadata(w http.ResponseWriter, r *http.Request) {
	tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	tokenBase := a.URL
	if a.elsewhere != nil {
		tokenBase = a.elsewhere.URL
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"token_endpoint":         tokenBase + "/" + tenant + "/oauth2/v2.0/token",
		"authorization_endpoint": a.URL + "/" + tenant + "/oauth2/v2.0/authorize",
		"issuer":                 a.URL + "/" + tenant + "/v2.0",
	})
}

func (a *fakeAuthority) tenantURL() string { return a.URL + "/72f988bf-86f1-41af-91ab-2d7cd011db47" }

// plainClient trusts the authority and the server its metadata names.
func (a *fakeAuthority) plainClient() *http.Client {
	if a.elsewhere != nil {
		return trustingClient(a.fakeServer, a.elsewhere)
	}
	return trustingClient(a.fakeServer)
}

// The token endpoint cannot move off the authority (defect 22): metadata
// naming another host gets nothing sent there, through MSAL Go.
func TestTrustedHostsThroughMSAL(t *testing.T) {
	thief := newFakeServer(t)
	auth := newFakeAuthority(t, thief)
	var logs syncBuffer
	c := New(Options{Base: auth.plainClient(), TrustedHosts: []string{auth.host()},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, err := appToken(t, auth.tenantURL(), c)
	var re *ResponseError
	if !errors.As(err, &re) || re.Kind != KindUntrustedHost {
		t.Fatalf("got %v, want KindUntrustedHost", err)
	}
	if got := thief.hits.Load(); got != 0 {
		t.Errorf("the other host saw %d requests, want 0", got)
	}
	if !strings.Contains(logs.String(), "host not trusted") || strings.Contains(logs.String(), "the-secret-value") {
		t.Errorf("logs: %s", logs.String())
	}
	// Without TrustedHosts the same metadata sends the secret away (MSAL
	// follows it), which is what the option prevents.
	if _, err := appToken(t, auth.tenantURL(), New(Options{Base: auth.plainClient()})); err != nil {
		t.Fatalf("untrusted setup: %v", err)
	}
	if got := thief.hits.Load(); got != 1 {
		t.Errorf("without TrustedHosts the other host saw %d requests, want 1", got)
	}
	// With the authority trusted, a normal authority works.
	good := newFakeAuthority(t, nil)
	c = New(Options{Base: good.plainClient(), TrustedHosts: []string{"other.example", strings.ToUpper(good.host())}})
	if _, err := appToken(t, good.tenantURL(), c); err != nil {
		t.Fatalf("trusted authority: %v", err)
	}
}

func TestTrustedHosts(t *testing.T) {
	srv := newFakeServer(t)
	tests := []struct {
		name    string
		trusted []string
		url     string
		sent    bool
	}{
		{"none configured", nil, srv.URL + "/t/oauth2/v2.0/token", true},
		{"exact", []string{srv.host()}, srv.URL + "/t/oauth2/v2.0/token", true},
		{"upper case entry", []string{strings.ToUpper("LOCALHOST:1"), strings.ToUpper(srv.host())}, srv.URL + "/t/token", true},
		{"other host", []string{"login.microsoftonline.com"}, srv.URL + "/t/oauth2/v2.0/token", false},
		{"host without port", []string{"127.0.0.1"}, srv.URL + "/t/oauth2/v2.0/token", false},
		{"plain http", []string{srv.host()}, strings.Replace(srv.URL, "https:", "http:", 1) + "/t/token", false},
		{"userinfo trick", []string{"127.0.0.1"}, "https://127.0.0.1@" + srv.host() + "/t/token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.hits.Load()
			c, _ := newFakeClient(Options{TrustedHosts: tt.trusted}, srv)
			_, err := postToken(context.Background(), c, tt.url+"?q=secret", "s3cret")
			sent := srv.hits.Load() > before
			if sent != tt.sent {
				t.Fatalf("sent = %v (err %v), want %v", sent, err, tt.sent)
			}
			if !tt.sent {
				var re *ResponseError
				if !errors.As(err, &re) || re.Kind != KindUntrustedHost {
					t.Fatalf("got %v, want KindUntrustedHost", err)
				}
				if strings.Contains(err.Error(), "q=secret") || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q shows the query or body", err)
				}
			}
		})
	}
}

func TestNormHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"login.microsoftonline.com", "login.microsoftonline.com"},
		{"LOGIN.MicrosoftOnline.com:443", "login.microsoftonline.com"},
		{"login.microsoftonline.com:8443", "login.microsoftonline.com:8443"},
		{"[::1]:443", "[::1]"},
		{"[::1]:8443", "[::1]:8443"},
		{" host ", "host"},
		{"host:", "host:"},
	}
	for _, tt := range tests {
		if got := normHost(tt.in); got != tt.want {
			t.Errorf("normHost(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
