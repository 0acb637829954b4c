package flows

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// The on-behalf-of grant (a middle-tier API exchanging its caller's access
// token for a token to a downstream API, as that user).
//
// Plain OBO goes through MSAL Go's AcquireTokenOnBehalfOf with MSAL's
// cache bypassed: never through a cache accessor, which MSAL Go gets wrong
// for OBO (its issue #455), and never in a long-lived client, whose OBO
// cache never evicts (see OBOApp.client).
//
// Long-running sessions need the OBO answer's refresh token and a
// refresh-token grant. MSAL Go's public API offers neither to a
// confidential client: AuthResult carries no refresh token, the OBO
// refresh token is written only to MSAL's partitioned cache (which an
// accessor cannot read, #455), and there is no refresh-token grant outside
// that cache. Sessions therefore use two small direct requests (a form
// POST each) through the same hardened HTTP client MSAL uses —
// no redirects, capped bodies, retries, token responses validated — with
// the same client authentication, and errors shaped as MSAL's
// (msalerrors.CallErr), so the root maps them in its one place.

// OBOAuth is the middle tier's own credential: exactly one of Secret,
// Certs+Key, or Assertion.
type OBOAuth struct {
	Secret    string
	Certs     []*x509.Certificate
	Key       crypto.PrivateKey
	SendX5C   bool
	Assertion func(ctx context.Context, tokenEndpoint, clientID string) (string, error)
}

// OBOApp runs the on-behalf-of grant and OBO sessions. Safe for concurrent
// use.
type OBOApp struct {
	// client makes the MSAL client of one OBO request. MSAL Go cannot
	// bypass its OBO cache: an accessor fails (Replace cannot load its
	// partitioned OBO cache, #455), and without one the cache keeps every
	// user forever. A client per request keeps nothing: its cache goes
	// with it.
	client   func() (confidential.Client, error)
	hc       HTTPClient
	tokenURL string
	clientID string
	// authForm adds the client authentication to a token request form.
	authForm func(ctx context.Context, form url.Values) error
}

// NewOBO returns an OBOApp authenticating as cfg.ClientID with auth.
func NewOBO(cfg Config, auth OBOAuth) (*OBOApp, error) {
	if cfg.HTTPClient == nil {
		return nil, fmt.Errorf("%w: HTTPClient is required", ErrConfig)
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		return nil, fmt.Errorf("%w: ClientID is required", ErrConfig)
	}
	o := &OBOApp{hc: cfg.HTTPClient, clientID: cfg.ClientID,
		tokenURL: strings.TrimRight(cfg.Authority, "/") + "/oauth2/v2.0/token"}
	var cred confidential.Credential
	switch {
	case auth.Secret != "":
		var err error
		if cred, err = confidential.NewCredFromSecret(auth.Secret); err != nil {
			return nil, err
		}
		secret := auth.Secret
		o.authForm = func(_ context.Context, f url.Values) error { f.Set("client_secret", secret); return nil }
	case auth.Assertion != nil || auth.Key != nil:
		mk := auth.Assertion
		if mk == nil {
			signer, ok := auth.Key.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("%w: the key is neither an RSA private key nor a crypto.Signer", ErrConfig)
			}
			a, err := newSignerAssertion(auth.Certs, signer, auth.SendX5C)
			if err != nil {
				return nil, err
			}
			mk = func(_ context.Context, aud, clientID string) (string, error) { return a.sign(aud, clientID) }
		}
		// mkObserved runs the callback and shows every result to OnAssertion.
		mkObserved := func(ctx context.Context, aud, clientID string) (string, error) {
			a, err := mk(ctx, aud, clientID)
			if err == nil && a == "" {
				err = errors.New("the assertion callback returned an empty assertion")
			}
			if cfg.OnAssertion != nil {
				cfg.OnAssertion(ctx, a, err)
			}
			return a, err
		}
		cred = confidential.NewCredFromAssertionCallback(func(ctx context.Context, o confidential.AssertionRequestOptions) (string, error) {
			return mkObserved(ctx, o.TokenEndpoint, o.ClientID)
		})
		o.authForm = func(ctx context.Context, f url.Values) error {
			a, err := mkObserved(ctx, o.tokenURL, o.clientID)
			if err != nil {
				return err
			}
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", a)
			return nil
		}
	default:
		return nil, fmt.Errorf("%w: no client credential (secret, certificate or assertion)", ErrConfig)
	}
	o.client = func() (confidential.Client, error) {
		return confidential.New(cfg.Authority, cfg.ClientID, cred,
			confidential.WithHTTPClient(cfg.HTTPClient),
			confidential.WithInstanceDiscovery(!cfg.DisableInstanceDiscovery),
			confidential.WithAzureRegion("DisableMsalForceRegion")) // as newApp: no environment read
	}
	if _, err := o.client(); err != nil { // the authority is checked here, not at the first request
		return nil, err
	}
	return o, nil
}

