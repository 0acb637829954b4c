package entra

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/entrakit/entra/entratest"
)

// emu is an emulator seeded with the demo directory, plus the Options that
// point a Credential at it.
type emu struct {
	s    *entratest.Server
	demo *entratest.Demo
	opts Options
}

func newEmu(t testing.TB) *emu {
	t.Helper()
	s := entratest.NewTestServer(t, nil)
	demo, err := s.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := Public.WithAuthorityHost(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &emu{s: s, demo: demo, opts: Options{Cloud: cloud, HTTPClient: s.Client(), DisableInstanceDiscovery: true}}
}

func (m *emu) apiScope() string { return m.demo.API.AppIDURI + "/.default" }

// secretCred returns a secret credential for the demo daemon; edit
// adjusts its Options.
func (m *emu) secretCred(t testing.TB, edit func(*Options)) *Credential {
	t.Helper()
	o := m.opts
	if edit != nil {
		edit(&o)
	}
	c, err := NewClientSecretCredential(m.demo.TenantID, m.demo.Daemon.ClientID, m.demo.Daemon.ClientSecret, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// claims decodes a JWT's payload without verifying it (the emulator and
// the daemon example verify signatures).
func claims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token is not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func hasRole(c map[string]any, role string) bool {
	roles, _ := c["roles"].([]any)
	return slices.ContainsFunc(roles, func(r any) bool { return r == role })
}

func TestCredentialsGetTokensWithRoles(t *testing.T) {
	m := newEmu(t)
	certCred := func() (*Credential, error) {
		return NewClientCertificateCredential(m.demo.TenantID, m.demo.Daemon.ClientID,
			[]*x509.Certificate{m.demo.Daemon.Certificate}, m.demo.Daemon.Key, &m.opts)
	}
	assertionCred := func() (*Credential, error) {
		return NewClientAssertionCredential(m.demo.TenantID, m.demo.Daemon.ClientID, func(ctx context.Context) (string, error) {
			return signAssertion(m.demo.Daemon.Key, m.demo.Daemon.Certificate, m.demo.Daemon.ClientID,
				m.s.URL+"/"+m.demo.TenantID+"/oauth2/v2.0/token")
		}, &m.opts)
	}
	signerCred := func() (*Credential, error) {
		return NewClientCertificateCredential(m.demo.TenantID, m.demo.Daemon.ClientID,
			[]*x509.Certificate{m.demo.Daemon.Certificate}, opaqueSigner{m.demo.Daemon.Key}, &m.opts)
	}
	secretCred := func() (*Credential, error) { return m.secretCred(t, nil), nil }
	for _, tt := range []struct {
		name string
		make func() (*Credential, error)
	}{{"secret", secretCred}, {"certificate", certCred}, {"certificate with a crypto.Signer", signerCred}, {"assertion", assertionCred}} {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := tt.make()
			if err != nil {
				t.Fatal(err)
			}
			tok, err := cred.Token(t.Context(), m.apiScope())
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.TokenType != "Bearer" || !tok.Valid() {
				t.Errorf("token: type %q valid %v, want Bearer and valid", tok.TokenType, tok.Valid())
			}
			c := claims(t, tok.AccessToken)
			if !hasRole(c, m.demo.API.Role) {
				t.Errorf("roles: got %v, want to contain %q", c["roles"], m.demo.API.Role)
			}
			if c["tid"] != m.demo.TenantID {
				t.Errorf("tid: got %v, want %s", c["tid"], m.demo.TenantID)
			}
			// Second call: served from the cache.
			before := m.s.Count(entratest.EndpointToken)
			tok2, err := cred.TokenSource(t.Context(), m.apiScope()).Token()
			if err != nil || tok2.AccessToken != tok.AccessToken {
				t.Fatalf("cached token: err %v, same %v", err, err == nil && tok2.AccessToken == tok.AccessToken)
			}
			if got := m.s.Count(entratest.EndpointToken); got != before {
				t.Errorf("token requests: got %d, want %d (cached)", got, before)
			}
		})
	}
}

func TestColdEntryOneRequest(t *testing.T) {
	m := newEmu(t)
	cred := m.secretCred(t, nil)
	ts := cred.TokenSource(t.Context(), m.apiScope())
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ts.Token(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Token: %v", err)
	}
	if got := m.s.GrantCount("client_credentials"); got != 1 {
		t.Errorf("client_credentials requests: got %d, want 1", got)
	}
}

// TestRefreshWindowNeverWaits: inside the refresh window, with the token
// endpoint blocked, every caller gets the current token at once; the
// blocked refresh then fails and the token keeps being served; a later
// retry replaces it. No assertion depends on timing: the server is
// blocked for far longer than the fetch timeout.
func TestRefreshWindowNeverWaits(t *testing.T) {
	m := newEmu(t)
	fc := newFakeClock(time.Now())
	cred := m.secretCred(t, func(o *Options) { o.Clock = fc; o.FetchTimeout = 3 * time.Second })
	ts := cred.TokenSource(t.Context(), m.apiScope())
	first := mustToken(t, ts)
	e := ts.(*tokenSource).entry()

	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Delay: time.Hour})
	fc.Advance(31 * time.Minute) // emulator tokens live 1h: refresh at 30m
	if got := mustToken(t, ts); got != first {
		t.Fatal("refresh phase: got a new token, want the current one")
	}
	waitUntil(t, "the refresh request to reach the server", func() bool { return m.s.Count(entratest.EndpointToken) == 2 })
	for range 1000 {
		if got := mustToken(t, ts); got != first {
			t.Fatal("got a new token while the refresh is blocked")
		}
	}
	if !e.refreshing.Load() {
		t.Fatal("the refresh ended although the server is still blocking it")
	}
	if got := m.s.Count(entratest.EndpointToken); got != 2 {
		t.Errorf("token requests while blocked: got %d, want 2", got)
	}
	// The blocked refresh times out: the valid token keeps being served.
	waitUntil(t, "the refresh to time out", func() bool { return !e.refreshing.Load() })
	if got := mustToken(t, ts); got != first {
		t.Fatal("after a failed refresh: got a new token, want the current one")
	}
	// The retry after the backoff succeeds.
	fc.Advance(refreshRetryMax)
	mustToken(t, ts)
	waitUntil(t, "the retry", func() bool { return !e.refreshing.Load() && mustToken(t, ts) != first })
}

