package entra

import (
	"errors"
	"slices"
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
