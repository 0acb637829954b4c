package entra

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"reflect"
	"strings"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// Credential gets app-only tokens (OAuth 2.0 client credentials) for one app
// registration in one tenant and caches them: one cache entry per scope
// set, refreshed in the background before expiry.
//
// A Credential is safe for concurrent use. Make one per app and tenant and
// share it; every TokenSource, Client and Graph made from it shares its
// cache.
type Credential struct {
	s         settings
	tenantID  string
	clientID  string
	authority string
	app       *flows.App
	cache     *cache
	secret    string // scrubbed from error descriptions; "" for other credentials
}

// NewClientSecretCredential returns a Credential that authenticates with a
// client secret. tenantID is the directory (tenant) ID or a verified domain
// such as contoso.onmicrosoft.com; clientID is the application (client) ID.
// Inputs are validated here, before any network call: errors are *Error with
// Op "config" wrapping ErrConfig. Nothing is fetched until a token is
// needed.
func NewClientSecretCredential(tenantID, clientID, secret string, opts *Options) (*Credential, error) {
	if strings.TrimSpace(secret) == "" {
		return nil, configError("the client secret is empty: pass the secret's Value from the app registration")
	}
	c, err := newCredential(tenantID, clientID, opts, func(cfg flows.Config, _ settings) (*flows.App, error) {
		return flows.NewSecret(cfg, secret)
	})
	if c != nil {
		c.secret = secret
	}
	return c, err
}

// NewClientCertificateCredential returns a Credential that authenticates
// with a certificate (private_key_jwt). certs[0] must match key; the rest is
// the chain, sent only with Options.SendCertificateChain. ParseCertificates
// loads certs and key from PEM or PKCS#12 data. key is an *rsa.PrivateKey
// or any crypto.Signer with an RSA public key, such as a key in an HSM, a
// cloud KMS or Azure Key Vault: entra then signs each assertion through
// Sign and never needs the private key. Validated like
// NewClientSecretCredential.
func NewClientCertificateCredential(tenantID, clientID string, certs []*x509.Certificate, key crypto.PrivateKey, opts *Options) (*Credential, error) {
	if len(certs) == 0 || certs[0] == nil {
		return nil, configError("no certificate given")
	}
	signer, ok := key.(crypto.Signer)
	if v := reflect.ValueOf(key); !ok || !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, configError("the private key is missing or cannot sign (want an RSA key)")
	}
	if _, isRSA := signer.Public().(*rsa.PublicKey); !isRSA {
		return nil, configError("the private key is %T: Entra certificate credentials are RSA (the assertion is signed PS256); "+
			"for another key type sign the assertion yourself with NewClientAssertionCredential", signer.Public())
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(certs[0].PublicKey) {
		return nil, configError("the private key does not match the first certificate")
	}
	certs = append([]*x509.Certificate(nil), certs...)
	return newCredential(tenantID, clientID, opts, func(cfg flows.Config, s settings) (*flows.App, error) {
		return flows.NewCertificate(cfg, certs, key, s.sendCertificateChain)
	})
}

// NewClientAssertionCredential returns a Credential that authenticates with
// a client assertion made by assertion: a federated token (workload
// identity) or a JWT built and signed elsewhere. For a certificate whose
// key is a crypto.Signer (HSM, Key Vault), NewClientCertificateCredential
// builds and signs the assertion itself. assertion is called for each fetch from Entra, with
// a ctx bounded by the fetch timeout, and must be safe for concurrent use.
// Its error text is never shown: entra reports that the assertion callback
// failed and wraps the error.
func NewClientAssertionCredential(tenantID, clientID string, assertion func(ctx context.Context) (string, error), opts *Options) (*Credential, error) {
	if assertion == nil {
		return nil, configError("the assertion callback is nil")
	}
	return newCredential(tenantID, clientID, opts, func(cfg flows.Config, _ settings) (*flows.App, error) {
		return flows.NewAssertion(cfg, func(ctx context.Context, _, _ string) (string, error) { return assertion(ctx) })
	})
}

// newCredential validates the shared inputs and builds the credential
// around the flow made by mk.
func newCredential(tenantID, clientID string, opts *Options, mk func(flows.Config, settings) (*flows.App, error)) (*Credential, error) {
	s := opts.resolve()
	if err := validTenant(tenantID); err != nil {
		return nil, err
	}
	if err := validClientID(clientID); err != nil {
		return nil, err
	}
	host := s.cloud.AuthorityHost()
	if err := validAuthorityHost(host); err != nil {
		return nil, err
	}
	if err := validAllowedHosts(s.allowedHosts); err != nil {
		return nil, err
	}
	c := &Credential{s: s, tenantID: tenantID, clientID: clientID, authority: host + "/" + tenantID}
	hc := entrahttp.New(entrahttp.Options{Base: s.httpClient, Logger: s.logger})
	app, err := mk(flows.Config{
		Authority:                c.authority,
		ClientID:                 clientID,
		HTTPClient:               hc,
		DisableInstanceDiscovery: s.disableInstanceDiscovery,
	}, s)
	if err != nil {
		return nil, fromFlowError("config", err)
	}
	c.app = app
	c.cache = newCache(s, c.fetch, func(key string) string { return storeKey(host, tenantID, clientID, key) })
	return c, nil
}

// fetch is the cache's fetchFunc: one client credentials request.
func (c *Credential) fetch(ctx context.Context, scopes []string, claims string) (tokenResult, error) {
	r, err := c.app.AppToken(ctx, scopes, claims)
	if err != nil {
		err = fromFlowError("token", err)
		// Defence in depth: a proxy or a fake Entra could echo the
		// request body into error_description.
		if e, ok := err.(*Error); ok && c.secret != "" && strings.Contains(e.Description, c.secret) {
			e.Description = strings.ReplaceAll(e.Description, c.secret, "[REDACTED]")
		}
		return tokenResult{}, err
	}
	return tokenResult{accessToken: r.AccessToken, expiresOn: r.ExpiresOn, refreshOn: r.RefreshOn}, nil
}

