package entra

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"reflect"
	"strings"
	"time"

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
	secret    string // scrubbed from error text; "" for other credentials
}

// NewClientSecretCredential returns a Credential that authenticates with a
// client secret. tenantID is the directory (tenant) ID or a verified domain
// such as contoso.onmicrosoft.com; clientID is the application (client) ID.
// Inputs are validated here, before any network call: errors are *Error with
// Op "config" wrapping ErrConfig. Nothing is fetched until a token is
// needed.
func NewClientSecretCredential(tenantID, clientID, secret string, opts *Options) (*Credential, error) {
	if strings.TrimSpace(secret) == "" {
		return nil, configErrorHint("pass the secret's Value from Certificates & secrets in the app registration (shown once when created), not its Secret ID", "the client secret is empty: pass the secret's Value from the app registration")
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
	if err := checkCertificate(certs, key); err != nil {
		return nil, err
	}
	certs = append([]*x509.Certificate(nil), certs...)
	return newCredential(tenantID, clientID, opts, func(cfg flows.Config, s settings) (*flows.App, error) {
		return flows.NewCertificate(cfg, certs, key, s.sendCertificateChain)
	})
}

// checkCertificate holds certs and key to what a certificate credential
// needs: an RSA key (or signer) matching certs[0].
func checkCertificate(certs []*x509.Certificate, key crypto.PrivateKey) error {
	if len(certs) == 0 || certs[0] == nil {
		return configErrorHint("load the certificate and key with entra.ParseCertificates and pass its certificates; the first must match the key", "no certificate given")
	}
	signer, ok := key.(crypto.Signer)
	if v := reflect.ValueOf(key); !ok || !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return configErrorHint("pass the *rsa.PrivateKey returned by entra.ParseCertificates, or an RSA crypto.Signer (HSM, Key Vault)", "the private key is missing or cannot sign (want an RSA key)")
	}
	if _, isRSA := signer.Public().(*rsa.PublicKey); !isRSA {
		return configErrorHint("use an RSA certificate for the app registration, or sign the assertion yourself with NewClientAssertionCredential", "the private key is %T: Entra certificate credentials are RSA (the assertion is signed PS256); "+
			"for another key type sign the assertion yourself with NewClientAssertionCredential", signer.Public())
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(certs[0].PublicKey) {
		return configErrorHint("put the certificate whose public key matches the key first; entra.ParseCertificates orders them for you", "the private key does not match the first certificate")
	}
	return nil
}

// NewClientAssertionCredential returns a Credential that authenticates with
// a client assertion made by assertion: a federated token (workload
// identity) or a JWT built and signed elsewhere. For a certificate whose
// key is a crypto.Signer (HSM, Key Vault), NewClientCertificateCredential
// builds and signs the assertion itself. assertion is called for each
// fetch from Entra, with a ctx bounded by the fetch timeout, and must be
// safe for concurrent use. When it fails, the token call fails with an
// *Error of Code "assertion_failed" that wraps its error (errors.Is and
// errors.As reach it) but never shows its text, which may hold secrets.
func NewClientAssertionCredential(tenantID, clientID string, assertion func(ctx context.Context) (string, error), opts *Options) (*Credential, error) {
	if assertion == nil {
		return nil, configErrorHint("pass a function that returns a signed client assertion, e.g. a workload identity token read from its file", "the assertion callback is nil")
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
	if err := validApp(s, clientID); err != nil {
		return nil, err
	}
	host := s.cloud.AuthorityHost()
	c := &Credential{s: s, tenantID: tenantID, clientID: clientID, authority: host + "/" + tenantID}
	hc := entrahttp.New(entrahttp.Options{Base: s.httpClient, Logger: s.logger, TrustedHosts: trustedHosts(s)})
	app, err := mk(flows.Config{
		Authority:                c.authority,
		ClientID:                 clientID,
		HTTPClient:               hc,
		DisableInstanceDiscovery: s.disableInstanceDiscovery,
		ClientCapabilities:       s.capabilities(),
		OnAssertion:              recordAssertion,
	}, s)
	if err != nil {
		return nil, fromFlowError("config", err)
	}
	c.app = app
	c.cache = newCache(s, c.fetch, func(key string) string { return storeKey(host, tenantID, clientID, key) })
	c.cache.inspect = c.rolesWarning
	return c, nil
}

// fetch is the cache's fetchFunc: one client credentials request. Errors
// never carry the secret or an assertion sent with this request, in any
// encoding.
func (c *Credential) fetch(ctx context.Context, set scopeSet, claims string) (tokenResult, error) {
	rec := &assertionRecord{}
	r, err := c.app.AppToken(context.WithValue(ctx, assertionRecordKey{}, rec), set.scopes, claims)
	if err != nil {
		return tokenResult{}, clientError("token", err, rec, c.secret)
	}
	return onClock(c.s.clock, r), nil
}

// clientError is fromFlowError for a confidential client's request: it
// never carries secret or an assertion filed in rec, in any encoding, and
// a failing assertion callback or signer becomes "assertion_failed".
func clientError(op string, err error, rec *assertionRecord, secret string) error {
	if cause := rec.failure(); cause != nil {
		return &Error{Op: op, Code: "assertion_failed",
			Description: "the client assertion could not be made (the callback's or signer's error is wrapped, its text withheld)",
			Hint:        "check the assertion callback or signer: for a federated credential, that its token file or endpoint is readable",
			Err:         cause}
	}
	secrets := rec.sent()
	if secret != "" {
		secrets = append(secrets, secret)
	}
	return fromFlowErrorRedacting(op, err, secrets)
}

// onClock moves a fresh result onto the cache's clock: MSAL stamps expiry
// and refresh times as the machine's time.Now plus Entra's relative
// expires_in and refresh_in, while the cache runs on Options.Clock (the
// same clock, except in tests).
func onClock(clock Clock, r flows.Result) tokenResult {
	now, machine := clock.Now(), time.Now()
	t := tokenResult{accessToken: r.AccessToken, expiresOn: now.Add(r.ExpiresOn.Sub(machine))}
	if !r.RefreshOn.IsZero() {
		t.refreshOn = now.Add(r.RefreshOn.Sub(machine))
	}
	return t
}

// Cloud returns the cloud the credential gets tokens from. Safe for
// concurrent use.
func (c *Credential) Cloud() Cloud { return c.s.cloud }

// Close stops the credential's timers and background refreshes and cancels
// fetches in flight; later calls of Token, of its TokenSources, Clients and
// GraphClients fail with an *Error wrapping ErrClosed. Cached tokens are
// dropped from memory (a Store keeps its copies). Close is idempotent and
// safe for concurrent use; the first call returns once background
// refreshes have ended (fetches that callers wait for are cancelled, and
// their callers get ErrClosed) and Store saves in flight have ended or
// used up Options.StoreTimeout.
func (c *Credential) Close() error {
	c.cache.close()
	return nil
}