func TestExpiredTokenBlocksForANewOne(t *testing.T) {
	m := newEmu(t)
	fc := newFakeClock(time.Now())
	cred := m.secretCred(t, func(o *Options) { o.Clock = fc })
	ts := cred.TokenSource(t.Context(), m.apiScope())
	first := mustToken(t, ts)
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 401}) // the refresh fails
	fc.Advance(31 * time.Minute)
	mustToken(t, ts)
	waitUntil(t, "the refresh to fail", func() bool { return !ts.(*tokenSource).entry().refreshing.Load() })
	fc.Advance(30 * time.Minute) // past expiry
	second := mustToken(t, ts)
	if second == first {
		t.Fatal("expired: got the old token")
	}
	if got := m.s.GrantCount("client_credentials"); got != 3 {
		t.Errorf("client_credentials requests: got %d, want 3", got)
	}
}

func TestBadTokenResponses(t *testing.T) {
	m := newEmu(t)
	target := entratest.NewTestServer(t, nil)
	huge := strings.Repeat("x", 2<<20)
	body := func(fields string) string { return `{"token_type":"Bearer",` + fields + `}` }
	tests := []struct {
		name  string
		fault entratest.Fault
		want  error
	}{
		{"malformed", entratest.Fault{Malformed: true}, ErrInvalidResponse},
		{"truncated", entratest.Fault{Truncated: true}, ErrInvalidResponse},
		{"html", entratest.Fault{Body: "<html><body>proxy login</body></html>", ContentType: "text/html"}, ErrInvalidResponse},
		{"oversize", entratest.Fault{Body: body(`"expires_in":3599,"access_token":"` + huge + `"`)}, ErrInvalidResponse},
		{"expires_in string", entratest.Fault{Body: body(`"expires_in":"soon","access_token":"a.b.c"`)}, ErrInvalidResponse},
		{"expires_in null", entratest.Fault{Body: body(`"expires_in":null,"access_token":"a.b.c"`)}, ErrInvalidResponse},
		{"expires_in negative", entratest.Fault{Body: body(`"expires_in":-5,"access_token":"a.b.c"`)}, ErrInvalidResponse},
		{"expires_in huge", entratest.Fault{Body: body(`"expires_in":99999999999999,"access_token":"a.b.c"`)}, ErrInvalidResponse},
		{"no access_token", entratest.Fault{Body: body(`"expires_in":3599`)}, ErrInvalidResponse},
		{"token_type MAC", entratest.Fault{Body: `{"token_type":"MAC","expires_in":3599,"access_token":"a.b.c"}`}, ErrInvalidResponse},
		{"307", entratest.Fault{RedirectTo: target.URL + "/" + m.demo.TenantID + "/oauth2/v2.0/token"}, ErrRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			fc := newFakeClock(time.Now())
			cred := m.secretCred(t, func(o *Options) {
				o.Clock = fc
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			before := m.s.Count(entratest.EndpointToken)
			m.s.InjectFault(entratest.EndpointToken, tt.fault)
			tok, err := cred.Token(t.Context(), m.apiScope())
			if tok != nil || !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want nil, %v", tok, err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T, want *Error", err)
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), logs.String()} {
				if strings.Contains(text, m.demo.Daemon.ClientSecret) || strings.Contains(text, "a.b.c") || strings.Contains(text, "xxxxxxxx") {
					t.Errorf("secret or token leaked: %q", text)
				}
			}
			// Nothing was cached: once the failure's retry time has passed,
			// the next call asks Entra and succeeds.
			fc.Advance(blockingRetryMax)
			if _, err := cred.Token(t.Context(), m.apiScope()); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
			if got := m.s.Count(entratest.EndpointToken); got != before+2 {
				t.Errorf("token requests: got %d, want %d", got, before+2)
			}
		})
	}
	if got := target.Count(entratest.EndpointToken); got != 0 {
		t.Errorf("requests to the redirect target: got %d, want 0 (the secret must not be re-POSTed)", got)
	}
}

