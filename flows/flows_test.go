package flows

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

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

// opaqueSigner hides the *rsa.PrivateKey behind crypto.Signer, as an HSM or
// Key Vault key does: only Public and Sign can be called.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }

func (o opaqueSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, digest, opts)
}

func TestCertificate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		signer bool // an opaque crypto.Signer instead of the *rsa.PrivateKey
		x5c    bool
	}{{"rsa/x5t", false, false}, {"rsa/x5c", false, true}, {"signer/x5t", true, false}, {"signer/x5c", true, true}} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			var key crypto.PrivateKey = f.demo.Daemon.Key
			if tt.signer {
				key = opaqueSigner{f.demo.Daemon.Key}
			}
			app, err := NewCertificate(f.cfg, []*x509.Certificate{f.demo.Daemon.Certificate}, key, tt.x5c)
			if err != nil {
				t.Fatal(err)
			}
			checkCalls(t, f, app, 2)
		})
	}
}

// The signer path builds the assertion MSAL builds: same header fields and
// encodings, PS256 over the signing string, a 10-minute validity.
func TestSignerAssertionShape(t *testing.T) {
	f := newFixture(t, nil)
	cert := f.demo.Daemon.Certificate
	a, err := newSignerAssertion([]*x509.Certificate{cert}, opaqueSigner{f.demo.Daemon.Key}, true)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := a.sign("https://login.example/t/oauth2/v2.0/token", "cid")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d parts, want 3", len(parts))
	}
	var hdr map[string]any
	var claims map[string]any
	for i, dst := range []any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(cert.Raw)
	if hdr["alg"] != "PS256" || hdr["typ"] != "JWT" || hdr["x5t#S256"] != base64.StdEncoding.EncodeToString(sum[:]) || len(hdr) != 4 {
		t.Errorf("header %v, want alg PS256, typ JWT, x5t#S256 (std base64), x5c", hdr)
	}
	if x5c, _ := hdr["x5c"].([]any); len(x5c) != 1 || x5c[0] != base64.StdEncoding.EncodeToString(cert.Raw) {
		t.Errorf("x5c %v, want the leaf certificate", hdr["x5c"])
	}
	nbf, _ := claims["nbf"].(float64)
	exp, _ := claims["exp"].(float64)
	if claims["aud"] != "https://login.example/t/oauth2/v2.0/token" || claims["iss"] != "cid" || claims["sub"] != "cid" ||
		claims["jti"] == "" || exp-nbf != 600 {
		t.Errorf("claims %v, want aud, iss=sub=cid, jti, exp = nbf + 600", claims)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPSS(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, nil); err != nil {
		t.Errorf("signature does not verify as PS256: %v", err)
	}
}

func TestCertificateSignerNotRSA(t *testing.T) {
	f := newFixture(t, nil)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewCertificate(f.cfg, []*x509.Certificate{f.demo.Daemon.Certificate}, ec, false); !errors.Is(err, ErrConfig) {
		t.Errorf("got %v, want ErrConfig for an ECDSA signer", err)
	}
	if _, err := NewCertificate(f.cfg, []*x509.Certificate{f.demo.Daemon.Certificate}, "not a key", false); !errors.Is(err, ErrConfig) {
		t.Errorf("got %v, want ErrConfig for a value that cannot sign", err)
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

func TestAssertion(t *testing.T) {
	f := newFixture(t, nil)
	var mu sync.Mutex
	var endpoints, clientIDs []string
	signer, err := newSignerAssertion([]*x509.Certificate{f.demo.Daemon.Certificate}, f.demo.Daemon.Key, false)
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewAssertion(f.cfg, func(ctx context.Context, tokenEndpoint, clientID string) (string, error) {
		mu.Lock()
		endpoints, clientIDs = append(endpoints, tokenEndpoint), append(clientIDs, clientID)
		mu.Unlock()
		return signer.sign(tokenEndpoint, clientID)
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
