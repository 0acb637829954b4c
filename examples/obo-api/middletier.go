package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/bearer"
)

// middleTier is the web API in the middle: it validates its callers'
// tokens and calls the downstream API and Graph on their behalf.
type middleTier struct {
	*httptest.Server
	cfg           *config
	validator     *bearer.Validator
	obo           *entra.OnBehalfOfCredential // one per app, shared by all requests
	downstreamURL string                      // "" when there is no downstream API
	base          http.RoundTripper           // trusts Entra, Graph and the downstream API
	entraRequests atomic.Int64                // requests the OBO credential sent to Entra
	exchanges     atomic.Int64                // of which on-behalf-of exchanges (token endpoint)
}

// result is the middle tier's answer to GET /me: who called, and what
// each downstream call (on behalf of the caller) answered.
type result struct {
	Caller     caller `json:"caller"`
	Downstream *hop   `json:"downstream,omitempty"`
	Graph      *hop   `json:"graph"`
}

// hop is one call the middle tier made on behalf of its caller.
type hop struct {
	URL    string          `json:"url"`
	Scope  string          `json:"scope"`  // the scope of the on-behalf-of token
	Status int             `json:"status"` // 0: no answer (Error says why)
	Body   json.RawMessage `json:"body,omitempty"`
	Error  string          `json:"error,omitempty"`

	claims string // a claims challenge from Entra, for the client
}

// startMiddleTier starts the middle tier: https on a loopback port
// embedded, else on cfg.addr.
func startMiddleTier(cfg *config, downstream *httptest.Server) (*middleTier, error) {
	m := &middleTier{cfg: cfg, base: httpClient(cfg.pool).Transport}
	if downstream != nil {
		m.downstreamURL = downstream.URL
	}
	var err error
	m.validator, err = bearer.New(cfg.tenantID, cfg.midID, &bearer.Options{
		Cloud: cfg.cloud, AppIDURI: cfg.midIDURI, HTTPClient: httpClient(cfg.pool)})
	if err != nil {
		return nil, err
	}
	// The OBO credential's requests to Entra are counted, to show what the
	// cache and the assertion guard save.
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		m.entraRequests.Add(1)
		if strings.HasSuffix(r.URL.Path, "/token") {
			m.exchanges.Add(1)
		}
		return m.base.RoundTrip(r)
	})}
	m.obo, err = entra.NewOnBehalfOfCredential(cfg.tenantID, cfg.midID, entra.ClientSecret(cfg.secret),
		&entra.OnBehalfOfOptions{
			Options:   entra.Options{Cloud: cfg.cloud, HTTPClient: counting, DisableInstanceDiscovery: cfg.disableInstanceDiscovery},
			AppIDURIs: []string{cfg.midIDURI},
		})
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /me", m.validator.Middleware(m.validator.RequireScopes("access_as_user")(http.HandlerFunc(m.me))))
	m.Server = httptest.NewUnstartedServer(mux) // https with a certificate for 127.0.0.1 made at start
	if cfg.emu == nil {
		ln, err := net.Listen("tcp", cfg.addr)
		if err != nil {
			m.obo.Close()
			return nil, err
		}
		m.Listener.Close()
		m.Listener = ln
	}
	m.Config.ReadHeaderTimeout = 10 * time.Second
	m.StartTLS()
	return m, nil
}

// Close stops the server and the OBO credential.
func (m *middleTier) Close() {
	m.Server.Close()
	m.obo.Close()
}

// me answers who called and calls, as the caller, the downstream API and
// Graph /v1.0/me. The request reached here through the bearer middleware:
// its token is valid for this API and holds access_as_user.
func (m *middleTier) me(w http.ResponseWriter, r *http.Request) {
	c, _ := bearer.FromContext(r.Context())
	res := result{Caller: callerOf(c)}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	r = r.WithContext(ctx)

	if m.downstreamURL != "" {
		res.Downstream = m.call(r, scope(m.cfg.apiIDURI), m.downstreamURL+"/whoami")
	}
	// Graph of the credential's cloud: the emulator's here, and e.g.
	// graph.microsoft.us for a US Government tenant.
	res.Graph = m.call(r, "User.Read", m.obo.Cloud().GraphURL()+"/v1.0/me")

	// Entra asks the user for more (MFA, consent, a CAE claims challenge):
	// pass the challenge on to the client, which signs in again with it.
	for _, h := range []*hop{res.Downstream, res.Graph} {
		if h != nil && h.claims != "" {
			bearer.Challenge(w, h.claims)
			return
		}
	}
	status := http.StatusOK
	if (res.Downstream != nil && res.Downstream.Status != http.StatusOK) || res.Graph.Status != http.StatusOK {
		status = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

// call GETs u with an on-behalf-of token for scope.
func (m *middleTier) call(r *http.Request, scope, u string) *hop {
	h := &hop{URL: u, Scope: scope}
	ts, err := bearer.TokenSource(r, m.obo, scope) // the caller's token is the user assertion
	if err != nil {
		h.Error = err.Error()
		return h
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: ts, Base: m.base}}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	if err != nil {
		h.Error = err.Error()
		return h
	}
	resp, err := hc.Do(req)
	if err != nil {
		var e *entra.Error
		if errors.As(err, &e) && e.Claims != "" {
			h.claims = e.Claims
		}
		h.Error = err.Error() // entra's errors hold no token, assertion or secret
		return h
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	h.Status = resp.StatusCode
	if json.Valid(b) {
		h.Body = b
	} else {
		h.Body, _ = json.Marshal(strings.TrimSpace(string(b)))
	}
	if resp.StatusCode != http.StatusOK {
		h.Error = fmt.Sprintf("%s answered %s", u, resp.Status)
	}
	return h
}

// httpClient trusts pool's roots.
func httpClient(pool *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
