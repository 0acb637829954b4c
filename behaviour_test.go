package entra

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// hangingStore never answers until released (and ignores ctx), like a
// Redis behind a dead load balancer.
type hangingStore struct {
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (s *hangingStore) wait() {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	<-s.release
}
func (s *hangingStore) Load(context.Context, string) ([]byte, error) {
	s.wait()
	return nil, ErrNotFound
}
func (s *hangingStore) Save(context.Context, string, []byte, time.Duration) error {
	s.wait()
	return nil
}
func (s *hangingStore) Delete(context.Context, string) error { s.wait(); return nil }

// A Store that hangs neither fails nor noticeably delays a call: the load
// misses after its budget, the save runs in the background, and a few
// hung calls at most are in flight.
func TestHangingStoreDoesNotFailOrDelayCalls(t *testing.T) {
	m := newEmu(t)
	store := &hangingStore{release: make(chan struct{})}
	t.Cleanup(func() { close(store.release) })
	var logs syncBuffer
	cred := m.secretCred(t, func(o *Options) {
		o.Store, o.StoreTimeout = store, 100*time.Millisecond
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	for i := range 40 { // 40 resources: 40 loads and 40 saves that never end
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if err := m.s.AddApp(m.demo.TenantID, entratest.App{ClientID: id, DisplayName: "store test"}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := cred.Token(t.Context(), id+"/.default")
		if err != nil {
			t.Fatalf("call %d: %v (a Store must never fail a call)", i, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("call %d took %v with a hanging Store, want about the 100ms budget", i, took)
		}
	}
	store.mu.Lock()
	calls := store.calls
	store.mu.Unlock()
	if calls > maxStoreCalls {
		t.Errorf("store calls in flight: got %d, want at most %d", calls, maxStoreCalls)
	}
	if strings.Contains(logs.String(), "Entra") && strings.Contains(logs.String(), "token fetch failed") {
		t.Errorf("a Store problem was reported as Entra's: %s", logs.String())
	}
}

// Credential.Client bounds the wait for a token with the request's
// deadline, not with FetchTimeout.
func TestClientHonoursRequestDeadline(t *testing.T) {
	m := newEmu(t)
	a := newAPI(t)
	cred := clientSetup(t, m, a)
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Delay: 2 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.srv.URL+"/data", nil)
	start := time.Now()
	_, err := cred.Client(t.Context(), m.apiScope()).Do(req)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("returned after %v, want about the 300ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want DeadlineExceeded", err)
	}
}

// Options.HTTPClient's Timeout applies to requests made through Client.
func TestClientHonoursHTTPClientTimeout(t *testing.T) {
	m := newEmu(t)
	slow := newAPI(t)
	cred := clientSetup(t, m, slow)
	cred.s.httpClient.Timeout = 200 * time.Millisecond // as if set in Options
	hold := make(chan struct{})
	defer close(hold)
	slow.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	})
	start := time.Now()
	_, err := cred.Client(t.Context(), m.apiScope()).Get(slow.srv.URL + "/slow")
	if err == nil || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("got %v after %v, want a timeout after about 200ms", err, time.Since(start))
	}
}

