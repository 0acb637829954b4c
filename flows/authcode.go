package flows

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// WebApp signs users in to a web app (a confidential client) with the
// authorization code flow and PKCE, and gets their tokens afterwards. Each
// call builds an MSAL client over the AccountCache it is given (one
// account's record), so accounts never share MSAL state and the newest
// refresh token is the one saved. Safe for concurrent use.
type WebApp struct {
	cfg  Config
	auth ClientAuth
}

// AuthRequest is what an authorization URL asks for.
type AuthRequest struct {
	RedirectURI string
	Scopes      []string // the API's scopes; openid, profile and offline_access are added
	State       string
	Nonce       string
	Challenge   string // PKCE S256 challenge of the verifier kept for Redeem
	LoginHint   string
	DomainHint  string
	Prompt      string
	Claims      string // a claims request (step-up, Conditional Access)
	// ResponseMode is "query" (the default) or "form_post".
	ResponseMode string
}

// oidcScopes are what every web sign-in asks for besides the API's scopes:
// an id token, the user's name and a refresh token.
var oidcScopes = []string{"openid", "profile", "offline_access"}

// NewWebApp returns a WebApp for cfg authenticating with auth.
func NewWebApp(cfg Config, auth ClientAuth) (*WebApp, error) {
	if cfg.HTTPClient == nil {
		return nil, fmt.Errorf("%w: HTTPClient is required", ErrConfig)
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, fmt.Errorf("%w: ClientID is required", ErrConfig)
	}
	a := &WebApp{cfg: cfg, auth: auth}
	if _, err := a.client(&MemoryAccountCache{}); err != nil {
		return nil, err
	}
	return a, nil
}

// client returns an MSAL confidential client whose cache is ac.
func (a *WebApp) client(ac AccountCache) (confidential.Client, error) {
	opts := []confidential.Option{
		confidential.WithHTTPClient(a.cfg.HTTPClient),
		confidential.WithInstanceDiscovery(!a.cfg.DisableInstanceDiscovery),
		confidential.WithCache(accessor{ac}),
		confidential.WithAzureRegion("DisableMsalForceRegion"),
	}
	if len(a.cfg.ClientCapabilities) > 0 {
		opts = append(opts, confidential.WithClientCapabilities(a.cfg.ClientCapabilities))
	}
	return confidential.New(a.cfg.Authority, a.cfg.ClientID, a.auth.cred, opts...)
}

// AuthURL returns the authorization endpoint URL for r (the endpoint comes
// from the authority's metadata, so ctx bounds that request).
func (a *WebApp) AuthURL(ctx context.Context, r AuthRequest) (string, error) {
	c, err := a.client(&MemoryAccountCache{})
	if err != nil {
		return "", err
	}
	var opts []confidential.AuthCodeURLOption
	if r.LoginHint != "" {
		opts = append(opts, confidential.WithLoginHint(r.LoginHint))
	}
	if r.DomainHint != "" {
		opts = append(opts, confidential.WithDomainHint(r.DomainHint))
	}
	if r.Claims != "" {
		opts = append(opts, confidential.WithClaims(r.Claims))
	}
	raw, err := c.AuthCodeURL(ctx, a.cfg.ClientID, r.RedirectURI, withOIDCScopes(r.Scopes), opts...)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("state", r.State)
	q.Set("nonce", r.Nonce)
	q.Set("code_challenge", r.Challenge)
	q.Set("code_challenge_method", "S256")
	if r.Prompt != "" {
		q.Set("prompt", r.Prompt)
	}
	mode := r.ResponseMode
	if mode == "" {
		mode = "query"
	}
	q.Set("response_mode", mode)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// withOIDCScopes returns scopes with openid, profile and offline_access
// added (once).
func withOIDCScopes(scopes []string) []string {
	out := append([]string(nil), scopes...)
	for _, s := range oidcScopes {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Redeem exchanges code (with the PKCE verifier) for the user's tokens,
// saved to ac, and returns them with the raw id token for the caller to
// validate. ctx bounds the request. Errors are MSAL's, untouched.
func (a *WebApp) Redeem(ctx context.Context, ac AccountCache, code, redirectURI string, scopes []string, verifier, claims string) (UserResult, string, error) {
	c, err := a.client(ac)
	if err != nil {
		return UserResult{}, "", err
	}
	opts := []confidential.AcquireByAuthCodeOption{confidential.WithChallenge(verifier)}
	if claims != "" {
		opts = append(opts, confidential.WithClaims(claims))
	}
	ar, err := c.AcquireTokenByAuthCode(ctx, code, redirectURI, scopes, opts...)
	if err != nil {
		return UserResult{}, "", err
	}
	return confidentialResult(ar), ar.IDToken.RawToken, nil
}

// Silent gets a token for scopes for the account with homeAccountID held
// in ac, as PublicApp.Silent does; claims, if set, are sent with a
// redemption of the refresh token.
func (a *WebApp) Silent(ctx context.Context, ac AccountCache, homeAccountID string, scopes []string, claims string) (UserResult, error) {
	c, err := a.client(ac)
	if err != nil {
		return UserResult{}, err
	}
	acct, err := c.Account(ctx, homeAccountID)
	if err != nil {
		return UserResult{}, err
	}
	if acct.HomeAccountID == "" {
		return UserResult{}, ErrNoAccount
	}
	opts := []confidential.AcquireSilentOption{confidential.WithSilentAccount(acct)}
	if claims != "" {
		// MSAL's confidential AcquireTokenSilent refuses WithClaims; client
		// claims are sent with the refresh token redemption instead.
		opts = append(opts, confidential.WithClaimsFromClient(claims))
	}
	ar, err := c.AcquireTokenSilent(ctx, scopes, opts...)
	if err != nil {
		return UserResult{}, err
	}
	return confidentialResult(ar), nil
}

func confidentialResult(ar confidential.AuthResult) UserResult {
	return userResult(public.AuthResult(ar))
}
