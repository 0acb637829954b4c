package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// api is the custom web API the app calls: it accepts a token only if its
// signature verifies against the tenant's keys and it was issued by the
// app's cloud to this API (audience) with the API's scope.
type api struct {
	cfg      config
	resource string // the scope without its last segment: api://<api-app-id>
	scope    string // the scope's last segment: access_as_user

	mu   sync.Mutex
	keys *jose.JSONWebKeySet
}

// newAPI starts the API on a loopback https port.
func newAPI(cfg config) *httptest.Server {
	a := &api{cfg: cfg}
	if i := strings.LastIndex(cfg.apiScope, "/"); i > 0 {
		a.resource, a.scope = cfg.apiScope[:i], cfg.apiScope[i+1:]
	}
	return httptest.NewTLSServer(http.HandlerFunc(a.hello))
}

// apiClaims are the claims the API reads.
type apiClaims struct {
	jwt.Claims
	TenantID string `json:"tid"`
	Scopes   string `json:"scp"`
	Name     string `json:"preferred_username"`
}

func (a *api) hello(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "no bearer token", http.StatusUnauthorized)
		return
	}
	c, err := a.verify(r.Context(), raw)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token: "+err.Error(), http.StatusUnauthorized)
		return
	}
	if !slices.Contains(strings.Fields(c.Scopes), a.scope) {
		http.Error(w, "forbidden: scope "+a.scope+" required", http.StatusForbidden)
		return
	}
	fmt.Fprintf(w, "hello %s (scp %s)\n", c.Name, c.Scopes)
}

// verify checks raw as an API must: signature by a key of the tenant's
// key set, the cloud's issuer for the token's tenant, this API as
// audience, and the lifetime (5 minutes of leeway).
func (a *api) verify(ctx context.Context, raw string) (*apiClaims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, errors.New("not a signed JWT")
	}
	key, err := a.key(ctx, tok.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var c apiClaims
	if err := tok.Claims(key.Key, &c); err != nil {
		return nil, errors.New("bad signature")
	}
	cloud := a.cfg.opts.Cloud
	if c.Issuer != cloud.IssuerV2(c.TenantID) && c.Issuer != cloud.IssuerV1(c.TenantID) {
		return nil, fmt.Errorf("issuer %q is not this cloud's", c.Issuer)
	}
	if !strings.Contains(a.cfg.tenantID, ".") && c.TenantID != a.cfg.tenantID { // a domain can't be compared
		return nil, errors.New("token from another tenant")
	}
	if !slices.ContainsFunc(c.Audience, func(aud string) bool { return aud == a.resource || "api://"+aud == a.resource }) {
		return nil, fmt.Errorf("audience %v is not this API (%s): a token for another resource", c.Audience, a.resource)
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, 5*time.Minute); err != nil {
		return nil, errors.New("token expired or not yet valid")
	}
	return &c, nil
}

// key returns the signing key kid, fetching the tenant's key set on first
// use and again for an unknown kid (a real API limits those refetches).
func (a *api) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	a.mu.Lock()
	keys := a.keys
	a.mu.Unlock()
	if keys != nil {
		if k := keys.Key(kid); len(k) > 0 {
			return &k[0], nil
		}
	}
	keys, err := a.fetchKeys(ctx)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.keys = keys
	a.mu.Unlock()
	if k := keys.Key(kid); len(k) > 0 {
		return &k[0], nil
	}
	return nil, errors.New("signing key not in the tenant's key set (a Microsoft Graph token? ask for the API's scope)")
}

func (a *api) fetchKeys(ctx context.Context) (*jose.JSONWebKeySet, error) {
	u := a.cfg.opts.Cloud.AuthorityHost() + "/" + a.cfg.tenantID + "/discovery/v2.0/keys"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: a.cfg.pool}}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, errors.New("cannot fetch the tenant's key set")
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set) != nil {
		return nil, fmt.Errorf("cannot read the tenant's key set (HTTP %d)", resp.StatusCode)
	}
	return &set, nil
}
