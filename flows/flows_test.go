package flows

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/golang-jwt/jwt/v5"

	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/internal/entrahttp"
)

type fixture struct {
	srv  *entratest.Server
	demo *entratest.Demo
	cfg  Config
}

func newFixture(t *testing.T, opts *entratest.Options) *fixture {
	t.Helper()
	srv := entratest.NewTestServer(t, opts)
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, demo: demo, cfg: Config{
		Authority:                srv.Authority(demo.TenantID),
		ClientID:                 demo.Daemon.ClientID,
		HTTPClient:               entrahttp.New(entrahttp.Options{Base: srv.Client()}),
		DisableInstanceDiscovery: true,
	}}
}

func (f *fixture) scopes() []string { return []string{f.demo.API.AppIDURI + "/.default"} }

// checkCalls runs AppToken n times and checks each call made exactly one
// client-credentials request (MSAL's cache is bypassed).
func checkCalls(t *testing.T, f *fixture, app *App, n int) Result {
	t.Helper()
	var last Result
	for i := 1; i <= n; i++ {
		before := time.Now()
		r, err := app.AppToken(context.Background(), f.scopes(), "")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got := f.srv.GrantCount("client_credentials"); got != i {
			t.Fatalf("after call %d: got %d token requests, want %d", i, got, i)
		}
		if r.AccessToken == "" || strings.Count(r.AccessToken, ".") != 2 {
			t.Errorf("got access token of %d bytes, want a JWT", len(r.AccessToken))
		}
		if d := r.ExpiresOn.Sub(before); d < 55*time.Minute || d > 61*time.Minute {
			t.Errorf("ExpiresOn in %v, want about 1h", d)
		}
		if r.AccessToken == last.AccessToken {
			t.Errorf("call %d returned the previous token", i)
		}
		last = r
	}
	return last
}

