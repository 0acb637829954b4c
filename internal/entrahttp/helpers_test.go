package entrahttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

func mustCA(t *testing.T, s *entratest.Server) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(s.CACertPEM())
	if b == nil {
		t.Fatal("no CA PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tlsConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// fakeClock is an injected clock; Sleep advances it instead of waiting.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

type fixture struct {
	srv   *entratest.Server
	demo  *entratest.Demo
	clock *fakeClock
	c     *Client
}

func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	srv := entratest.NewTestServer(t, nil)
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	o.Base = srv.Client()
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	o.Rand = func() float64 { return 0.5 }
	return &fixture{srv: srv, demo: demo, clock: clock, c: New(o)}
}

// tokenRequest builds a client-credentials POST like MSAL's (replayable body).
func (f *fixture) tokenRequest(ctx context.Context) *http.Request {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {f.demo.Daemon.ClientID},
		"client_secret": {f.demo.Daemon.ClientSecret},
		"scope":         {f.demo.API.AppIDURI + "/.default"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.Authority(f.demo.TenantID)+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return req
}

func (f *fixture) requests() int { return f.srv.GrantCount("client_credentials") }

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
