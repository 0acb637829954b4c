// Package flows fetches fresh tokens from Microsoft Entra ID, one grant per
// file, through MSAL Go. It knows how to fetch a token, not when: it never
// caches (MSAL's own cache is bypassed) and returns MSAL's errors untouched.
// The root package entra decides when to call it and turns its errors into
// *entra.Error.
//
// It must not import the root package.
package flows

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// HTTPClient is what MSAL calls for every request; *entrahttp.Client
// satisfies it.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
	CloseIdleConnections()
}

// Config holds what every confidential flow needs.
type Config struct {
	Authority                string // "https://host/tenant"
	ClientID                 string
	HTTPClient               HTTPClient // required
	DisableInstanceDiscovery bool
	// ClientCapabilities are announced to Entra with every request (e.g.
	// "cp1": the client handles CAE claims challenges, so Entra may issue
	// long-lived CAE tokens).
	ClientCapabilities []string
	// OnAssertion, if set, sees every client assertion made for a token
	// request (or the error making it), with the request's ctx: the root
	// package uses it to scrub assertions from error text and to report
	// a failing assertion callback.
	OnAssertion func(ctx context.Context, assertion string, err error)
}

// Result is a freshly fetched token.
type Result struct {
	AccessToken string
	ExpiresOn   time.Time
	RefreshOn   time.Time // zero when Entra sent no refresh_in
	Scopes      []string  // granted, as MSAL reports them
}

// App is a confidential client over MSAL's confidential.Client whose own
// token cache is bypassed, so every call goes to Entra and the caller's
// cache decides when. Safe for concurrent use.
type App struct {
	client confidential.Client
}

// ErrConfig reports a Config problem found before MSAL is involved.
var ErrConfig = errors.New("flows: invalid config")

func newApp(cfg Config, cred confidential.Credential, sendX5C bool) (*App, error) {
	if cfg.HTTPClient == nil {
		return nil, fmt.Errorf("%w: HTTPClient is required", ErrConfig)
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, fmt.Errorf("%w: ClientID is required", ErrConfig)
	}
	opts := []confidential.Option{
		confidential.WithHTTPClient(cfg.HTTPClient),
		confidential.WithInstanceDiscovery(!cfg.DisableInstanceDiscovery),
		confidential.WithCache(noCache{}),
		// MSAL reads MSAL_FORCE_REGION from the environment in New; this
		// value switches that off so behaviour depends on Config only.
		confidential.WithAzureRegion("DisableMsalForceRegion"),
	}
	if sendX5C {
		opts = append(opts, confidential.WithX5C())
	}
	if len(cfg.ClientCapabilities) > 0 {
		opts = append(opts, confidential.WithClientCapabilities(cfg.ClientCapabilities))
	}
	c, err := confidential.New(cfg.Authority, cfg.ClientID, cred, opts...)
	if err != nil {
		return nil, err
	}
	return &App{client: c}, nil
}

// AppToken runs the client credentials grant for scopes. claims (a JSON
// claims request, e.g. from a CAE challenge) may be empty. ctx governs the
// whole call, including retries in the HTTP client. Errors are MSAL's (or
// the HTTP client's), untouched. Safe for concurrent use.
func (a *App) AppToken(ctx context.Context, scopes []string, claims string) (Result, error) {
	var opts []confidential.AcquireByCredentialOption
	if claims != "" {
		opts = append(opts, confidential.WithClaims(claims))
	}
	ar, err := a.client.AcquireTokenByCredential(ctx, scopes, opts...)
	if err != nil {
		return Result{}, err
	}
	return Result{
		AccessToken: ar.AccessToken,
		ExpiresOn:   ar.ExpiresOn,
		RefreshOn:   ar.Metadata.RefreshOn,
		Scopes:      append([]string(nil), ar.GrantedScopes...),
	}, nil
}

// noCache is an MSAL cache accessor that makes MSAL's token cache always
// empty: Replace loads an empty cache before every read and write, Export
// keeps nothing. AcquireTokenByCredential therefore misses its silent
// lookup and calls the token endpoint every time (MSAL base.go:
// AcquireTokenSilent replaces then reads; AuthResultFromToken replaces,
// writes, exports).
type noCache struct{}

func (noCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return u.Unmarshal([]byte("{}"))
}

func (noCache) Export(context.Context, cache.Marshaler, cache.ExportHints) error { return nil }
