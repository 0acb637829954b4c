package entra

import (
	"context"
	"crypto/x509"
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// OnBehalfOfOptions configures an OnBehalfOfCredential: the Options every
// credential takes, plus what only the on-behalf-of flow needs. nil means
// defaults.
type OnBehalfOfOptions struct {
	Options

	// AppIDURIs lists the App ID URIs of this API other than
	// "api://<client ID>" (which, like the client ID, is always accepted),
	// e.g. "https://contoso.com/orders-api". An incoming token whose aud
	// is none of these is refused before any request (ErrBadAssertion).
	AppIDURIs []string

	// SessionIdleTimeout ends a long-running session (StartSession) that
	// was not used for this long. 0 means 24 hours.
	SessionIdleTimeout time.Duration
}

// defaultSessionIdle is the default OnBehalfOfOptions.SessionIdleTimeout.
const defaultSessionIdle = 24 * time.Hour

// OnBehalfOfCredential gets tokens for a downstream API on behalf of the
// user who called this API (the OAuth 2.0 on-behalf-of flow): the user's
// access token to this API (the user assertion) is exchanged for a token
// to the downstream API, as that user.
//
// Make one per app and share it: the user assertion is given per call.
// Each (assertion, scope set) has its own cache entry, with the hot path,
// single flight, proactive refresh, remembered failures and Store
// persistence of Credential; entries are bounded by
// Options.MaxCacheEntries and Options.IdleTTL, so memory stays flat
// however many users pass through. Entries are keyed in memory by a keyed
// 128-bit hash of the assertion and in a Store by its SHA-256: the
// assertion itself is never kept, used as a key, logged or put in an
// error.
//
// An assertion that cannot succeed (a Microsoft Graph token, an id_token,
// a token for another app, tenant or cloud, an expired token) is refused
// before any request to Entra, with an *Error wrapping ErrBadAssertion
// whose Hint names the fix.
//
// An OnBehalfOfCredential is safe for concurrent use.
type OnBehalfOfCredential struct {
	s           settings
	tenantID    string
	clientID    string
	audiences   []string // accepted aud values, lower-cased
	sessionIdle time.Duration
	app         *flows.OBOApp
	cache       *cache
	secret      string // scrubbed from error text
	storePrefix string // "entra/v1/obo/<host>/<tenant>/<client>/"

	// seeds key the in-memory hash of assertions and session keys.
	seed1, seed2 maphash.Seed

	sessionsMu sync.Mutex
	sessions   map[string]*session // by in-memory account of the session
}

// NewOnBehalfOfCredential returns an OnBehalfOfCredential for the API
// (middle tier) registered as clientID in tenantID, authenticating with
// auth. Inputs are validated here, before any network call: errors are
// *Error with Op "config" wrapping ErrConfig. Nothing is fetched until a
// token is needed.
func NewOnBehalfOfCredential(tenantID, clientID string, auth ClientAuth, opts *OnBehalfOfOptions) (*OnBehalfOfCredential, error) {
	var o OnBehalfOfOptions
	if opts != nil {
		o = *opts
	}
	s := o.Options.resolve()
	if err := validTenant(tenantID); err != nil {
		return nil, err
	}
	if err := validApp(s, clientID); err != nil {
		return nil, err
	}
	fa, err := oboAuth(auth, s)
	if err != nil {
		return nil, err
	}
	host := s.cloud.AuthorityHost()
	hc := entrahttp.New(entrahttp.Options{Base: s.httpClient, Logger: s.logger, TrustedHosts: trustedHosts(s)})
	app, err := flows.NewOBO(flows.Config{
		Authority:                host + "/" + tenantID,
		ClientID:                 clientID,
		HTTPClient:               hc,
		DisableInstanceDiscovery: s.disableInstanceDiscovery,
		OnAssertion:              recordAssertion,
	}, fa)
	if err != nil {
		return nil, fromFlowError("config", err)
	}
	c := &OnBehalfOfCredential{s: s, tenantID: tenantID, clientID: clientID, app: app, secret: auth.secret,
		sessionIdle: o.SessionIdleTimeout, seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(),
		storePrefix: "entra/v1/obo/" + host + "/" + tenantID + "/" + clientID + "/",
		sessions:    make(map[string]*session)}
	if c.sessionIdle <= 0 {
		c.sessionIdle = defaultSessionIdle
	}
	c.audiences = []string{strings.ToLower(clientID), "api://" + strings.ToLower(clientID)}
	for _, u := range o.AppIDURIs {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			c.audiences = append(c.audiences, strings.ToLower(u))
		}
	}
	c.cache = newCache(s, c.fetch, func(string) string { return "" })
	c.cache.storeKeyCtx = c.storeKeyOf
	return c, nil
}