func TestConfigValidation(t *testing.T) {
	const tid, cid, secret = "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b", "client", "secret"
	httpCloud := Public
	httpCloud.authorityHost = "http://login.example.com"
	tests := []struct {
		name                string
		tenant, client, sec string
		opts                *Options
	}{
		{"tenant with a path", "tenant/../x", cid, secret, nil},
		{"tenant with a query", "tenant?x=1", cid, secret, nil},
		{"empty tenant", "", cid, secret, nil},
		{"tenant with space", "a b", cid, secret, nil},
		{"tenant dot-dot", "..", cid, secret, nil},
		{"common tenant", "common", cid, secret, nil},
		{"empty client", tid, "", secret, nil},
		{"client with slash", tid, "a/b", secret, nil},
		{"empty secret", tid, cid, "", nil},
		{"blank secret", tid, cid, "  ", nil},
		{"http authority", tid, cid, secret, &Options{Cloud: httpCloud}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClientSecretCredential(tt.tenant, tt.client, tt.sec, tt.opts)
			if c != nil || !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, %v; want nil, ErrConfig", c, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.Op != "config" {
				t.Errorf("got %#v, want *Error with Op config", err)
			}
		})
	}
	if _, err := Public.WithAuthorityHost("http://127.0.0.1:1"); err == nil {
		t.Error("WithAuthorityHost accepted an http authority")
	}
	if _, err := NewClientAssertionCredential(tid, cid, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("nil assertion: got %v, want ErrConfig", err)
	}
	if _, err := NewClientCertificateCredential(tid, cid, nil, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("no certificate: got %v, want ErrConfig", err)
	}
	if _, err := NewClientCertificateCredential(tid, cid, []*x509.Certificate{{}}, (*rsa.PrivateKey)(nil), nil); !errors.Is(err, ErrConfig) {
		t.Errorf("typed nil key: got %v, want ErrConfig", err)
	}
	for _, good := range []string{tid, "contoso.onmicrosoft.com", "Contoso-Prod.com"} {
		if _, err := NewClientSecretCredential(good, cid, secret, nil); err != nil {
			t.Errorf("tenant %q: %v", good, err)
		}
	}
}

