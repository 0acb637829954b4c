package entratest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// Interop: the user flows driven by clients we did not write (MSAL Go,
// x/oauth2), with every token verified by go-jose against the published JWKS.

// ufVerify verifies a token's signature against the tenant's JWKS with
// go-jose, checks iss, aud and lifetime, and returns its claims.
func ufVerify(t *testing.T, s *Server, tenantID, token, wantAud string) map[string]any {
	t.Helper()
	resp, err := s.Client().Get(s.JWKSURL(tenantID))
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	defer resp.Body.Close()
	var jwks jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	var std josejwt.Claims
	all := map[string]any{}
	if err := tok.Claims(jwks, &std, &all); err != nil {
		t.Fatalf("token signature does not verify against the JWKS: %v", err)
	}
	iss := s.IssuerV2(tenantID)
	if all["ver"] == "1.0" {
		iss = s.IssuerV1(tenantID)
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: iss, AnyAudience: josejwt.Audience{wantAud}, Time: time.Now()}, 5*time.Minute); err != nil {
		t.Fatalf("token claims: %v (iss %v aud %v)", err, all["iss"], all["aud"])
	}
	return all
}

func ufPublic(t *testing.T, e *ufEnv, clientID string) public.Client {
	t.Helper()
	pca, err := public.New(clientID, public.WithAuthority(e.s.Authority(e.tid)),
		public.WithInstanceDiscovery(false), public.WithHTTPClient(e.s.Client()))
	if err != nil {
		t.Fatalf("public.New: %v", err)
	}
	return pca
}

func TestInteropMSALDeviceCode(t *testing.T) {
	s := NewTestServer(t, &Options{AutoApproveUser: demoUsername})
	d, err := s.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	e := &ufEnv{s: s, demo: d, c: s.Client(), tid: d.TenantID}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pca := ufPublic(t, e, d.PublicClient.ClientID)
	dc, err := pca.AcquireTokenByDeviceCode(ctx, []string{d.API.Scope})
	if err != nil {
		t.Fatalf("AcquireTokenByDeviceCode: %v", err)
	}
	if len(dc.Result.UserCode) != 8 || dc.Result.Interval != 5 {
		t.Fatalf("device code result: got user code %q interval %d", dc.Result.UserCode, dc.Result.Interval)
	}
	res, err := dc.AuthenticationResult(ctx)
	if err != nil {
		t.Fatalf("AuthenticationResult: %v", err)
	}
	c := ufVerify(t, s, d.TenantID, res.AccessToken, d.API.ClientID)
	if c["oid"] != d.User.ObjectID || c["scp"] != "access_as_user" {
		t.Fatalf("got oid %v scp %v", c["oid"], c["scp"])
	}
	if res.Account.PreferredUsername != d.User.Username || res.Account.HomeAccountID != d.User.ObjectID+"."+d.TenantID {
		t.Fatalf("account: got %q %q", res.Account.PreferredUsername, res.Account.HomeAccountID)
	}
	if got := s.GrantCount("device_code"); got < 1 {
		t.Fatalf("GrantCount(device_code): got %d, want >= 1", got)
	}
}

