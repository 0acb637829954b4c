package entra

import (
	"context"
	"crypto/cipher"
	"crypto/subtle"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// maxCallbackBody bounds the form a callback may post; maxCallbackQuery
// its query.
const (
	maxCallbackBody  = 64 << 10
	maxCallbackQuery = 16 << 10
)

// WebApp signs users in to a web app (a confidential client) with the
// authorization code flow, PKCE (S256), state and nonce, validates the id
// token of every sign-in, and then gets tokens for each signed-in user as
// UserCredential does: one cache entry per (account, scope set) with the
// app-only hot path, filled silently from the account's refresh token,
// bounded by Options.MaxCacheEntries and Options.IdleTTL. With
// Options.Store, accounts persist there, so every instance of the app
// serves every user. A WebApp is safe for concurrent use.
type WebApp struct {
	userTokens
	app         *flows.WebApp
	redirectURI string
	sealer      cipher.AEAD
	idTokens    *idTokenChecker
}

// SignInOptions tunes a sign-in. The zero value works.
type SignInOptions struct {
	// LoginHint pre-fills the username; DomainHint skips the home realm
	// page ("contoso.com", or "consumers"/"organizations"); Prompt is
	// "login", "consent", "select_account" or "none".
	LoginHint, DomainHint, Prompt string
	// Claims is a claims challenge to satisfy: the Claims of an *Error
	// for which errors.Is(err, ErrInteractionRequired) holds (MFA
	// step-up, Conditional Access, a resource's CAE challenge).
	Claims string
	// FormPost asks Entra to POST the answer to the redirect URI
	// (response_mode=form_post) instead of putting it in the query. The
	// sign-in cookie is then SameSite=None, which browsers accept only
	// over https.
	FormPost bool
	// ReturnTo is handed back to the callback's done function unchanged,
	// e.g. the page to show after sign-in. Check it is one of your own
	// paths before redirecting to it.
	ReturnTo string
}

// NewWebApp returns a WebApp for the app clientID of tenantID (a tenant
// ID or domain, or "organizations"/"common" for multi-tenant apps),
// authenticating with auth. redirectURI is the registered Web redirect
// URI the callback handler serves: https, or http on localhost for
// development. Inputs are validated here, before any network call.
func NewWebApp(tenantID, clientID, redirectURI string, auth ClientAuth, opts *Options) (*WebApp, error) {
	s := opts.resolve()
	if err := validUserTenant(tenantID); err != nil {
		return nil, err
	}
	if err := validApp(s, clientID); err != nil {
		return nil, err
	}
	if err := validWebRedirect(redirectURI); err != nil {
		return nil, err
	}
	sealer, err := newSealer(s.signInKey)
	if err != nil {
		return nil, err
	}
	cfg := userFlowConfig(s, tenantID, clientID)
	cfg.OnAssertion = recordAssertion
	fa, err := auth.flowAuth(cfg, s)
	if err != nil {
		return nil, fromFlowError("config", err)
	}
	app, err := flows.NewWebApp(cfg, fa)
	if err != nil {
		return nil, fromFlowError("config", err)
	}
	a := &WebApp{app: app, redirectURI: redirectURI, sealer: sealer,
		idTokens: newIDTokenChecker(s, tenantID, clientID, cfg.HTTPClient.(*entrahttp.Client))}
	a.init(s, tenantID, clientID)
	a.silent = app.Silent
	a.secret = auth.secret
	return a, nil
}

// validWebRedirect accepts an absolute https URI, or http on a loopback
// host, without a fragment.
func validWebRedirect(raw string) error {
	u, err := url.Parse(raw)
	loopback := err == nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
	if err != nil || u.Host == "" || u.Fragment != "" || !(u.Scheme == "https" || u.Scheme == "http" && loopback) {
		return configErrorHint("pass the Web redirect URI registered for the app, e.g. https://app.example.com/auth/callback (http only on localhost)",
			"the redirect URI %q is not an absolute https URI", oneLine(raw, 200))
	}
	return nil
}

// StartSignIn begins a sign-in for scopes (those of one API the app will
// call; sign-in scopes are added): it returns the URL of Entra's sign-in
// page to redirect the browser to, and pending, an opaque value (sealed
// with AES-256-GCM: integrity-protected and unreadable) that the app keeps
// until the callback, e.g. in a cookie, and passes to CompleteSignIn. It
// holds the state, nonce and PKCE verifier of this sign-in and expires
// after 10 minutes. ctx bounds the metadata request (once an hour).
func (a *WebApp) StartSignIn(ctx context.Context, opts *SignInOptions, scopes ...string) (signInURL, pending string, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var o SignInOptions
	if opts != nil {
		o = *opts
	}
	if o.Claims != "" && validClaims(o.Claims) == "" {
		return "", "", configErrorHint("pass Error.Claims as it came (a JSON object)", "the claims challenge is not a JSON object")
	}
	set, err := userScopes(a.s.cloud, "", scopes)
	if err != nil {
		return "", "", err
	}
	p := pendingSignIn{State: randomValue(), Nonce: randomValue(), Verifier: randomValue(), Scopes: set.scopes,
		Claims: o.Claims, ReturnTo: o.ReturnTo, Created: a.s.clock.Now().Unix()}
	mode := "query"
	if o.FormPost {
		mode = "form_post"
	}
	u, err := a.app.AuthURL(ctx, flows.AuthRequest{RedirectURI: a.redirectURI, Scopes: set.scopes, State: p.State,
		Nonce: p.Nonce, Challenge: challengeOf(p.Verifier), LoginHint: o.LoginHint, DomainHint: o.DomainHint,
		Prompt: o.Prompt, Claims: o.Claims, ResponseMode: mode})
	if err != nil {
		return "", "", fromFlowError("sign-in", err)
	}
	pending = seal(a.sealer, p)
	if len(pending) > maxPending {
		return "", "", configErrorHint("shorten SignInOptions.ReturnTo and Claims", "the sign-in state is too large for a cookie")
	}
	return u, pending, nil
}

// CompleteSignIn finishes the sign-in pending (from StartSignIn) with the
// callback request r (query or form_post): it checks the state in
// constant time, redeems the code with the PKCE verifier, validates the id
// token (signature through the tenant's key set, issuer, audience, nonce,
// lifetime; RS256 only) and returns the signed-in account; its token for
// the sign-in's scopes is cached. ctx bounds the requests. Errors are
// *Error: an answer carrying an error (ErrAuthorizationDeclined,
// ErrInteractionRequired for consent or interaction), a state that does
// not match (Code "state_mismatch"; the state is not echoed), a refused
// code (a wrong verifier: Code "invalid_grant"), ErrInvalidIDToken. Safe
// for concurrent use.
func (a *WebApp) CompleteSignIn(ctx context.Context, r *http.Request, pending string) (Account, error) {
	form, err := callbackForm(r)
	if err != nil {
		return Account{}, err
	}
	acct, _, err := a.complete(ctx, form, pending)
	return acct, err
}

// complete finishes the sign-in pending with the callback's parameters
// form (from callbackForm).
func (a *WebApp) complete(ctx context.Context, form url.Values, pending string) (Account, pendingSignIn, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if a.cache.ctx.Err() != nil {
		return Account{}, pendingSignIn{}, closedError()
	}
	p, err := open(a.sealer, pending, a.s.clock.Now())
	if err != nil {
		return Account{}, pendingSignIn{}, &Error{Op: "sign-in", Code: "no_sign_in", Description: "no sign-in of this browser is pending (its state is missing, altered or older than 10 minutes)",
			Hint: "start the sign-in again; behind several instances, give them all the same Options.SignInKey", Err: errPending}
	}
	if subtle.ConstantTimeCompare([]byte(form.Get("state")), []byte(p.State)) != 1 {
		return Account{}, p, &Error{Op: "sign-in", Code: "state_mismatch",
			Description: "the answer's state is not the pending sign-in's (a forged or replayed callback: cross-site request forgery)",
			Hint:        "start the sign-in again from this app"}
	}
	if e := form.Get("error"); e != "" {
		return Account{}, p, callbackError(&flows.CallbackError{Code: e, Description: form.Get("error_description")})
	}
	code := form.Get("code")
	if code == "" {
		return Account{}, p, &Error{Op: "sign-in", Code: "no_code", Description: "the answer carries neither a code nor an error",
			Hint: "check that the redirect URI points at the callback handler"}
	}
	ac := &flows.MemoryAccountCache{}
	rec := &assertionRecord{}
	res, idToken, err := a.app.Redeem(context.WithValue(ctx, assertionRecordKey{}, rec), ac, code, a.redirectURI, p.Scopes, p.Verifier, p.Claims)
	if err != nil {
		return Account{}, p, withClaims(classifyUserError(clientError("sign-in", err, rec, a.secret)), claimsOf(err))
	}
	cl, err := a.idTokens.check(ctx, idToken, p.Nonce)
	if err != nil {
		return Account{}, p, err
	}
	if cl.Oid != res.Account.ObjectID && res.Account.ObjectID != "" {
		return Account{}, p, idTokenError("it names another user than the token answer", "")
	}
	acct, err := a.signedIn(ctx, res, ac, p.Scopes)
	return acct, p, err
}

// callbackForm reads the callback's parameters, bounded in size.
func callbackForm(r *http.Request) (url.Values, error) {
	bad := func(why string) error {
		return &Error{Op: "sign-in", Code: "bad_callback", Description: "the sign-in answer is " + why,
			Hint: "start the sign-in again; if it recurs, check what sits between the browser and this app"}
	}
	if r == nil || r.URL == nil {
		return nil, bad("missing")
	}
	if len(r.URL.RawQuery) > maxCallbackQuery {
		return nil, bad("too large")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, bad("malformed")
	}
	if r.Method == http.MethodPost {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			return nil, bad("not a form")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBody+1))
		if err != nil || len(body) > maxCallbackBody {
			return nil, bad("too large or unreadable")
		}
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, bad("malformed")
		}
		return f, nil
	} else if r.Method != http.MethodGet {
		return nil, bad("not a GET or POST")
	}
	return q, nil
}

