package entra

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// UserCredential gets delegated tokens for users who signed in through it
// (a CLI or desktop app: a public client). After one sign-in, tokens for
// other scopes and other APIs come silently from the account's refresh
// token, which is replaced by the newest one on every use; each (account,
// scope set) has its own cache entry with the same hot path, proactive
// refresh and single flight as app-only tokens. Several accounts can be
// signed in at once.
//
// Accounts and their refresh tokens live in memory: a new process signs
// in again. A UserCredential is safe for concurrent use.
type UserCredential struct {
	s     settings
	app   *flows.PublicApp
	cache *cache
	// signIn runs the interactive part of the credential's flow.
	signIn func(ctx context.Context, scopes []string) (flows.UserResult, error)
	// turns serialises, per account, what may redeem or remove its refresh
	// token (silent requests, sign-out): the newest refresh token is always
	// the one redeemed, and a refresh in flight cannot bring a signed-out
	// account back.
	turns sync.Map // home account ID -> chan struct{} (capacity 1)
}

// newUserCredential validates the shared inputs of user credentials and
// builds the public client.
func newUserCredential(tenantID, clientID string, opts *Options) (*UserCredential, error) {
	s := opts.resolve()
	if err := validUserTenant(tenantID); err != nil {
		return nil, err
	}
	if err := validApp(s, clientID); err != nil {
		return nil, err
	}
	host := s.cloud.AuthorityHost()
	if s.store != nil {
		return nil, configErrorHint("leave Options.Store nil for a user credential: signed-in accounts are kept in memory, so a new process signs in again",
			"user credentials do not persist accounts through Options.Store")
	}
	hc := entrahttp.New(entrahttp.Options{Base: s.httpClient, Logger: s.logger, TrustedHosts: trustedHosts(s)})
	app, err := flows.NewPublic(flows.Config{Authority: host + "/" + tenantID, ClientID: clientID, HTTPClient: hc,
		DisableInstanceDiscovery: s.disableInstanceDiscovery})
	if err != nil {
		return nil, fromFlowError("config", err)
	}
	c := &UserCredential{s: s, app: app}
	c.cache = newCache(s, c.fetch, func(string) string { return "" })
	return c, nil
}

// validUserTenant accepts what validTenant accepts and the multi-tenant
// aliases a user can sign in through.
func validUserTenant(t string) error {
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers":
		return nil
	}
	return validTenant(t)
}

// SignIn signs a user in for scopes (those of one API, e.g. "User.Read"),
// through the credential's flow, and returns the account. The token it
// brings is cached for (account, scopes). ctx bounds the whole sign-in,
// the user's part included. Errors are *Error: errors.Is tells
// ErrAuthorizationDeclined, ErrDeviceCodeExpired and ErrBadDeviceCode
// apart, and a ctx error stays reachable. Safe for concurrent use.
func (c *UserCredential) SignIn(ctx context.Context, scopes ...string) (Account, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if c.cache.ctx.Err() != nil {
		return Account{}, closedError()
	}
	set, err := userScopes(c.s.cloud, "", scopes)
	if err != nil {
		return Account{}, err
	}
	r, err := c.signIn(ctx, set.scopes)
	if err != nil {
		return Account{}, err
	}
	acct := accountOf(r.Account)
	// A new sign-in cures what earlier failures of the account said.
	c.cache.forgetFailures(acct.HomeAccountID)
	set, _ = userScopes(c.s.cloud, acct.HomeAccountID, scopes)
	e := c.cache.entry(set)
	if _, _, err := c.cache.install(e, c.cache.seq.Add(1), onClock(c.s.clock, r.Result), "", "entra"); err != nil {
		return Account{}, err
	}
	if c.cache.ctx.Err() != nil {
		return Account{}, closedError()
	}
	return acct, nil
}

// turn waits for account's turn to use or remove its refresh token; the
// returned function ends it. ctx bounds the wait.
func (c *UserCredential) turn(ctx context.Context, account string) (func(), error) {
	v, _ := c.turns.LoadOrStore(account, make(chan struct{}, 1))
	ch := v.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctxError(ctx.Err())
	}
}

// signInError turns an error of the interactive flow into an *Error with
// Op "sign-in"; promptErr, when set, is the prompt's own failure.
func signInError(err, promptErr error) error {
	if promptErr != nil {
		return &Error{Op: "sign-in", Code: "prompt_failed", Description: "showing the sign-in prompt failed (its error is wrapped)",
			Hint: "check the prompt function given to the credential", Err: promptErr}
	}
	return classifyUserError(fromFlowError("sign-in", err))
}