// Transport logs at Debug when it withholds a token because of the host,
// with the host and never the token.
func TestTransportLogsWithheldToken(t *testing.T) {
	m := newEmu(t)
	good, other := newAPI(t), newAPI(t)
	var logs syncBuffer
	pool := m.s.CertPool()
	pool.AddCert(good.srv.Certificate())
	pool.AddCert(other.srv.Certificate())
	cred := clientSetup(t, m, good, other)
	cred.s.logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	resp, err := cred.Client(t.Context(), m.apiScope()).Get(other.srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := logs.String(); !strings.Contains(got, "token withheld") || !strings.Contains(got, other.host()) {
		t.Errorf("log: got %q, want a Debug line naming %s", got, other.host())
	}
}

// An app-only token for an API that arrives without roles (no admin
// consent) is explained once per entry, at Warn.
func TestNoRolesWarnedOncePerEntry(t *testing.T) {
	m := newEmu(t)
	app := entratest.App{
		ClientID: "1b2c3d4e-0009-4000-8000-00000000d010", DisplayName: "daemon-without-consent",
		Secrets: []entratest.Secret{{Value: "no-consent-secret-value"}},
		Grants:  []entratest.Grant{{Resource: m.demo.API.ClientID, AppRoles: []string{m.demo.API.Role}, AdminConsent: false}},
	}
	if err := m.s.AddApp(m.demo.TenantID, app); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	o := m.opts
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	o.Clock = newFakeClock(time.Now())
	o.IdleTTL = 24 * time.Hour // one entry throughout
	cred, err := NewClientSecretCredential(m.demo.TenantID, app.ClientID, app.Secrets[0].Value, &o)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cred.Token(t.Context(), m.apiScope()); err != nil {
			t.Fatal(err)
		}
		o.Clock.(*fakeClock).Advance(2 * time.Hour) // a new token each time
	}
	if got := strings.Count(logs.String(), "carries no roles claim"); got != 1 {
		t.Errorf("warnings: got %d, want 1: %s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "admin consent") {
		t.Errorf("warning: got %q, want a Warn naming admin consent", logs.String())
	}
	// The consented daemon gets roles: no warning.
	logs2 := &syncBuffer{}
	cred2 := m.secretCred(t, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(logs2, nil)) })
	if _, err := cred2.Token(t.Context(), m.apiScope()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs2.String(), "no roles") {
		t.Errorf("warned for a token with roles: %s", logs2.String())
	}
}

// Close stops timers and background work; later calls fail with ErrClosed.
func TestCredentialClose(t *testing.T) {
	m := newEmu(t)
	fc := newFakeClock(time.Now())
	cred := m.secretCred(t, func(o *Options) { o.Clock = fc })
	ts := cred.TokenSource(t.Context(), m.apiScope())
	mustToken(t, ts)
	if err := cred.Close(); err != nil {
		t.Fatal(err)
	}
	fc.Advance(0)
	if got := fc.pending(); got != 0 {
		t.Errorf("timers after Close: got %d, want 0", got)
	}
	for name, call := range map[string]func() error{
		"TokenSource": func() error { _, err := ts.Token(); return err },
		"Token":       func() error { _, err := cred.Token(t.Context(), m.apiScope()); return err },
		"new scope":   func() error { _, err := cred.Token(t.Context(), "api://other/.default"); return err },
	} {
		if err := call(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: got %v, want ErrClosed", name, err)
		}
	}
	if err := cred.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// With an *rsa.PrivateKey and two certificates sharing it, the assertion is
// signed for certs[0], as documented (MSAL itself picks the last match).
func TestCertificateSignsForFirstCertificate(t *testing.T) {
	m := newEmu(t)
	key, ok := m.demo.Daemon.Key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("demo key is %T, want *rsa.PrivateKey", m.demo.Daemon.Key)
	}
	other := testCert(t, "same key, not registered", key, nil, nil)
	o := m.opts
	cred, err := NewClientCertificateCredential(m.demo.TenantID, m.demo.Daemon.ClientID,
		[]*x509.Certificate{m.demo.Daemon.Certificate, other}, key, &o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.Token(t.Context(), m.apiScope()); err != nil {
		t.Fatalf("got %v, want a token signed for the registered certs[0]", err)
	}
}

// A failing assertion callback is reported as such, wrapped, without its
// text.
func TestAssertionCallbackErrorWrapped(t *testing.T) {
	m := newEmu(t)
	cause := errors.New("federated token file /var/run/secrets/token-SECRET-TEXT unreadable")
	o := m.opts
	cred, err := NewClientAssertionCredential(m.demo.TenantID, m.demo.Daemon.ClientID,
		func(context.Context) (string, error) { return "", cause }, &o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.Token(t.Context(), m.apiScope())
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != "assertion_failed" || !errors.Is(err, cause) {
		t.Fatalf("got %v, want an assertion_failed *Error wrapping the callback's error", err)
	}
	if strings.Contains(err.Error(), "SECRET-TEXT") {
		t.Errorf("the callback's text leaked: %s", err)
	}
	if got := m.s.Count(entratest.EndpointToken); got != 0 {
		t.Errorf("token requests: got %d, want 0", got)
	}
}