// Cloud returns the cloud the credential gets tokens from. Safe for
// concurrent use.
func (c *Credential) Cloud() Cloud { return c.s.cloud }

// entryFor returns the cache entry for scopes, validating them first. A
// single scope already in normal form is found without allocating.
func (c *Credential) entryFor(scopes []string) (*entry, error) {
	if len(scopes) == 1 {
		if e := c.cache.lookup(scopes[0]); e != nil {
			return e, nil
		}
	}
	set, err := appScopes(c.s.cloud, scopes)
	if err != nil {
		return nil, err
	}
	return c.cache.entry(set), nil
}

// Token returns a valid access token for scopes (exactly one
// "<resource>/.default" scope for app-only tokens). Scopes are validated
// before any network call.
//
// ctx bounds only how long this call waits: if ctx ends first, Token
// returns an error for which errors.Is(err, context.Canceled) (or
// DeadlineExceeded) holds, while the fetch itself goes on, bounded by
// Options.FetchTimeout, and fills the cache for later callers. ctx values
// reach the fetch. The returned token is shared: do not modify it. Safe for
// concurrent use.
func (c *Credential) Token(ctx context.Context, scopes ...string) (*oauth2.Token, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	e, err := c.entryFor(scopes)
	if err != nil {
		return nil, err
	}
	return e.token(ctx)
}

// TokenSource returns an oauth2.TokenSource for scopes, bound to its cache
// entry: at steady state its Token is one atomic load and one flag check,
// with no lock, map lookup, clock read or allocation. Inside the refresh
// window it returns the current token at once while one background refresh
// runs; only a cold or expired entry makes it wait.
//
// oauth2.TokenSource.Token takes no ctx, so ctx here supplies values only
// (context.WithoutCancel): cancelling it has no effect, and each fetch is
// bounded by Options.FetchTimeout instead. Invalid scopes are reported by
// every call of Token, as an *Error. The returned tokens are shared: do not
// modify them. Safe for concurrent use.
func (c *Credential) TokenSource(ctx context.Context, scopes ...string) oauth2.TokenSource {
	set, err := appScopes(c.s.cloud, scopes)
	return c.source(ctx, set, err)
}

// source returns the TokenSource of a validated scope set, or one that
// reports err.
func (c *Credential) source(ctx context.Context, set scopeSet, err error) *tokenSource {
	if err != nil {
		return &tokenSource{err: err}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return &tokenSource{e: c.cache.entry(set), ctx: context.WithoutCancel(ctx)}
}

// tokenWithClaims fetches a fresh token for scopes carrying a claims
// request (from a claims challenge), bypassing the cache lookup, and makes
// it the entry's current token. ctx bounds the call.
func (c *Credential) tokenWithClaims(ctx context.Context, scopes []string, claims string) (*oauth2.Token, error) {
	e, err := c.entryFor(scopes)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.s.fetchTimeout)
	defer cancel()
	s, err := e.fetchEntra(ctx, claims)
	if err != nil {
		return nil, err
	}
	return s.token, nil
}

// resourceHost returns the host that may receive tokens for resource: the
// host of an https resource, with the cloud's aliases resolved (Graph's
// application ID is Graph; ARM's audience is served by the ARM endpoint),
// or "" when the resource names no host.
func (c *Credential) resourceHost(resource string) string {
	cloud := c.s.cloud
	switch {
	case sameResource(resource, cloud.GraphURL(), cloud):
		return resourceHost(cloud.GraphURL())
	case cloud.ARMScope() != "" && sameResource(resource, strings.TrimSuffix(cloud.ARMScope(), defaultSuffix), cloud):
		return resourceHost(cloud.ARMEndpoint())
	}
	return resourceHost(resource)
}

// tokenSource is the oauth2.TokenSource of one cache entry.
type tokenSource struct {
	e   *entry
	ctx context.Context // values only
	err error           // invalid scopes
}

// Token returns the entry's token; see Credential.TokenSource.
func (ts *tokenSource) Token() (*oauth2.Token, error) {
	if ts.e == nil {
		return nil, ts.err
	}
	return ts.e.token(ts.ctx)
}

// Client returns an *http.Client that sends requests with a token for
// scopes, through a Transport that attaches it only to https requests for
// the scope's resource host (or, for a resource that is not an https URL
// such as api://..., to Options.AllowedHosts) and answers a claims
// challenge once. ctx supplies values only, as for TokenSource. The
// transport underneath is Options.HTTPClient's. Invalid scopes or a missing
// AllowedHosts make every request fail with an *Error. Safe for concurrent
// use.
func (c *Credential) Client(ctx context.Context, scopes ...string) *http.Client {
	set, err := appScopes(c.s.cloud, scopes)
	t := &Transport{
		Source: c.source(ctx, set, err),
		Base:   c.s.transport(),
		Claims: func(ctx context.Context, claims string) (*oauth2.Token, error) {
			return c.tokenWithClaims(ctx, set.scopes, claims)
		},
	}
	switch host := c.resourceHost(set.resource); {
	case err != nil:
		t.err = err
	case host != "":
		t.AllowedHosts = []string{host}
	case len(c.s.allowedHosts) > 0:
		t.AllowedHosts = c.s.allowedHosts
	default:
		t.err = configError("resource %q is not an https URL, so entra cannot tell which host may receive its token: set Options.AllowedHosts", set.resource)
	}
	return &http.Client{Transport: t}
}
