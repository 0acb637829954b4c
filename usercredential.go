package entra

import (
	"context"
	"net/http"
	"strings"

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
// Accounts and their refresh tokens live in memory and, with
// Options.Store, in the Store, one key per account: a new process (or
// another instance sharing the Store) then gets tokens for the account
// without a new sign-in. A UserCredential is safe for concurrent use.
type UserCredential struct {
	userTokens
	app *flows.PublicApp
	// signIn runs the interactive part of the credential's flow, saving
	// the account's MSAL cache to ac.
	signIn func(ctx context.Context, ac flows.AccountCache, scopes []string, claims string) (flows.UserResult, error)
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
	app, err := flows.NewPublic(userFlowConfig(s, tenantID, clientID))
	if err != nil {
		return nil, fromFlowError("config", err)
	}
	c := &UserCredential{app: app}
	c.init(s, tenantID, clientID)
	c.silent = app.Silent
	return c, nil
}

// userFlowConfig is the flows.Config of a user credential.
func userFlowConfig(s settings, tenantID, clientID string) flows.Config {
	hc := entrahttp.New(entrahttp.Options{Base: s.httpClient, Logger: s.logger, TrustedHosts: trustedHosts(s)})
	return flows.Config{Authority: s.cloud.AuthorityHost() + "/" + tenantID, ClientID: clientID, HTTPClient: hc,
		DisableInstanceDiscovery: s.disableInstanceDiscovery, ClientCapabilities: s.capabilities()}
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
	return c.SignInWithClaims(ctx, "", scopes...)
}

// SignInWithClaims is SignIn with a claims challenge to satisfy: the
// Claims of an *Error for which errors.Is(err, ErrInteractionRequired)
// holds (MFA step-up, Conditional Access, a resource's CAE challenge).
// The user signs in again and the new tokens carry those claims.
func (c *UserCredential) SignInWithClaims(ctx context.Context, claims string, scopes ...string) (Account, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if c.cache.ctx.Err() != nil {
		return Account{}, closedError()
	}
	if claims != "" && validClaims(claims) == "" {
		return Account{}, configErrorHint("pass Error.Claims as it came (a JSON object)", "the claims challenge is not a JSON object")
	}
	set, err := userScopes(c.s.cloud, "", scopes)
	if err != nil {
		return Account{}, err
	}
	ac := &flows.MemoryAccountCache{}
	r, err := c.signIn(ctx, ac, set.scopes, claims)
	if err != nil {
		return Account{}, err
	}
	return c.signedIn(ctx, r, ac, scopes)
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

// Token returns a valid access token for account and scopes (those of one
// API), from the cache or silently from the account's refresh token. ctx
// bounds only the wait, as for Credential.Token. When only a new sign-in
// helps, errors.Is(err, ErrInteractionRequired) holds (and Error.Claims
// may say what the sign-in must satisfy). Safe for concurrent use.
func (c *UserCredential) Token(ctx context.Context, account Account, scopes ...string) (*oauth2.Token, error) {
	return c.token(ctx, account, scopes)
}

// TokenSource returns an oauth2.TokenSource for account and scopes, bound
// to their cache entry: its hot path is that of Credential.TokenSource.
// ctx supplies values only. Errors are reported by every call of Token.
// Safe for concurrent use.
func (c *UserCredential) TokenSource(ctx context.Context, account Account, scopes ...string) oauth2.TokenSource {
	return c.tokenSource(ctx, account, scopes)
}

// Client returns an *http.Client that sends requests with account's token
// for scopes, attached only to https requests for the scopes' resource
// host (Options.AllowedHosts for api://... resources), as Credential.Client
// does; e.g. Client(ctx, account, "User.Read") for Microsoft Graph of the
// credential's cloud. Safe for concurrent use.
func (c *UserCredential) Client(ctx context.Context, account Account, scopes ...string) *http.Client {
	return c.client(ctx, account, scopes)
}

// Accounts returns the accounts signed in through this credential (and,
// with a Store, those a token call loaded from it). ctx is unused. Safe
// for concurrent use.
func (c *UserCredential) Accounts(ctx context.Context) ([]Account, error) {
	return c.book.list(), nil
}

// SignOut forgets account: its refresh token and every cached token of
// it, in memory and in the Store (where a tombstone stays, so other
// instances sharing the Store refuse to refresh the account; access
// tokens already in their memory are served until they expire). A
// TokenSource of the account then answers ErrInteractionRequired. ctx bounds the wait for a refresh of
// the account in flight. Signing out an unknown account is not an error.
// Safe for concurrent use.
func (c *UserCredential) SignOut(ctx context.Context, account Account) error {
	return c.signOut(ctx, account)
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