func TestOptionsAreCopied(t *testing.T) {
	opts := &Options{Cloud: China, AllowedHosts: []string{"api.example.cn"}}
	cred, err := NewClientSecretCredential("contoso.partner.onmschina.cn", "client", "secret", opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Cloud = Public
	opts.AllowedHosts[0] = "evil.example.com"
	if got := cred.Cloud().Name(); got != "china" {
		t.Errorf("cloud: got %q, want china", got)
	}
	if got := cred.s.allowedHosts[0]; got != "api.example.cn" {
		t.Errorf("allowed host: got %q, want api.example.cn", got)
	}
}

func TestCertificateKeyMismatch(t *testing.T) {
	m := newEmu(t)
	other := newEmu(t)
	_, err := NewClientCertificateCredential(m.demo.TenantID, m.demo.Daemon.ClientID,
		[]*x509.Certificate{m.demo.Daemon.Certificate}, other.demo.Daemon.Key, nil)
	if !errors.Is(err, ErrConfig) {
		t.Errorf("got %v, want ErrConfig", err)
	}
}

func TestCertificateCredentialNeedsRSA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewClientCertificateCredential("contoso.onmicrosoft.com", "client", []*x509.Certificate{cert}, key, nil)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "NewClientAssertionCredential") {
		t.Errorf("got %v, want ErrConfig naming NewClientAssertionCredential", err)
	}
}

func TestCancelledContext(t *testing.T) {
	m := newEmu(t)
	cred := m.secretCred(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := cred.Token(ctx, m.apiScope()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: got %v, want context.Canceled", err)
	}
	// Cancelled while the server is slow: the caller returns; the fetch
	// completes and fills the cache.
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Delay: 200 * time.Millisecond})
	ctx, cancel = context.WithCancel(t.Context())
	go func() {
		waitUntil(t, "the request", func() bool { return m.s.Count(entratest.EndpointToken) == 1 })
		cancel()
	}()
	if _, err := cred.Token(ctx, m.apiScope()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: got %v, want context.Canceled", err)
	}
	waitUntil(t, "the detached fetch", func() bool { return m.s.GrantCount("client_credentials") == 1 })
	if _, err := cred.Token(t.Context(), m.apiScope()); err != nil {
		t.Fatal(err)
	}
	if got := m.s.Count(entratest.EndpointToken); got != 1 {
		t.Errorf("token requests: got %d, want 1 (the detached fetch filled the cache)", got)
	}
}

