package entrahttp

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// answer is one canned reply of a fake server.
type answer struct {
	status  int
	headers map[string]string
	body    string
}

// fakeServer is a TLS server we control completely: it replays answers
// in order (the last one forever) and counts requests.
type fakeServer struct {
	*httptest.Server
	mu      sync.Mutex
	answers []answer
	hits    atomic.Int64
}

func newFakeServer(t *testing.T, answers ...answer) *fakeServer {
	t.Helper()
	f := &fakeServer{answers: answers}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	var a answer // the zero answer is a valid token response
	if len(f.answers) > 0 {
		a = f.answers[0]
		if len(f.answers) > 1 {
			f.answers = f.answers[1:]
		}
	}
	f.mu.Unlock()
	if a.status == 0 && a.body == "" {
		a.body = `{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0.eyJ1.c2ln"}`
	}
	if _, ok := a.headers["Content-Type"]; !ok {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, v := range a.headers {
		w.Header()[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if a.status == 0 {
		a.status = 200
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

// host returns the server's host:port.
func (f *fakeServer) host() string {
	u, _ := url.Parse(f.URL)
	return u.Host
}

// trustingClient is an *http.Client trusting every given fake server.
func trustingClient(servers ...*fakeServer) *http.Client {
	pool := x509.NewCertPool()
	for _, s := range servers {
		pool.AddCert(s.Certificate())
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}
}

// newFakeClient returns a Client for servers with a fake clock.
func newFakeClient(o Options, servers ...*fakeServer) (*Client, *fakeClock) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	o.Base = trustingClient(servers...)
	o.Now, o.Sleep = clock.Now, clock.Sleep
	o.Rand = func() float64 { return 0.5 }
	return New(o), clock
}

// postToken sends a client-credentials form POST to rawURL.
func postToken(ctx context.Context, c *Client, rawURL, secret string) (*http.Response, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"},
		"client_secret": {secret}, "scope": {"api://x/.default"}}
	enc := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(enc))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}
