package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// PublicApp is a public client (CLI, desktop app) over MSAL's
// public.Client. Each call builds an MSAL client over the AccountCache it
// is given, the record of one account and its refresh token: MSAL
// replaces a refresh token on every redemption, so the newest one is
// always the one used and saved. Safe for concurrent use.
type PublicApp struct {
	cfg Config
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
	a := &PublicApp{cfg: cfg}
	if _, err := a.client(&MemoryAccountCache{}); err != nil {
		return nil, err
	}
	return a, nil
}

// client returns an MSAL public client whose cache is ac.
func (a *PublicApp) client(ac AccountCache) (public.Client, error) {
	opts := []public.Option{
		public.WithAuthority(a.cfg.Authority),
		public.WithHTTPClient(a.cfg.HTTPClient),
		public.WithInstanceDiscovery(!a.cfg.DisableInstanceDiscovery),
		public.WithCache(accessor{ac}),
	}
	if len(a.cfg.ClientCapabilities) > 0 {
		opts = append(opts, public.WithClientCapabilities(a.cfg.ClientCapabilities))
	}
	return public.New(a.cfg.ClientID, opts...)
}

// DeviceCode runs the device code flow for scopes: it asks Entra for a
// code, hands it to prompt, then waits for the user to sign in (the HTTP
// client paces the polls). The account's cache is saved to ac. ctx bounds
// the whole flow; the code's own expiry bounds the wait too. Errors are
// MSAL's, untouched; a prompt error is returned as is.
func (a *PublicApp) DeviceCode(ctx context.Context, ac AccountCache, scopes []string, claims string, prompt func(context.Context, DeviceCodeInfo) error) (UserResult, error) {
	c, err := a.client(ac)
	if err != nil {
		return UserResult{}, err
	}
	var opts []public.AcquireByDeviceCodeOption
	if claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	dc, err := c.AcquireTokenByDeviceCode(ctx, scopes, opts...)
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

// Silent gets a token for scopes for the account with homeAccountID held
// in ac, redeeming the account's refresh token when MSAL has no usable
// access token; the new refresh token is saved to ac. claims, if set,
// forces a new token carrying them. Errors are MSAL's; ErrNoAccount when
// ac holds no such account.
func (a *PublicApp) Silent(ctx context.Context, ac AccountCache, homeAccountID string, scopes []string, claims string) (UserResult, error) {
	c, err := a.client(ac)
	if err != nil {
		return UserResult{}, err
	}
	accts, err := c.Accounts(ctx)
	if err != nil {
		return UserResult{}, err
	}
	i := slices.IndexFunc(accts, func(a public.Account) bool { return a.HomeAccountID == homeAccountID })
	if i < 0 {
		return UserResult{}, ErrNoAccount
	}
	opts := []public.AcquireSilentOption{public.WithSilentAccount(accts[i])}
	if claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	ar, err := c.AcquireTokenSilent(ctx, scopes, opts...)
	if err != nil {
		return UserResult{}, err
	}
	return userResult(ar), nil
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
