package jwks_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/internal/jwks"
)

// appToken gets an app-only token for resource from the emulator.
func appToken(t *testing.T, srv *entratest.Server, tenant, clientID, secret, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {secret}, "scope": {scope}}
	resp, err := srv.Client().PostForm(srv.URL+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token request: status %d, %v %s", resp.StatusCode, err, body.Error)
	}
	return body.AccessToken
}

func TestEmulatorKeyRotation(t *testing.T) {
	clk := newFakeClock()
	srv := entratest.NewTestServer(t, nil)
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	// A v1 API in the same tenant.
	const v1API = "1b2c3d4e-0009-4000-8000-0000000000f1"
	if err := srv.AddApp(demo.TenantID, entratest.App{ClientID: v1API, AppIDURI: "api://" + v1API, AppRoles: []string{"R"}}); err != nil {
		t.Fatal(err)
	}
	s := jwks.New(srv.URL+"/"+demo.TenantID+"/v2.0/.well-known/openid-configuration",
		jwks.Options{HTTPClient: srv.Client(), Clock: clk.Now})
	token := func(scope string) string {
		return appToken(t, srv, demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret, scope)
	}
	ctx := context.Background()

	first := token(demo.API.AppIDURI + "/.default")
	v, err := s.Verify(ctx, first)
	if err != nil {
		t.Fatalf("v2 token: %v", err)
	}
	var c struct{ Aud, Ver string }
	if err := json.Unmarshal(v.Payload, &c); err != nil || c.Aud != demo.API.ClientID || c.Ver != "2.0" {
		t.Fatalf("payload aud %q ver %q (%v), want the API's v2 token", c.Aud, c.Ver, err)
	}
	if _, err := s.Verify(ctx, token("api://"+v1API+"/.default")); err != nil {
		t.Fatalf("v1 token with the tenant's v2 keys: %v", err)
	}
	// Microsoft Graph's tokens never verify (header nonce), as in Entra.
	if _, err := s.Verify(ctx, token("https://graph.microsoft.com/.default")); !errors.Is(err, jwks.ErrSignature) {
		t.Fatalf("Graph token: got %v, want ErrSignature", err)
	}

	// Rotation: a new key signs; its first token triggers one refetch.
	oldKid := v.KeyID
	newKid, err := srv.AddSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	second := token(demo.API.AppIDURI + "/.default")
	if v, err := s.Verify(ctx, second); err != nil || v.KeyID != newKid {
		t.Fatalf("token of the new key: %v (kid %v)", err, v)
	}
	// The old key is retired; the held set drops it at the next refresh.
	if err := srv.RetireSigningKey(oldKid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, first); err != nil {
		t.Fatalf("old token before the refresh: %v", err)
	}
	clk.Advance(jwks.DefaultRefreshInterval)
	_, _ = s.Verify(ctx, second) // starts the background refresh
	waitFor(t, "the retired key to leave the set", func() bool { return !s.HasKey(oldKid) })
	if _, err := s.Verify(ctx, first); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("token of the retired key: got %v, want ErrUnknownKey", err)
	}
	// Inside the window a second try fails at once, without a fetch.
	if _, err := s.Verify(ctx, first); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("token of the retired key again: got %v, want ErrUnknownKey", err)
	}
	if _, err := s.Verify(ctx, second); err != nil {
		t.Fatalf("token of the new key after the refresh: %v", err)
	}
	var keyFetches int
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "/discovery/") {
			keyFetches++
		}
	}
	if keyFetches != 4 {
		t.Errorf("%d key-set fetches, want 4 (first load, new kid, refresh, retired kid once)", keyFetches)
	}
}
