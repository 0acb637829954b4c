package entra

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/flows"
)

// userTokens is what every user credential shares: the signed-in accounts
// (accountBook) and one cache entry per (account, scope set), filled
// silently from the account's refresh token.
type userTokens struct {
	s     settings
	cache *cache
	book  *accountBook
	// silent redeems the account's refresh token (or returns MSAL's cached
	// access token) for scopes.
	silent func(ctx context.Context, ac flows.AccountCache, homeID string, scopes []string, claims string) (flows.UserResult, error)
	// secret is the client secret of a web app, scrubbed from errors.
	secret string
}

// init builds the cache and the account book. The cache keeps access
// tokens in memory only: with a Store, each account (its refresh token and
// access tokens) is persisted by the book.
func (u *userTokens) init(s settings, tenantID, clientID string) {
	u.s = s
	mem := s
	mem.store = nil
	u.cache = newCache(mem, u.fetch, func(string) string { return "" })
	u.book = newAccountBook(s, u.cache, tenantID, clientID)
}

// fetch is the cache's fetchFunc: a silent request for the entry's
// account, under the account's turn.
func (u *userTokens) fetch(ctx context.Context, set scopeSet, claims string) (tokenResult, error) {
	var r flows.UserResult
	rec := &assertionRecord{}
	ctx = context.WithValue(ctx, assertionRecordKey{}, rec)
	err := u.book.use(ctx, set.account, func(ac flows.AccountCache) error {
		var err error
		r, err = u.silent(ctx, ac, set.account, set.scopes, claims)
		return err
	})
	if errors.Is(err, flows.ErrNoAccount) {
		return tokenResult{}, &Error{Op: "token", Code: "no_account",
			Description: "this credential holds no signed-in account with that ID",
			Hint:        "sign the user in again: the account signed out, or signed in through another credential or process without a shared Store",
			Err:         ErrInteractionRequired}
	}
	if err != nil {
		challenge := claimsOf(err)
		if challenge == "" {
			challenge = validClaims(claims)
		}
		return tokenResult{}, withClaims(classifyUserError(clientError("token", err, rec, u.secret)), challenge)
	}
	return onClock(u.s.clock, r.Result), nil
}

// signedIn records a sign-in's account (its MSAL cache in ac) and caches
// the token it brought for scopes.
func (u *userTokens) signedIn(ctx context.Context, r flows.UserResult, ac *flows.MemoryAccountCache, scopes []string) (Account, error) {
	acct := accountOf(r.Account)
	if err := u.book.adopt(ctx, acct, ac.Blob); err != nil {
		return Account{}, err
	}
	// A new sign-in starts a new session: tokens of the old one (which
	// may be revoked, or lack claims a step-up asked for) and what their
	// failures said are dropped; other scopes are fetched again silently.
	u.cache.removeAccount(acct.HomeAccountID)
	set, err := userScopes(u.s.cloud, acct.HomeAccountID, scopes)
	if err != nil {
		return Account{}, err
	}
	e := u.cache.entry(set)
	if _, _, err := u.cache.install(e, u.cache.seq.Add(1), onClock(u.s.clock, r.Result), "", "entra"); err != nil {
		return Account{}, err
	}
	if u.cache.ctx.Err() != nil {
		return Account{}, closedError()
	}
	return acct, nil
}

func (u *userTokens) token(ctx context.Context, account Account, scopes []string) (*oauth2.Token, error) {
	if h := u.lookupHot(account.HomeAccountID, scopes); h != nil {
		if t := h.token.Load(); t != nil {
			h.touch()
			return t, nil
		}
	}
	set, err := u.userSet(account, scopes)
	if err != nil {
		return nil, err
	}
	e := u.cache.entry(set)
	if t := e.hot.token.Load(); t != nil {
		e.hot.touch()
		return t, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	t, _, err := e.slow(ctx)
	return t, err
}

func (u *userTokens) tokenSource(ctx context.Context, account Account, scopes []string) oauth2.TokenSource {
	set, err := u.userSet(account, scopes)
	return newSource(u.cache, ctx, set, err)
}

func (u *userTokens) client(ctx context.Context, account Account, scopes []string) *http.Client {
	set, err := u.userSet(account, scopes)
	return newClient(u.s, u.cache, ctx, set, err)
}

// userSet validates account and scopes into a cache key.
func (u *userTokens) userSet(account Account, scopes []string) (scopeSet, error) {
	if account.HomeAccountID == "" {
		return scopeSet{}, &Error{Op: "token", Code: "no_account", Description: "no account given",
			Hint: "pass the Account returned by the sign-in (or one of Accounts)", Err: ErrInteractionRequired}
	}
	return userScopes(u.s.cloud, account.HomeAccountID, scopes)
}

func (u *userTokens) signOut(ctx context.Context, account Account) error {
	if ctx == nil {
		ctx = context.Background()
	}
	err := u.book.remove(ctx, account.HomeAccountID)
	u.cache.removeAccount(account.HomeAccountID)
	return err
}

// withClaims sets the claims challenge of an error that asks for a new
// sign-in.
func withClaims(err error, claims string) error {
	var e *Error
	if errors.As(err, &e) && e.Claims == "" && errors.Is(e, ErrInteractionRequired) {
		e.Claims = claims
	}
	return err
}