// Token returns a valid access token for account and scopes, as
// UserCredential.Token does. Safe for concurrent use.
func (a *WebApp) Token(ctx context.Context, account Account, scopes ...string) (*oauth2.Token, error) {
	return a.token(ctx, account, scopes)
}

// TokenSource returns an oauth2.TokenSource for account and scopes, as
// UserCredential.TokenSource does. ctx supplies values only. Safe for
// concurrent use.
func (a *WebApp) TokenSource(ctx context.Context, account Account, scopes ...string) oauth2.TokenSource {
	return a.tokenSource(ctx, account, scopes)
}

// Client returns an *http.Client sending account's token for scopes, as
// UserCredential.Client does. Safe for concurrent use.
func (a *WebApp) Client(ctx context.Context, account Account, scopes ...string) *http.Client {
	return a.client(ctx, account, scopes)
}

// Accounts returns the accounts signed in through this WebApp (and, with
// a Store, those a token call loaded from it). ctx is unused. Safe for
// concurrent use.
func (a *WebApp) Accounts(ctx context.Context) ([]Account, error) { return a.book.list(), nil }

// SignOut forgets account in this app: its refresh token and cached
// tokens, in memory and in the Store (a tombstone stays there: other
// instances refuse to refresh the account, and serve access tokens
// already in their memory only until they expire). Entra's own session
// cookie is untouched: send the browser to SignOutURL for that. ctx bounds the wait
// for a refresh in flight. Safe for concurrent use.
func (a *WebApp) SignOut(ctx context.Context, account Account) error { return a.signOut(ctx, account) }

// SignOutURL returns Entra's sign-out page for the browser, which then
// returns to postLogoutRedirectURI (registered as the app's front-channel
// logout URL or a redirect URI; "" for none).
func (a *WebApp) SignOutURL(postLogoutRedirectURI string) string {
	u := a.s.cloud.AuthorityHost() + "/" + a.book.tenantID + "/oauth2/v2.0/logout"
	if postLogoutRedirectURI != "" {
		u += "?post_logout_redirect_uri=" + url.QueryEscape(postLogoutRedirectURI)
	}
	return u
}

// Cloud returns the cloud the app signs users in with.
func (a *WebApp) Cloud() Cloud { return a.s.cloud }

// Close stops the app's timers and background refreshes; later sign-ins
// and token calls fail with ErrClosed.
func (a *WebApp) Close() error {
	a.cache.close()
	return nil
}
