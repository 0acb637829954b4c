package flows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// PublicApp is a public client (CLI, desktop app) over MSAL's
// public.Client. MSAL's in-memory cache is the record of the signed-in
// accounts and their refresh tokens: MSAL replaces a refresh token on
// every redemption, so the newest one is always the one used. Safe for
// concurrent use.
type PublicApp struct {
	client   public.Client
	clientID string
}

// UserResult is a token for a signed-in user.
type UserResult struct {
	Result
	Account Account
}

// Account identifies a signed-in account as MSAL records it.
type Account struct {
	HomeAccountID string // "<oid>.<tid>" of the home tenant
	ObjectID      string // oid in the tenant of the sign-in
	TenantID      string // the tenant of the sign-in
	Username      string // preferred_username
	Environment   string // authority host that issued it
}

// DeviceCodeInfo is what the user needs to sign in on another device.
type DeviceCodeInfo struct {
	UserCode        string
	VerificationURI string
	ExpiresOn       time.Time
	Message         string
}

// ErrNoAccount reports a silent request for an account MSAL does not hold.
var ErrNoAccount = errors.New("flows: account not signed in")

// NewPublic returns a PublicApp for cfg (Authority may be a tenant or
// "organizations", "common", "consumers").
func NewPublic(cfg Config) (*PublicApp, error) {
	if cfg.HTTPClient == nil {
		return nil, fmt.Errorf("%w: HTTPClient is required", ErrConfig)
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, fmt.Errorf("%w: ClientID is required", ErrConfig)
	}
	c, err := public.New(cfg.ClientID,
		public.WithAuthority(cfg.Authority),
		public.WithHTTPClient(cfg.HTTPClient),
		public.WithInstanceDiscovery(!cfg.DisableInstanceDiscovery))
	if err != nil {
		return nil, err
	}
	return &PublicApp{client: c, clientID: cfg.ClientID}, nil
}

// DeviceCode runs the device code flow for scopes: it asks Entra for a
// code, hands it to prompt, then waits for the user to sign in (the HTTP
// client paces the polls). ctx bounds the whole flow; the code's own
// expiry bounds the wait too. Errors are MSAL's, untouched; a prompt error
// is returned as is.
func (a *PublicApp) DeviceCode(ctx context.Context, scopes []string, prompt func(context.Context, DeviceCodeInfo) error) (UserResult, error) {
	dc, err := a.client.AcquireTokenByDeviceCode(ctx, scopes)
	if err != nil {
		return UserResult{}, err
	}
	info := DeviceCodeInfo{UserCode: dc.Result.UserCode, VerificationURI: dc.Result.VerificationURL,
		ExpiresOn: dc.Result.ExpiresOn, Message: dc.Result.Message}
	if err := prompt(ctx, info); err != nil {
		return UserResult{}, err
	}
	ar, err := dc.AuthenticationResult(ctx)
	if err != nil {
		return UserResult{}, err
	}
	return userResult(ar), nil
}

// Silent gets a token for scopes for the account with homeAccountID from
// MSAL's cache, redeeming the account's refresh token when the cached
// access token is missing or about to expire. claims, if set, forces a
// new token carrying them. Errors are MSAL's; ErrNoAccount when MSAL holds
// no such account.
func (a *PublicApp) Silent(ctx context.Context, homeAccountID string, scopes []string, claims string) (UserResult, error) {
	acct, err := a.account(ctx, homeAccountID)
	if err != nil {
		return UserResult{}, err
	}
	opts := []public.AcquireSilentOption{public.WithSilentAccount(acct)}
	if claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	ar, err := a.client.AcquireTokenSilent(ctx, scopes, opts...)
	if err != nil {
		return UserResult{}, err
	}
	return userResult(ar), nil
}

// Accounts lists the accounts MSAL holds.
func (a *PublicApp) Accounts(ctx context.Context) ([]Account, error) {
	accts, err := a.client.Accounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(accts))
	for _, acct := range accts {
		out = append(out, account(acct))
	}
	return out, nil
}

// Remove deletes the account and every token MSAL holds for it; removing
// an unknown account is not an error.
func (a *PublicApp) Remove(ctx context.Context, homeAccountID string) error {
	acct, err := a.account(ctx, homeAccountID)
	if errors.Is(err, ErrNoAccount) {
		return nil
	}
	if err != nil {
		return err
	}
	return a.client.RemoveAccount(ctx, acct)
}

func (a *PublicApp) account(ctx context.Context, homeAccountID string) (public.Account, error) {
	accts, err := a.client.Accounts(ctx)
	if err != nil {
		return public.Account{}, err
	}
	for _, acct := range accts {
		if acct.HomeAccountID == homeAccountID {
			return acct, nil
		}
	}
	return public.Account{}, ErrNoAccount
}

func account(a public.Account) Account {
	return Account{HomeAccountID: a.HomeAccountID, ObjectID: a.LocalAccountID, TenantID: a.Realm,
		Username: a.PreferredUsername, Environment: a.Environment}
}

func userResult(ar public.AuthResult) UserResult {
	return UserResult{
		Result: Result{AccessToken: ar.AccessToken, ExpiresOn: ar.ExpiresOn, RefreshOn: ar.Metadata.RefreshOn,
			Scopes: append([]string(nil), ar.GrantedScopes...)},
		Account: account(ar.Account),
	}
}