func TestSecret(t *testing.T) {
	f := newFixture(t, nil)
	app, err := NewSecret(f.cfg, f.demo.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := checkCalls(t, f, app, 3)
	if !r.RefreshOn.IsZero() {
		t.Errorf("RefreshOn = %v, want zero without refresh_in", r.RefreshOn)
	}
}

func TestRefreshOn(t *testing.T) {
	f := newFixture(t, &entratest.Options{TokenLifetime: 4 * time.Hour, RefreshIn: time.Hour})
	app, err := NewSecret(f.cfg, f.demo.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	r, err := app.AppToken(context.Background(), f.scopes(), "")
	if err != nil {
		t.Fatal(err)
	}
	if d := r.RefreshOn.Sub(before); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("RefreshOn in %v, want about 1h (refresh_in)", d)
	}
	if d := r.ExpiresOn.Sub(before); d < 239*time.Minute || d > 241*time.Minute {
		t.Errorf("ExpiresOn in %v, want about 4h", d)
	}
}

func TestSecretWrong(t *testing.T) {
	f := newFixture(t, nil)
	app, err := NewSecret(f.cfg, "not-the-secret")
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.AppToken(context.Background(), f.scopes(), "")
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp == nil || ce.Resp.StatusCode != 401 {
		t.Fatalf("got %v, want MSAL's CallErr with status 401", err)
	}
}

func TestClaimsSent(t *testing.T) {
	f := newFixture(t, nil)
	app, err := NewSecret(f.cfg, f.demo.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	const claims = `{"access_token":{"xms_cc":{"values":["CP1"]}}}`
	if _, err := app.AppToken(context.Background(), f.scopes(), claims); err != nil {
		t.Fatal(err)
	}
	var got string
	for _, r := range f.srv.Requests() {
		if r.Grant == "client_credentials" {
			got = r.Form.Get("claims")
		}
	}
	if got != claims {
		t.Errorf("got claims %q, want %q", got, claims)
	}
}

func TestCertificate(t *testing.T) {
	for _, x5c := range []bool{false, true} {
		name := "x5t"
		if x5c {
			name = "x5c"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			app, err := NewCertificate(f.cfg, []*x509.Certificate{f.demo.Daemon.Certificate}, f.demo.Daemon.Key, x5c)
			if err != nil {
				t.Fatal(err)
			}
			checkCalls(t, f, app, 2)
		})
	}
}

func TestCertificateWrongKey(t *testing.T) {
	f := newFixture(t, nil)
	other := newFixture(t, nil) // its daemon has another key pair
	if _, err := NewCertificate(f.cfg, []*x509.Certificate{f.demo.Daemon.Certificate}, other.demo.Daemon.Key, false); err == nil {
		t.Fatal("got nil error for a key that matches no certificate")
	}
	// A registered app, but a certificate Entra doesn't know: rejected by the server.
	app, err := NewCertificate(f.cfg, []*x509.Certificate{other.demo.Daemon.Certificate}, other.demo.Daemon.Key, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.AppToken(context.Background(), f.scopes(), "")
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp == nil || ce.Resp.StatusCode/100 != 4 {
		t.Fatalf("got %v, want a 4xx CallErr", err)
	}
}

// signAssertion builds a client assertion the way an HSM-backed signer
// would: only a crypto.Signer is used.
func signAssertion(signer crypto.Signer, cert *x509.Certificate, aud, clientID string) (string, error) {
	now := time.Now()
	thumb := sha256.Sum256(cert.Raw)
	tok := jwt.NewWithClaims(signerPS256{}, jwt.MapClaims{
		"aud": aud, "iss": clientID, "sub": clientID,
		"jti": base64.RawURLEncoding.EncodeToString(thumb[:8]) + now.Format("150405.000000000"),
		"nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	tok.Header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(thumb[:])
	return tok.SignedString(signer)
}

// signerPS256 is PS256 over any crypto.Signer (an HSM or Key Vault key in
// production): only Sign is called, never the private key.
type signerPS256 struct{}

func (signerPS256) Alg() string { return "PS256" }

func (signerPS256) Verify(string, []byte, any) error { return errors.New("signerPS256: sign only") }

func (signerPS256) Sign(signingString string, key any) ([]byte, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("signerPS256: key is not a crypto.Signer")
	}
	digest := sha256.Sum256([]byte(signingString))
	return signer.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
}

func TestAssertion(t *testing.T) {
	f := newFixture(t, nil)
	var mu sync.Mutex
	var endpoints, clientIDs []string
	app, err := NewAssertion(f.cfg, func(ctx context.Context, tokenEndpoint, clientID string) (string, error) {
		mu.Lock()
		endpoints, clientIDs = append(endpoints, tokenEndpoint), append(clientIDs, clientID)
		mu.Unlock()
		return signAssertion(f.demo.Daemon.Key, f.demo.Daemon.Certificate, tokenEndpoint, clientID)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, f, app, 2)
	wantEP := f.srv.Authority(f.demo.TenantID) + "/oauth2/v2.0/token"
	if len(endpoints) != 2 || endpoints[0] != wantEP || clientIDs[0] != f.demo.Daemon.ClientID {
		t.Errorf("callback got %v %v, want 2 calls with %q %q", endpoints, clientIDs, wantEP, f.demo.Daemon.ClientID)
	}
}

func TestAssertionCallbackError(t *testing.T) {
	f := newFixture(t, nil)
	boom := errors.New("hsm offline")
	app, err := NewAssertion(f.cfg, func(context.Context, string, string) (string, error) { return "", boom })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.AppToken(context.Background(), f.scopes(), ""); !errors.Is(err, boom) {
		t.Errorf("got %v, want the callback's error", err)
	}
	if got := f.srv.GrantCount("client_credentials"); got != 0 {
		t.Errorf("got %d token requests, want 0", got)
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFixture(t, nil)
	noHTTP := f.cfg
	noHTTP.HTTPClient = nil
	noID := f.cfg
	noID.ClientID = " "
	for name, fn := range map[string]func() error{
		"no http client": func() error { _, err := NewSecret(noHTTP, "s"); return err },
		"no client id":   func() error { _, err := NewSecret(noID, "s"); return err },
		"nil callback":   func() error { _, err := NewAssertion(f.cfg, nil); return err },
	} {
		if err := fn(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
	if _, err := NewSecret(f.cfg, ""); err == nil {
		t.Errorf("empty secret: got nil error")
	}
	bad := f.cfg
	bad.Authority = "http://insecure.example/tenant"
	if _, err := NewSecret(bad, "s"); err == nil {
		t.Errorf("http authority: got nil error")
	}
}

func TestContextCanceled(t *testing.T) {
	f := newFixture(t, nil)
	app, err := NewSecret(f.cfg, f.demo.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := app.AppToken(ctx, f.scopes(), ""); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	f := newFixture(t, nil)
	app, err := NewSecret(f.cfg, f.demo.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := app.AppToken(context.Background(), f.scopes(), ""); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// With MSAL's cache bypassed a call may still see a token another call
	// wrote a moment earlier (MSAL reads outside its accessor lock), so only
	// the upper bound is exact.
	if got := f.srv.GrantCount("client_credentials"); got < 1 || got > 8 {
		t.Errorf("got %d token requests, want 1..8", got)
	}
}
