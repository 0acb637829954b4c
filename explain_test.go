package entra

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/entrakit/entra/entratest"
)

// TestExplainARefusedToken: an API refuses an app-only token without
// roles (admin consent missing); the response through entra's Client
// says why, and a Debug line says it without the token.
func TestExplainARefusedToken(t *testing.T) {
	t.Parallel()
	m := newEmu(t)
	app := entratest.App{
		ClientID: "1b2c3d4e-0009-4000-8000-00000000d011", DisplayName: "daemon-without-consent",
		Secrets: []entratest.Secret{{Value: "no-consent-secret-value-2"}},
		Grants:  []entratest.Grant{{Resource: m.demo.API.ClientID, AppRoles: []string{m.demo.API.Role}, AdminConsent: false}},
	}
	if err := m.s.AddApp(m.demo.TenantID, app); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusForbidden
		if r.URL.Path == "/ok" {
			status = http.StatusOK
		}
		w.WriteHeader(status)
	}))
	defer api.Close()
	u, _ := url.Parse(api.URL)
	var logs syncBuffer
	o := m.opts
	o.HTTPClient = mergedClient(m.s, api)
	o.AllowedHosts = []string{u.Host}
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cred, err := NewClientSecretCredential(m.demo.TenantID, app.ClientID, app.Secrets[0].Value, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	client := cred.Client(t.Context(), m.apiScope())
	resp, err := client.Get(api.URL + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f := Explain(resp)
	if len(f) == 0 || f[0].Code != CodeAppOnlyNoRoles {
		t.Fatalf("Explain: %v, want %s", f, CodeAppOnlyNoRoles)
	}
	tok, _ := cred.Token(t.Context(), m.apiScope())
	if !strings.Contains(logs.String(), string(CodeAppOnlyNoRoles)) || strings.Contains(logs.String(), tok.AccessToken[:30]) {
		t.Errorf("debug log: want the finding, never the token: %s", logs.String())
	}
	ok, err := client.Get(api.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	ok.Body.Close()
	if Explain(ok) != nil || Explain(nil) != nil {
		t.Error("findings on a 200 answer")
	}
}

// mergedClient trusts the emulator and the test server api.
func mergedClient(s *entratest.Server, api *httptest.Server) *http.Client {
	tr := s.Client().Transport.(*http.Transport).Clone()
	pool := tr.TLSClientConfig.RootCAs.Clone()
	pool.AddCert(api.Certificate())
	tr.TLSClientConfig.RootCAs = pool
	return &http.Client{Transport: tr}
}