// fetch is the cache's fetchFunc: a silent request for the entry's
// account, which redeems the account's refresh token when needed.
func (c *UserCredential) fetch(ctx context.Context, set scopeSet, claims string) (tokenResult, error) {
	done, err := c.turn(ctx, set.account)
	if err != nil {
		return tokenResult{}, err
	}
	defer done()
	r, err := c.app.Silent(ctx, set.account, set.scopes, claims)
	if errors.Is(err, flows.ErrNoAccount) {
		return tokenResult{}, &Error{Op: "token", Code: "no_account",
			Description: "this credential holds no signed-in account with that ID",
			Hint:        "call SignIn: the account signed out, or signed in through another credential or process",
			Err:         ErrInteractionRequired}
	}
	if err != nil {
		return tokenResult{}, classifyUserError(fromFlowError("token", err))
	}
	return onClock(c.s.clock, r.Result), nil
}

// Token returns a valid access token for account and scopes (those of one
// API), from the cache or silently from the account's refresh token. ctx
// bounds only the wait, as for Credential.Token. When only a new sign-in
// helps, errors.Is(err, ErrInteractionRequired) holds. Safe for concurrent
// use.
func (c *UserCredential) Token(ctx context.Context, account Account, scopes ...string) (*oauth2.Token, error) {
	set, err := c.userSet(account, scopes)
	if err != nil {
		return nil, err
	}
	e := c.cache.entry(set)
	if t := e.hot.token.Load(); t != nil {
		return t, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	t, _, err := e.slow(ctx)
	return t, err
}

// TokenSource returns an oauth2.TokenSource for account and scopes, bound
// to their cache entry: its hot path is that of Credential.TokenSource.
// ctx supplies values only. Errors are reported by every call of Token.
// Safe for concurrent use.
func (c *UserCredential) TokenSource(ctx context.Context, account Account, scopes ...string) oauth2.TokenSource {
	set, err := c.userSet(account, scopes)
	return newSource(c.cache, ctx, set, err)
}

// Client returns an *http.Client that sends requests with account's token
// for scopes, attached only to https requests for the scopes' resource
// host (Options.AllowedHosts for api://... resources), as Credential.Client
// does; e.g. Client(ctx, account, "User.Read") for Microsoft Graph of the
// credential's cloud. Safe for concurrent use.
func (c *UserCredential) Client(ctx context.Context, account Account, scopes ...string) *http.Client {
	set, err := c.userSet(account, scopes)
	return newClient(c.s, c.cache, ctx, set, err)
}

// userSet validates account and scopes into a cache key.
func (c *UserCredential) userSet(account Account, scopes []string) (scopeSet, error) {
	if account.HomeAccountID == "" {
		return scopeSet{}, &Error{Op: "token", Code: "no_account", Description: "no account given",
			Hint: "pass the Account returned by SignIn (or one of Accounts)", Err: ErrInteractionRequired}
	}
	return userScopes(c.s.cloud, account.HomeAccountID, scopes)
}

// Accounts returns the accounts signed in through this credential. Safe
// for concurrent use.
func (c *UserCredential) Accounts(ctx context.Context) ([]Account, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	accts, err := c.app.Accounts(ctx)
	if err != nil {
		return nil, fromFlowError("accounts", err)
	}
	out := make([]Account, 0, len(accts))
	for _, a := range accts {
		out = append(out, accountOf(a))
	}
	return out, nil
}

// SignOut forgets account: its refresh token and every cached token of
// it. A TokenSource of the account then answers ErrInteractionRequired.
// Signing out an unknown account is not an error. Safe for concurrent use.
func (c *UserCredential) SignOut(ctx context.Context, account Account) error {
	if ctx == nil {
		ctx = context.Background()
	}
	done, err := c.turn(ctx, account.HomeAccountID) // after any refresh in flight
	if err != nil {
		return err
	}
	defer done()
	if err := c.app.Remove(ctx, account.HomeAccountID); err != nil {
		return fromFlowError("sign-out", err)
	}
	c.cache.removeAccount(account.HomeAccountID)
	return nil
}

// Cloud returns the cloud the credential signs users in with.
func (c *UserCredential) Cloud() Cloud { return c.s.cloud }

// Close stops the credential's timers and background refreshes, as
// Credential.Close does; later calls of SignIn, Token, TokenSource and
// Client fail with ErrClosed (Accounts and SignOut still work).
func (c *UserCredential) Close() error {
	c.cache.close()
	return nil
}

func accountOf(a flows.Account) Account {
	return Account{HomeAccountID: a.HomeAccountID, ObjectID: a.ObjectID, TenantID: a.TenantID,
		Username: a.Username, AuthorityHost: a.Environment}
}