// Token runs the on-behalf-of grant for the user assertion and scopes
// through MSAL, with a client (and cache) of its own. claims may be empty.
// ctx governs the call. Errors are MSAL's, untouched. Safe for concurrent
// use.
func (o *OBOApp) Token(ctx context.Context, assertion string, scopes []string, claims string) (Result, error) {
	client, err := o.client()
	if err != nil {
		return Result{}, err
	}
	var opts []confidential.AcquireOnBehalfOfOption
	if claims != "" {
		opts = append(opts, confidential.WithClaims(claims))
	}
	ar, err := client.AcquireTokenOnBehalfOf(ctx, assertion, scopes, opts...)
	if err != nil {
		return Result{}, err
	}
	return Result{AccessToken: ar.AccessToken, ExpiresOn: ar.ExpiresOn, RefreshOn: ar.Metadata.RefreshOn,
		Scopes: append([]string(nil), ar.GrantedScopes...)}, nil
}

// SessionResult is a token of an OBO session with the refresh token that
// continues it.
type SessionResult struct {
	Result
	RefreshToken string
}

// StartSession runs the on-behalf-of grant with offline_access, so Entra
// returns a refresh token. ctx governs the call.
func (o *OBOApp) StartSession(ctx context.Context, assertion string, scopes []string) (SessionResult, error) {
	f := url.Values{
		"grant_type":          {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"requested_token_use": {"on_behalf_of"},
		"assertion":           {assertion},
	}
	return o.direct(ctx, f, scopes)
}

// RefreshSession redeems a session's refresh token for scopes; the answer
// carries the refresh token that replaces it. ctx governs the call.
func (o *OBOApp) RefreshSession(ctx context.Context, refreshToken string, scopes []string) (SessionResult, error) {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	return o.direct(ctx, f, scopes)
}

// tokenBody is the part of a token response a session uses.
type tokenBody struct {
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	RefreshIn    json.RawMessage `json:"refresh_in"`
	Scope        string          `json:"scope"`
}

// direct posts one token request. The HTTP client validates a 200 answer
// as a token response (lifetimes in range, bearer-safe token); an error
// answer comes back as an msalerrors.CallErr whose body the caller parses.
func (o *OBOApp) direct(ctx context.Context, f url.Values, scopes []string) (SessionResult, error) {
	f.Set("client_id", o.clientID)
	f.Set("client_info", "1")
	f.Set("scope", strings.Join(append(append([]string(nil), scopes...), "offline_access"), " "))
	if err := o.authForm(ctx, f); err != nil {
		return SessionResult{}, err
	}
	body := f.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.tokenURL, strings.NewReader(body))
	if err != nil {
		return SessionResult{}, fmt.Errorf("%w: bad authority URL", ErrConfig)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	start := time.Now()
	resp, err := o.hc.Do(req)
	if err != nil {
		return SessionResult{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return SessionResult{}, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return SessionResult{}, msalerrors.CallErr{Req: req, Resp: resp,
			Err: fmt.Errorf("token endpoint answered HTTP %d", resp.StatusCode)}
	}
	var tb tokenBody
	if err := json.Unmarshal(b, &tb); err != nil || tb.AccessToken == "" {
		return SessionResult{}, errors.New("flows: the token response has no access token")
	}
	exp, ok := seconds(tb.ExpiresIn)
	if !ok || exp <= 0 {
		return SessionResult{}, errors.New("flows: the token response has no valid expires_in")
	}
	r := SessionResult{RefreshToken: tb.RefreshToken, Result: Result{AccessToken: tb.AccessToken,
		ExpiresOn: start.Add(time.Duration(exp) * time.Second), Scopes: strings.Fields(tb.Scope)}}
	if in, ok := seconds(tb.RefreshIn); ok && in > 0 && in < exp {
		r.RefreshOn = start.Add(time.Duration(in) * time.Second)
	}
	return r, nil
}

// seconds parses a JSON number or numeric string of seconds (Entra sends
// both forms).
func seconds(raw json.RawMessage) (int64, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' || n > 1<<40 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
