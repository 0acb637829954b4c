package entra

import (
	"errors"
	"strings"
	"testing"
)

// wantConfigError checks err is an *Error with Op "config" wrapping
// ErrConfig, whose Hint is set and contains each of hints.
func wantConfigError(t *testing.T, err error, hints ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Op != "config" || !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want an *Error with Op config wrapping ErrConfig", err)
	}
	if e.Hint == "" {
		t.Errorf("error %q has no Hint", err)
	}
	for _, h := range hints {
		if !strings.Contains(e.Hint, h) {
			t.Errorf("hint %q: want it to contain %q", e.Hint, h)
		}
	}
}

func TestAuthorityHostSpellings(t *testing.T) {
	tests := []struct {
		name, host string
		hint       string
	}{
		{"trailing dot", "https://login.microsoftonline.com.", `"https://login.microsoftonline.com"`},
		{"trailing dot and slash", "https://login.microsoftonline.com./", `"https://login.microsoftonline.com"`},
		{"empty port", "https://login.example.com:", "port"},
		{"port zero", "https://login.example.com:0", "port"},
		{"port too large", "https://login.example.com:99999", "port"},
		{"path", "https://login.example.com/tenant", `"https://login.example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Public.WithAuthorityHost(tt.host)
			wantConfigError(t, err, tt.hint)
			_, err = NewCloud(CloudConfig{AuthorityHost: tt.host})
			wantConfigError(t, err, tt.hint)
			_, err = NewCloud(CloudConfig{AuthorityHost: "https://login.example.com", GraphURL: tt.host})
			wantConfigError(t, err, tt.hint)
			// A Cloud value that bypassed NewCloud (here, a test edit of a
			// preset) is still checked by the constructors.
			c := Public
			c.authorityHost = tt.host
			cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret", &Options{Cloud: c})
			if cred != nil {
				t.Fatalf("credential made with authority host %q", tt.host)
			}
			wantConfigError(t, err, tt.hint)
		})
	}
	for _, good := range []string{"https://login.example.com", "https://LOGIN.example.com/", "https://127.0.0.1:8443", "https://[::1]:8443"} {
		if _, err := Public.WithAuthorityHost(good); err != nil {
			t.Errorf("WithAuthorityHost(%q): %v", good, err)
		}
	}
}

func TestTenantADFSRejected(t *testing.T) {
	for _, tenant := range []string{"adfs", "ADFS"} {
		cred, err := NewClientSecretCredential(tenant, "client", "secret", nil)
		if cred != nil {
			t.Fatalf("tenant %q: credential made", tenant)
		}
		wantConfigError(t, err, "Entra directory (tenant) ID")
	}
}

func TestAllowedHostsValidated(t *testing.T) {
	tests := []struct {
		name, entry string
		hint        string // the suggestion, or the general form
	}{
		{"URL", "https://api.example.com", `write "api.example.com"`},
		{"URL with port and path", "https://api.example.com:8443/v1", `write "api.example.com:8443"`},
		{"URL with default port", "https://api.example.com:443/", `write "api.example.com"`},
		{"path", "api.example.com/orders", `write "api.example.com"`},
		{"empty", "", `"api.example.com:8443"`},
		{"blank", "  ", `"api.example.com:8443"`},
		{"inner space", "api example.com", `"api.example.com:8443"`},
		{"leading space", " api.example.com", `write "api.example.com"`},
		{"newline", "api.example.com\n", `write "api.example.com"`},
		{"empty port", "api.example.com:", `write "api.example.com"`},
		{"bad port", "api.example.com:https", `"api.example.com:8443"`},
		{"port zero", "api.example.com:0", `"api.example.com:8443"`},
		{"port too large", "api.example.com:65536", `"api.example.com:8443"`},
		{"trailing dot", "api.example.com.", `write "api.example.com"`},
		{"user info", "user@api.example.com", `write "api.example.com"`},
		{"IPv6 without brackets", "::1", `"api.example.com:8443"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret",
				&Options{AllowedHosts: []string{"ok.example.com", tt.entry}})
			if cred != nil {
				t.Fatalf("credential made with AllowedHosts entry %q", tt.entry)
			}
			wantConfigError(t, err, tt.hint)
			var e *Error
			errors.As(err, &e)
			if !strings.Contains(e.Description, "AllowedHosts[1]") {
				t.Errorf("description %q does not name the entry", e.Description)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
	good := []string{"api.example.com", "API.Example.com", "api.example.com:8443", "127.0.0.1", "127.0.0.1:8443", "[::1]", "[::1]:8443", "localhost"}
	if _, err := NewClientSecretCredential("contoso.onmicrosoft.com", "client", "secret", &Options{AllowedHosts: good}); err != nil {
		t.Errorf("AllowedHosts %q: %v", good, err)
	}
}

func TestConfigErrorsCarryHints(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
	}{
		{"empty tenant", func() error { _, err := NewClientSecretCredential("", "c", "s", nil); return err }},
		{"tenant with a path", func() error { _, err := NewClientSecretCredential("t/../x", "c", "s", nil); return err }},
		{"tenant dot-dot", func() error { _, err := NewClientSecretCredential("a..b", "c", "s", nil); return err }},
		{"common tenant", func() error { _, err := NewClientSecretCredential("common", "c", "s", nil); return err }},
		{"empty client", func() error { _, err := NewClientSecretCredential("t", " ", "s", nil); return err }},
		{"unknown cloud", func() error { _, err := CloudByName("mars"); return err }},
		{"no authority", func() error { _, err := NewCloud(CloudConfig{}); return err }},
		{"http authority", func() error { _, err := Public.WithAuthorityHost("http://h.example"); return err }},
		{"user info", func() error { _, err := Public.WithAuthorityHost("https://u:hunter2@h.example"); return err }},
		{"query", func() error { _, err := Public.WithAuthorityHost("https://h.example?x=1"); return err }},
		{"fragment", func() error { _, err := Public.WithAuthorityHost("https://h.example#f"); return err }},
		{"bad audience", func() error {
			_, err := NewCloud(CloudConfig{AuthorityHost: "https://h.example", ARMAudience: "not a uri"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			wantConfigError(t, err)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks user info", err)
			}
		})
	}
}