// MSAL's device-code polling against a pending code (it ignores interval and
// polls at 50 ms, 150 ms, 450 ms, ...): slow_down and authorization_pending
// both keep it polling until the approval.
func TestInteropMSALDeviceCodePolling(t *testing.T) {
	e := ufNew(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pca := ufPublic(t, e, e.demo.PublicClient.ClientID)
	dc, err := pca.AcquireTokenByDeviceCode(ctx, []string{e.demo.API.Scope})
	if err != nil {
		t.Fatalf("AcquireTokenByDeviceCode: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := dc.AuthenticationResult(ctx)
		done <- err
	}()
	// Approve once MSAL has polled twice: pending, then slow_down (its second
	// poll comes 150 ms after the first).
	for e.s.GrantCount("device_code") < 2 {
		select {
		case err := <-done:
			t.Fatalf("MSAL stopped polling before approval: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := e.s.ApproveDeviceCode(dc.Result.UserCode, e.demo.User.Username); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("AuthenticationResult: %v", err)
	}
	sawSlowDown := false
	for _, r := range e.s.Requests() {
		if r.Grant == "device_code" && r.Status == http.StatusBadRequest {
			sawSlowDown = true
		}
	}
	if !sawSlowDown {
		t.Fatal("no 400 poll answer was logged")
	}
}

// MSAL public client, interactive: WithOpenURL stands in for the browser. It
// loads /authorize, reads the form_post page and POSTs it to MSAL's loopback
// listener, as a browser would.
func TestInteropMSALInteractiveAndSilentRefresh(t *testing.T) {
	// Tokens living 4 minutes are never cached by MSAL (5-minute buffer), so
	// AcquireTokenSilent must redeem the refresh token.
	e := ufNew(t, &Options{TokenLifetime: 4 * time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pca := ufPublic(t, e, e.demo.PublicClient.ClientID)
	browser := func(authURL string) error {
		u, err := url.Parse(authURL)
		if err != nil {
			return err
		}
		if q := u.Query(); q.Get("response_mode") != "form_post" || q.Get("code_challenge_method") != "S256" {
			return fmt.Errorf("unexpected authorize query %v", q)
		}
		resp, err := e.c.Get(authURL)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("authorize: %d %s", resp.StatusCode, ufShort(string(page)))
		}
		action, fields := ufParseFormPost(t, string(page))
		form := url.Values{}
		for k, v := range fields {
			form.Set(k, v)
		}
		post, err := http.PostForm(action, form) // the loopback listener is plain HTTP
		if err != nil {
			return err
		}
		return post.Body.Close()
	}
	res, err := pca.AcquireTokenInteractive(ctx, []string{e.demo.API.Scope}, public.WithOpenURL(browser),
		public.WithLoginHint(e.demo.User.Username))
	if err != nil {
		t.Fatalf("AcquireTokenInteractive: %v", err)
	}
	c := ufVerify(t, e.s, e.tid, res.AccessToken, e.demo.API.ClientID)
	if c["oid"] != e.demo.User.ObjectID || c["azp"] != e.demo.PublicClient.ClientID {
		t.Fatalf("got oid %v azp %v", c["oid"], c["azp"])
	}
	if res.IDToken.Oid != e.demo.User.ObjectID {
		t.Fatalf("id token oid: got %q", res.IDToken.Oid)
	}
	before := e.s.GrantCount("refresh_token")
	silent, err := pca.AcquireTokenSilent(ctx, []string{e.demo.API.Scope}, public.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatalf("AcquireTokenSilent: %v", err)
	}
	if silent.Metadata.TokenSource != public.TokenSourceIdentityProvider || silent.AccessToken == res.AccessToken {
		t.Fatalf("silent call did not refresh (source %v)", silent.Metadata.TokenSource)
	}
	if got := e.s.GrantCount("refresh_token"); got != before+1 {
		t.Fatalf("refresh_token grants: got %d, want %d", got, before+1)
	}
	ufVerify(t, e.s, e.tid, silent.AccessToken, e.demo.API.ClientID)
	// The rotated refresh token is what MSAL uses next: a second silent call works.
	if _, err := pca.AcquireTokenSilent(ctx, []string{e.demo.OBOAPI.Scope}, public.WithSilentAccount(res.Account)); err != nil {
		t.Fatalf("second AcquireTokenSilent (other resource): %v", err)
	}
}

// MSAL AuthCodeURL + AcquireTokenByAuthCode with PKCE, the code read from
// a query-mode redirect; then OBO by MSAL's confidential client.
func TestInteropMSALAuthCodeAndOBO(t *testing.T) {
	e := ufNew(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pca := ufPublic(t, e, e.demo.PublicClient.ClientID)
	scopes := []string{e.demo.OBOAPI.Scope}
	authURL, err := pca.AuthCodeURL(ctx, e.demo.PublicClient.ClientID, e.demo.PublicClient.RedirectURI, scopes)
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	verifier, challenge := ufPKCE("m")
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("state", "st-123")
	code := e.code(t, e.tid, q)
	res, err := pca.AcquireTokenByAuthCode(ctx, code, e.demo.PublicClient.RedirectURI, scopes, public.WithChallenge(verifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	ufVerify(t, e.s, e.tid, res.AccessToken, e.demo.OBOAPI.ClientID)

	cred, err := confidential.NewCredFromSecret(e.demo.OBOAPI.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	cca, err := confidential.New(e.s.Authority(e.tid), e.demo.OBOAPI.ClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.s.Client()))
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	obo, err := cca.AcquireTokenOnBehalfOf(ctx, res.AccessToken, []string{e.demo.API.Scope})
	if err != nil {
		t.Fatalf("AcquireTokenOnBehalfOf: %v", err)
	}
	c := ufVerify(t, e.s, e.tid, obo.AccessToken, e.demo.API.ClientID)
	if c["oid"] != e.demo.User.ObjectID || c["azp"] != e.demo.OBOAPI.ClientID || c["scp"] != "access_as_user" {
		t.Fatalf("OBO token: got oid %v azp %v scp %v", c["oid"], c["azp"], c["scp"])
	}
	if got := e.s.GrantCount("on_behalf_of"); got != 1 {
		t.Fatalf("GrantCount(on_behalf_of): got %d, want 1", got)
	}
	// A Graph token as the assertion fails with 50013, and MSAL surfaces it.
	graph, err := cca.AcquireTokenOnBehalfOf(ctx, res.AccessToken, []string{"https://graph.microsoft.com/User.Read"})
	if err != nil {
		t.Fatalf("OBO to Graph: %v", err)
	}
	_, err = cca.AcquireTokenOnBehalfOf(ctx, graph.AccessToken, []string{e.demo.API.Scope})
	if err == nil || !strings.Contains(err.Error(), "AADSTS50013") {
		t.Fatalf("Graph token as assertion: got %v, want AADSTS50013", err)
	}
}

func ufOAuth2Config(e *ufEnv, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: e.demo.PublicClient.ClientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:       e.s.Authority(e.tid) + "/oauth2/v2.0/authorize",
			TokenURL:      e.s.Authority(e.tid) + "/oauth2/v2.0/token",
			DeviceAuthURL: e.s.Authority(e.tid) + "/oauth2/v2.0/devicecode",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		RedirectURL: e.demo.PublicClient.RedirectURI,
		Scopes:      scopes,
	}
}

func TestInteropOAuth2AuthCodeAndRefresh(t *testing.T) {
	e := ufNew(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, e.s.Client())
	conf := ufOAuth2Config(e, e.demo.API.Scope, "offline_access")
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("xo-state", oauth2.S256ChallengeOption(verifier))
	u, _ := url.Parse(authURL)
	code := e.code(t, e.tid, u.Query())
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token: refresh token %t, expiry %v", tok.RefreshToken != "", tok.Expiry)
	}
	ufVerify(t, e.s, e.tid, tok.AccessToken, e.demo.API.ClientID)

	expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	fresh, err := conf.TokenSource(ctx, expired).Token()
	if err != nil {
		t.Fatalf("TokenSource refresh: %v", err)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh did not return a rotated refresh token")
	}
	c := ufVerify(t, e.s, e.tid, fresh.AccessToken, e.demo.API.ClientID)
	if c["oid"] != e.demo.User.ObjectID {
		t.Fatalf("refreshed token oid: got %v", c["oid"])
	}
	// PKCE is enforced for x/oauth2 too: a wrong verifier fails.
	code = e.code(t, e.tid, u.Query())
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil ||
		!strings.Contains(err.Error(), "501481") {
		t.Fatalf("wrong verifier: got %v, want AADSTS501481", err)
	}
}

func TestInteropOAuth2DeviceCode(t *testing.T) {
	e := ufNew(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, e.s.Client())
	conf := ufOAuth2Config(e, e.demo.API.Scope, "offline_access")
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if da.VerificationURI == "" || da.Interval != 5 || da.Expiry.IsZero() {
		t.Fatalf("device auth: got %+v", da)
	}
	if err := e.s.ApproveDeviceCode(da.UserCode, e.demo.User.Username); err != nil {
		t.Fatal(err)
	}
	da.Interval = 1 // x/oauth2 waits one interval before its first poll
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	ufVerify(t, e.s, e.tid, tok.AccessToken, e.demo.API.ClientID)
}

// MSAL confidential client (a web app with a secret), auth code without
// PKCE: MSAL sends an empty code_verifier, which must be accepted.
func TestInteropMSALConfidentialAuthCode(t *testing.T) {
	e := ufNew(t, nil)
	const (
		webID     = "0d1e2f30-4a5b-4c6d-8e9f-00000000feed"
		webSecret = "web-app-secret"
		redirect  = "https://app.example/signin-oidc"
	)
	err := e.s.AddApp(e.tid, App{ClientID: webID, DisplayName: "web app", Secrets: []Secret{{Value: webSecret}},
		RedirectURIs: []string{redirect},
		Grants:       []Grant{{Resource: e.demo.API.ClientID, DelegatedScopes: []string{"access_as_user"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cred, err := confidential.NewCredFromSecret(webSecret)
	if err != nil {
		t.Fatal(err)
	}
	cca, err := confidential.New(e.s.Authority(e.tid), webID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(e.s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	scopes := []string{e.demo.API.Scope}
	authURL, err := cca.AuthCodeURL(ctx, webID, redirect, scopes, confidential.WithLoginHint(e.demo.User.Username))
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("state", "st-123")
	code := e.code(t, e.tid, q)
	res, err := cca.AcquireTokenByAuthCode(ctx, code, redirect, scopes)
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	c := ufVerify(t, e.s, e.tid, res.AccessToken, e.demo.API.ClientID)
	if c["azp"] != webID || c["azpacr"] != "1" || c["oid"] != e.demo.User.ObjectID {
		t.Fatalf("got azp %v azpacr %v oid %v", c["azp"], c["azpacr"], c["oid"])
	}
	// The account MSAL recorded can be used silently (from its cache).
	silent, err := cca.AcquireTokenSilent(ctx, scopes, confidential.WithSilentAccount(res.Account))
	if err != nil || silent.AccessToken != res.AccessToken {
		t.Fatalf("AcquireTokenSilent: %v (same token: %t)", err, silent.AccessToken == res.AccessToken)
	}
}