// oboAuth validates auth as the app-only constructors validate their
// inputs.
func oboAuth(a ClientAuth, s settings) (flows.OBOAuth, error) {
	switch {
	case a.assertion != nil:
		f := a.assertion
		return flows.OBOAuth{Assertion: func(ctx context.Context, _, _ string) (string, error) { return f(ctx) }}, nil
	case a.certs != nil || a.key != nil:
		if err := checkCertificate(a.certs, a.key); err != nil {
			return flows.OBOAuth{}, err
		}
		return flows.OBOAuth{Certs: append([]*x509.Certificate(nil), a.certs...), Key: a.key, SendX5C: s.sendCertificateChain}, nil
	case strings.TrimSpace(a.secret) != "":
		return flows.OBOAuth{Secret: a.secret}, nil
	}
	return flows.OBOAuth{}, configErrorHint("pass entra.ClientSecret(value), entra.ClientCertificate(certs, key) or entra.ClientAssertion(f)",
		"no client credential given (an empty secret, or a zero ClientAuth)")
}

// Keys. An entry's account (the user partition of its cache key) is "a"
// (an assertion) or "s" (a session) followed by a 128-bit hash of the
// assertion or session key: two 64-bit maphash sums under two random
// seeds made for this credential. maphash is a keyed hash (AES-based
// where the CPU has AES, wyhash otherwise) meant for hash tables facing
// untrusted keys: without the seeds, which never leave the process, an
// attacker can neither compute a key nor aim for a collision. By chance,
// two of n cached assertions share a key with probability about n²/2¹²⁹
// (for 10⁶ users, below 10⁻²⁶). It costs well under a tenth of SHA-256 of
// a 1.5 KB token, which matters on the hot path. Store keys, which must be
// the same in every process, use SHA-256 instead (see obo_store.go).

// accountLen is the length of an in-memory account: a kind byte and 16
// hash bytes.
const accountLen = 17

// account returns the in-memory account of an assertion (kind 'a') or a
// session key (kind 's').
func (c *OnBehalfOfCredential) account(kind byte, secret string) [accountLen]byte {
	var k [accountLen]byte
	k[0] = kind
	h1, h2 := maphash.String(c.seed1, secret), maphash.String(c.seed2, secret)
	for i := range 8 {
		k[1+i] = byte(h1 >> (8 * i))
		k[9+i] = byte(h2 >> (8 * i))
	}
	return k
}

// maxHotScope is the longest scope the hot path looks up without
// allocating.
const maxHotScope = 256

// lookupHot returns the hot cell cached for (account, one scope in normal
// form), or nil. The key is built in a stack buffer: the lookup does not
// keep it, so nothing is allocated.
func (c *OnBehalfOfCredential) lookupHot(acct [accountLen]byte, scope string) *hotCell {
	if len(scope) > maxHotScope || strings.IndexByte(scope, ' ') >= 0 {
		return nil // a space: not one scope in normal form
	}
	var buf [accountLen + 1 + maxHotScope]byte
	n := copy(buf[:], acct[:])
	n++ // buf[n-1] is the 0 separator
	n += copy(buf[n:], scope)
	return c.cache.lookupHot(unsafe.String(&buf[0], n))
}

// assertionKey and sessionKey carry, in a fetch's ctx, the user assertion
// or session key the entry was asked for: the cache never keeps them.
type (
	assertionKey  struct{}
	sessionCtxKey struct{}
)

