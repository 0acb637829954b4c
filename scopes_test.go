package entra

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func TestNormalizeScopes(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{[]string{" api://x/.default "}, []string{"api://x/.default"}},
		{[]string{"b", "A", "a", " B ", ""}, []string{"A", "b"}},
		{[]string{"  ", "\t"}, []string{}},
		{nil, []string{}},
	}
	for _, tt := range tests {
		if got := normalizeScopes(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("normalizeScopes(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScopeResource(t *testing.T) {
	tests := []struct{ scope, want string }{
		{"api://x/.default", "api://x"},
		{"User.Read", "https://graph.microsoft.com"},
		{"https://graph.microsoft.com/User.Read", "https://graph.microsoft.com"},
		{"https://management.azure.com//.default", "https://management.azure.com/"},
		{"00000000-0000-0000-0000-000000000001/.default", "00000000-0000-0000-0000-000000000001"},
		{"00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000001"},
		{"api://x", "api://x"},
		{"https://graph.microsoft.com", "https://graph.microsoft.com"},
		{"https://graph.microsoft.com/", "https://graph.microsoft.com"},
	}
	for _, tt := range tests {
		if got := scopeResource(tt.scope, Public); got != tt.want {
			t.Errorf("scopeResource(%q): got %q, want %q", tt.scope, got, tt.want)
		}
	}
}

func TestAppScopes(t *testing.T) {
	tests := []struct {
		name    string
		cloud   Cloud
		in      []string
		wantKey string
		wantErr error
		code    int
	}{
		{"default scope", Public, []string{"api://x/.default"}, "api://x/.default", nil, 0},
		{"trimmed and deduplicated", Public, []string{" api://x/.default", "API://X/.default"}, "api://x/.default", nil, 0},
		{"key folds scheme and host", Public, []string{"API://MyApp/.default"}, "api://myapp/.default", nil, 0},
		{"bare API URI", Public, []string{"api://x"}, "", ErrNeedDefaultScope, 1002012},
		{"bare URI and its default are one resource", Public, []string{"api://x", "api://x/.default"}, "", ErrNeedDefaultScope, 1002012},
		{"space inside", Public, []string{"api://x/.default https://graph.microsoft.com/.default"}, "", ErrInvalidScope, 0},
		{"OIDC scopes dropped", Public, []string{"openid", "https://graph.microsoft.com/.default", "offline_access"}, "https://graph.microsoft.com/.default", nil, 0},
		{"graph app ID", Public, []string{"00000003-0000-0000-c000-000000000000/.default"}, "00000003-0000-0000-c000-000000000000/.default", nil, 0},
		{"china graph on china", China, []string{China.GraphScope()}, China.GraphScope(), nil, 0},
		{"empty", Public, nil, "", ErrNoScopes, 0},
		{"blank", Public, []string{" ", ""}, "", ErrNoScopes, 0},
		{"graph + custom API", Public, []string{"User.Read", "api://x/.default"}, "", ErrMultipleResources, 28000},
		{"two APIs", Public, []string{"api://x/.default", "api://y/.default"}, "", ErrMultipleResources, 28000},
		{"bare permission", Public, []string{"User.Read"}, "", ErrNeedDefaultScope, 1002012},
		{"specific API permission", Public, []string{"api://x/access_as_user"}, "", ErrNeedDefaultScope, 1002012},
		{"default plus permission", Public, []string{"https://graph.microsoft.com/.default", "Mail.Read"}, "", ErrNeedDefaultScope, 1002012},
		{"only OIDC", Public, []string{"openid", "profile"}, "", ErrNeedDefaultScope, 1002012},
		{"no resource", Public, []string{"/.default"}, "", ErrNeedDefaultScope, 1002012},
		{"public graph on china", China, []string{"https://graph.microsoft.com/.default"}, "", ErrWrongCloud, 0},
		{"german graph on public", Public, []string{"https://graph.microsoft.de/.default"}, "", ErrWrongCloud, 0},
		{"china graph on usgov", USGovernment, []string{China.GraphScope()}, "", ErrWrongCloud, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := appScopes(tt.cloud, tt.in)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				if set.key != tt.wantKey {
					t.Errorf("key: got %q, want %q", set.key, tt.wantKey)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			var e *Error
			if !errors.As(err, &e) || e.Op != "scope" {
				t.Fatalf("got %#v, want *Error with Op scope", err)
			}
			if tt.code != 0 && !e.HasCode(tt.code) {
				t.Errorf("AADSTS: got %v, want %d", e.AADSTS, tt.code)
			}
			if e.Hint == "" {
				t.Errorf("no hint in %v", err)
			}
		})
	}
}

func TestTokenSourceInvalidScopes(t *testing.T) {
	cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := cred.TokenSource(t.Context(), "User.Read", "api://x/.default")
	tok, err := ts.Token()
	if tok != nil || !errors.Is(err, ErrMultipleResources) {
		t.Errorf("got %v, %v; want nil, ErrMultipleResources", tok, err)
	}
	if _, err := cred.Token(t.Context()); !errors.Is(err, ErrNoScopes) {
		t.Errorf("Token without scopes: got %v, want ErrNoScopes", err)
	}
}

// scopeCountingRT counts the requests that reach the network and fails
// them: scope rules must refuse bad input before any request.
type scopeCountingRT struct{ n atomic.Int64 }

func (c *scopeCountingRT) RoundTrip(*http.Request) (*http.Response, error) {
	c.n.Add(1)
	return nil, errors.New("scopeCountingRT: no network in this test")
}

func TestScopeWithWhitespaceRejectedBeforeAnyRequest(t *testing.T) {
	tests := []struct{ name, scope string }{
		{"two scopes in one string", "api://x/.default https://graph.microsoft.com/.default"},
		{"two scopes of one resource", "api://x/.default api://x/other"},
		{"tab", "api://x/.default\thttps://graph.microsoft.com/.default"},
		{"newline", "https://graph.microsoft.com/.default\napi://x/.default"},
		{"NUL", "api://x\x00/.default"},
		{"non-breaking space", "api://x/.default\u00a0https://graph.microsoft.com/.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &scopeCountingRT{}
			cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret",
				&Options{HTTPClient: &http.Client{Transport: rt}, AllowedHosts: []string{"api.example.com"}})
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error) {
				t.Helper()
				var e *Error
				if !errors.As(err, &e) || e.Op != "scope" || !errors.Is(err, ErrInvalidScope) {
					t.Fatalf("%s: got %v, want an *Error with Op scope wrapping ErrInvalidScope", what, err)
				}
				if !strings.Contains(e.Hint, "separate argument") {
					t.Errorf("%s: hint %q does not say to pass scopes as separate arguments", what, e.Hint)
				}
				if strings.ContainsAny(err.Error(), "\n\t\x00") {
					t.Errorf("%s: error %q is not one clean line", what, err)
				}
			}
			_, err = cred.Token(t.Context(), tt.scope)
			check("Token", err)
			_, err = cred.TokenSource(t.Context(), tt.scope).Token()
			check("TokenSource", err)
			_, err = cred.Client(t.Context(), tt.scope).Get("https://graph.microsoft.com/v1.0/users")
			check("Client", err)
			if got := rt.n.Load(); got != 0 {
				t.Errorf("requests sent: got %d, want 0", got)
			}
		})
	}
}

