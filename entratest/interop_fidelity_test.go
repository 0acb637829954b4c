package entratest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// TestInteropMSALCAEAndGraph: MSAL Go with client capabilities gets a Graph
// token carrying xms_cc, which the emulator's Graph accepts; after a
// revocation Graph answers with a claims challenge.
func TestInteropMSALCAEAndGraph(t *testing.T) {
	s, d := seeded(t, nil)
	cred, err := confidential.NewCredFromSecret(d.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	app, err := confidential.New(s.Authority(d.TenantID), d.Daemon.ClientID, cred, confidential.WithInstanceDiscovery(false),
		confidential.WithHTTPClient(s.Client()), confidential.WithClientCapabilities([]string{"CP1"}))
	if err != nil {
		t.Fatal(err)
	}
	// The scope names Graph at the emulator's URL, as a client whose cloud
	// points Graph there derives it.
	res, err := app.AcquireTokenByCredential(context.Background(), []string{s.GraphURL() + "/.default"})
	if err != nil {
		t.Fatalf("AcquireTokenByCredential: %v", err)
	}
	c := unverifiedClaims(t, res.AccessToken)
	if got := strings.Join(stringList(c["xms_cc"]), " "); got != "cp1" || c["aud"] != s.GraphResource() {
		t.Fatalf("xms_cc %q aud %v, want cp1 and %s", got, c["aud"], s.GraphResource())
	}
	if status, _, body := graphGet(t, s, "/v1.0/users", res.AccessToken); status != 200 {
		t.Fatalf("Graph with MSAL's token: %d %v", status, body)
	}
	// The API does not request xms_cc: no claim, as in Entra.
	res, err = app.AcquireTokenByCredential(context.Background(), []string{d.API.AppIDURI + "/.default"})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := unverifiedClaims(t, res.AccessToken)["xms_cc"]; ok {
		t.Errorf("API token has xms_cc %v although the API did not request it", v)
	}
}

// TestInteropMSALDefaultScopeAndMFA: MSAL accepts Entra's expanded scope
// for a .default request (no "declined scopes"), and surfaces AADSTS50076
// when MFA becomes required.
func TestInteropMSALDefaultScopeAndMFA(t *testing.T) {
	e := ufNew(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pca := ufPublic(t, e, e.demo.PublicClient.ClientID)
	scopes := []string{e.demo.API.AppIDURI + "/.default"}
	authURL, err := pca.AuthCodeURL(ctx, e.demo.PublicClient.ClientID, e.demo.PublicClient.RedirectURI, scopes)
	if err != nil {
		t.Fatal(err)
	}
	verifier, challenge := ufPKCE("d")
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("state", "st-123")
	res, err := pca.AcquireTokenByAuthCode(ctx, e.code(t, e.tid, q), e.demo.PublicClient.RedirectURI, scopes, public.WithChallenge(verifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode with .default: %v", err)
	}
	if got := strings.Join(res.GrantedScopes, " "); !strings.Contains(got, e.demo.API.Scope) || strings.Contains(got, "offline_access") {
		t.Errorf("granted scopes %q, want the consented scope and no offline_access", got)
	}
	e.s.SetMFA(e.demo.User.Username, MFARequired)
	_, err = pca.AcquireTokenSilent(ctx, []string{e.demo.OBOAPI.Scope}, public.WithSilentAccount(res.Account))
	if err == nil || !strings.Contains(err.Error(), "AADSTS50076") || !strings.Contains(err.Error(), "basic_action") {
		t.Fatalf("silent refresh after MFA became required: %v, want AADSTS50076 basic_action", err)
	}
}