// Token returns a valid access token for the downstream scopes (those of
// one API, e.g. "api://downstream/access_as_user" or "User.Read" for
// Microsoft Graph) on behalf of the user whose access token to this API
// is userAssertion (the raw bearer token, without "Bearer "). A cached
// token is returned without any request; in its refresh window a
// background refresh runs. ctx bounds only the wait, as for
// Credential.Token. Errors are *Error: ErrBadAssertion for an assertion
// refused before any request (see the type's doc). A cache hit means this
// exact assertion passed those checks before; whether it is still valid
// is the job of the bearer validation in front of this call. The returned
// token is shared: do not modify it. Safe for concurrent use.
func (c *OnBehalfOfCredential) Token(ctx context.Context, userAssertion string, scopes ...string) (*oauth2.Token, error) {
	acct := c.account('a', userAssertion)
	if len(scopes) == 1 {
		if h := c.lookupHot(acct, scopes[0]); h != nil {
			if t := h.token.Load(); t != nil {
				h.touch()
				return t, nil
			}
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	set, err := c.userSet(acct, userAssertion, scopes)
	if err != nil {
		return nil, err
	}
	t, _, err := c.cache.entry(set).slow(context.WithValue(ctx, assertionKey{}, userAssertion))
	return t, err
}

// TokenSource returns an oauth2.TokenSource of tokens for the downstream
// scopes on behalf of the user of userAssertion, bound to their cache
// entry: its hot path is that of Credential.TokenSource. It holds the
// assertion (in its ctx) to fetch with; make one per incoming request.
// ctx supplies values only (context.WithoutCancel); each fetch is bounded
// by Options.FetchTimeout. An assertion refused before any request, or
// invalid scopes, are reported by every call of Token. Safe for
// concurrent use.
func (c *OnBehalfOfCredential) TokenSource(ctx context.Context, userAssertion string, scopes ...string) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	set, err := c.userSet(c.account('a', userAssertion), userAssertion, scopes)
	return newSource(c.cache, context.WithValue(ctx, assertionKey{}, userAssertion), set, err)
}

// userSet validates scopes and, unless the entry holds a token already,
// the assertion; it returns the entry's key.
func (c *OnBehalfOfCredential) userSet(acct [accountLen]byte, assertion string, scopes []string) (scopeSet, error) {
	set, err := userScopes(c.s.cloud, string(acct[:]), scopes)
	if err != nil {
		return scopeSet{}, err
	}
	set.account = set.key[:accountLen] // shares the key's bytes: one allocation less per entry
	if e := c.cache.lookup(set.key); e == nil || e.cur.Load() == nil {
		if err := c.checkAssertion(assertion, c.s.clock.Now()); err != nil {
			return scopeSet{}, err
		}
	}
	return set, nil
}

// fetch is the cache's fetchFunc: one on-behalf-of request for an
// assertion entry, or a refresh-token redemption for a session entry.
func (c *OnBehalfOfCredential) fetch(ctx context.Context, set scopeSet, claims string) (tokenResult, error) {
	if strings.HasPrefix(set.account, "s") {
		return c.sessionFetch(ctx, set)
	}
	a, _ := ctx.Value(assertionKey{}).(string)
	if acct := c.account('a', a); a == "" || string(acct[:]) != set.account {
		return tokenResult{}, &Error{Op: "token", Code: "no_assertion", Description: "the user assertion of this entry is not at hand",
			Hint: "get tokens through OnBehalfOfCredential.Token or TokenSource with the user's token"}
	}
	if err := c.checkAssertion(a, c.s.clock.Now()); err != nil {
		return tokenResult{}, err
	}
	rec := &assertionRecord{}
	r, err := c.app.Token(context.WithValue(ctx, assertionRecordKey{}, rec), a, set.scopes, claims)
	if err != nil {
		return tokenResult{}, interactionNeeded(c.flowError(rec, err, a), claimsOf(err))
	}
	return onClock(c.s.clock, r), nil
}

// interactionNeeded marks an on-behalf-of failure that only the user can
// cure (MFA, Conditional Access: interaction_required, AADSTS50076 or
// 50079, or any answer carrying a claims challenge) as
// ErrInteractionRequired with the challenge: the API sends it back to its
// client (bearer.Challenge), which signs the user in with those claims.
func interactionNeeded(err error, challenge string) error {
	e, ok := err.(*Error)
	if !ok || e.Err != nil {
		return err
	}
	if challenge == "" && e.Code != "interaction_required" && !e.HasCode(50076) && !e.HasCode(50079) {
		return err
	}
	e.Err, e.Claims = ErrInteractionRequired, challenge
	e.Hint = "the user must sign in again to satisfy a policy (MFA, Conditional Access): answer the request with " +
		"bearer.Challenge(w, err.Claims) so the client signs in with those claims and calls again"
	return e
}

// flowError maps a failed request; the error text never holds the user
// assertion, a refresh token, the secret or a client assertion sent.
func (c *OnBehalfOfCredential) flowError(rec *assertionRecord, err error, secrets ...string) error {
	if cause := rec.failure(); cause != nil {
		return &Error{Op: "token", Code: "assertion_failed",
			Description: "the client assertion could not be made (the callback's or signer's error is wrapped, its text withheld)",
			Hint:        "check the assertion callback or signer", Err: cause}
	}
	secrets = append(secrets, rec.sent()...)
	if c.secret != "" {
		secrets = append(secrets, c.secret)
	}
	e := fromFlowErrorRedacting("token", err, secrets)
	if ee, ok := e.(*Error); ok && ee.HasCode(50013) && ee.Hint == "" {
		ee.Hint = "the user assertion was not a token for this API: the client must request a token for " +
			"api://" + c.clientID + "/<scope> and send that (not its Microsoft Graph token or an id_token)"
	}
	return e
}

// Cloud returns the cloud the credential gets tokens from. Safe for
// concurrent use.
func (c *OnBehalfOfCredential) Cloud() Cloud { return c.s.cloud }

// Close stops the credential's timers and background refreshes and
// cancels fetches in flight, as Credential.Close does; later calls fail
// with an *Error wrapping ErrClosed. Sessions kept in a Store stay there.
// Idempotent and safe for concurrent use.
func (c *OnBehalfOfCredential) Close() error {
	c.cache.close()
	c.sessionsMu.Lock()
	clear(c.sessions)
	c.sessionsMu.Unlock()
	return nil
}