func TestScopeFixItSuggestions(t *testing.T) {
	const guid = "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b"
	tests := []struct {
		name    string
		cloud   Cloud
		scope   string
		want    string
		notWant string
	}{
		{"api URI without .default", Public, "api://x", `"api://x/.default"`, "api://.default"},
		{"graph URL without .default", Public, "https://graph.microsoft.com", `"https://graph.microsoft.com/.default"`, "https://.default"},
		{"graph URL with a slash", Public, "https://graph.microsoft.com/", `"https://graph.microsoft.com/.default"`, "https://.default"},
		{"custom https API", Public, "https://api.contoso.com", `"https://api.contoso.com/.default"`, "https://.default"},
		{"bare client ID", Public, guid, `"` + guid + `/.default"`, "graph"},
		{"API permission", Public, "api://x/access_as_user", `"api://x/.default"`, ""},
		{"graph permission", Public, "User.Read", `"https://graph.microsoft.com/.default"`, ""},
		{"graph permission, china", China, "User.Read", `"https://microsoftgraph.chinacloudapi.cn/.default"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &scopeCountingRT{}
			cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret",
				&Options{Cloud: tt.cloud, HTTPClient: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = cred.Token(t.Context(), tt.scope)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrNeedDefaultScope) {
				t.Fatalf("got %v, want an *Error wrapping ErrNeedDefaultScope", err)
			}
			if !strings.Contains(e.Description, tt.want) || !strings.Contains(e.Hint, tt.want) {
				t.Errorf("got description %q, hint %q; want both to suggest %s", e.Description, e.Hint, tt.want)
			}
			if tt.notWant != "" && strings.Contains(strings.ToLower(e.Description+e.Hint), strings.ToLower(tt.notWant)) {
				t.Errorf("got %q, want no %q", err, tt.notWant)
			}
			if got := rt.n.Load(); got != 0 {
				t.Errorf("requests sent: got %d, want 0", got)
			}
		})
	}
}

func TestScopeKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"API://MyApp/.default", "api://myapp/.default"},
		{"api://myapp/.default", "api://myapp/.default"},
		{"HTTPS://Graph.Microsoft.COM/.default", "https://graph.microsoft.com/.default"},
		{"https://api.contoso.com/Orders/.default", "https://api.contoso.com/Orders/.default"},
		{"6F1E7B5A-1C2D-4E3F-9A8B-0C1D2E3F4A5B/.default", "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b/.default"},
		{"Custom.Scope/.default", "Custom.Scope/.default"},
		{"User.Read", "User.Read"},
	}
	for _, tt := range tests {
		if got := scopeKey(tt.in); got != tt.want {
			t.Errorf("scopeKey(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = scopeKey("api://myapp/.default") }); n != 0 {
		t.Errorf("scopeKey of a key: got %v allocs, want 0", n)
	}
}

func TestScopesDifferingInCaseShareOneEntry(t *testing.T) {
	m := newEmu(t)
	cred := m.secretCred(t, nil)
	scope := m.apiScope() // api://<guid>/.default
	upper := "API://" + strings.ToUpper(strings.TrimPrefix(m.demo.API.AppIDURI, "api://")) + "/.default"
	first, err := cred.Token(t.Context(), scope)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{upper, scope, "Api://" + strings.TrimPrefix(scope, "api://")} {
		tok, err := cred.Token(t.Context(), s)
		if err != nil {
			t.Fatalf("Token(%q): %v", s, err)
		}
		if tok.AccessToken != first.AccessToken {
			t.Errorf("Token(%q): got another token, want the cached one", s)
		}
	}
	if got := m.s.GrantCount("client_credentials"); got != 1 {
		t.Errorf("token requests: got %d, want 1", got)
	}
}