// TestNoSecretsInErrorsOrLogs plants canary values and drives error paths;
// the canaries must never appear in an error's text or in the logs.
func TestNoSecretsInErrorsOrLogs(t *testing.T) {
	const canarySecret = "CANARY-SECRET-7f3a9c"
	const canaryToken = "CANARY-TOKEN-e41b22"
	const canaryAssertion = "CANARY-ASSERTION-0d9e"
	m := newEmu(t)
	var logs syncBuffer
	fc := newFakeClock(time.Now())
	o := m.opts
	o.Clock = fc
	o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []error
	collect := func(_ *oauth2.Token, err error) {
		if err == nil {
			t.Error("got no error")
		}
		errs = append(errs, err)
		fc.Advance(blockingRetryMax) // past the remembered failure: the next call asks again
	}

	wrong, err := NewClientSecretCredential(m.demo.TenantID, m.demo.Daemon.ClientID, canarySecret, &o)
	if err != nil {
		t.Fatal(err)
	}
	collect(wrong.Token(t.Context(), m.apiScope())) // invalid_client
	// A proxy echoing the request body into error_description.
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 400,
		Body: `{"error":"invalid_request","error_description":"AADSTS900144: bad client_secret=` + canarySecret + `"}`})
	collect(wrong.Token(t.Context(), m.apiScope()))

	good, err := NewClientSecretCredential(m.demo.TenantID, m.demo.Daemon.ClientID, m.demo.Daemon.ClientSecret, &o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []entratest.Fault{
		{Body: `{"token_type":"Bearer","expires_in":"x","access_token":"` + canaryToken + `"}`},
		{Body: `{"token_type":"Bearer","expires_in":3599,"access_token":"` + canaryToken + `"`}, // cut
		{Body: `{"token_type":"MAC","expires_in":3599,"access_token":"` + canaryToken + `"}`},
		{Status: 500, Body: canaryToken, Count: 4},
	} {
		m.s.InjectFault(entratest.EndpointToken, f)
		collect(good.Token(t.Context(), m.apiScope()))
	}
	assertion, err := NewClientAssertionCredential(m.demo.TenantID, m.demo.Daemon.ClientID, func(context.Context) (string, error) {
		return "", fmt.Errorf("signer failed for %s: %w", canaryAssertion, errors.New(canarySecret))
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	collect(assertion.Token(t.Context(), m.apiScope()))
	tok, err := good.Token(t.Context(), m.apiScope()) // a real token, logged as fetched
	if err != nil {
		t.Fatal(err)
	}

	for _, err := range errs {
		for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%v", err)} {
			for _, canary := range []string{canarySecret, canaryToken, canaryAssertion, tok.AccessToken} {
				if strings.Contains(text, canary) {
					t.Errorf("error text contains a canary: %q", text)
				}
			}
		}
	}
	for _, canary := range []string{canarySecret, canaryToken, canaryAssertion, tok.AccessToken, m.demo.Daemon.ClientSecret} {
		if strings.Contains(logs.String(), canary) {
			t.Errorf("logs contain a canary %q", canary[:8])
		}
	}
	if logs.String() == "" {
		t.Error("nothing was logged")
	}
}

// opaqueSigner hides the *rsa.PrivateKey behind crypto.Signer, as a key in
// an HSM or Key Vault does: only Public and Sign can be called.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }

func (o opaqueSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, digest, opts)
}

// signAssertion makes a private_key_jwt client assertion the way an HSM
// or Key Vault signer would: entra never sees the key.
func signAssertion(key crypto.Signer, cert *x509.Certificate, clientID, aud string) (string, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
		"aud": aud, "iss": clientID, "sub": clientID, "jti": uuid.NewString(),
		"nbf": now.Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	sum := sha256.Sum256(cert.Raw)
	tok.Header["x5t#S256"] = base64.RawURLEncoding.EncodeToString(sum[:])
	return tok.SignedString(key)
}

func TestCredentialTokenCachedAllocs(t *testing.T) {
	m := newEmu(t)
	cred := m.secretCred(t, nil)
	ctx, scope := t.Context(), m.apiScope()
	if _, err := cred.Token(ctx, scope); err != nil {
		t.Fatal(err)
	}
	if got := testing.AllocsPerRun(1000, func() { cred.Token(ctx, scope) }); got != 0 {
		t.Errorf("allocs per cached Token: got %v, want 0", got)
	}
	if got := m.s.GrantCount("client_credentials"); got != 1 {
		t.Errorf("client_credentials requests: got %d, want 1", got)
	}
}
