package bench

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/entrakit/entra"
)

// Every client below is configured the same way: the demo daemon's client
// secret, the emulator's CA (s.Client()), instance discovery disabled, and
// otherwise each library's defaults.

// newEntra returns an entra credential for the demo daemon. maxEntries > 0
// sets Options.MaxCacheEntries.
func (e *env) newEntra(tb testing.TB, maxEntries int) *entra.Credential {
	tb.Helper()
	c, err := entra.Public.WithAuthorityHost(e.s.URL)
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := entra.NewClientSecretCredential(e.demo.TenantID, e.demo.Daemon.ClientID, e.demo.Daemon.ClientSecret, &entra.Options{
		Cloud:                    c,
		HTTPClient:               e.s.Client(),
		DisableInstanceDiscovery: true,
		MaxCacheEntries:          maxEntries,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

// newMSAL returns an MSAL Go confidential client for the demo daemon.
func (e *env) newMSAL(tb testing.TB) confidential.Client {
	tb.Helper()
	secret, err := confidential.NewCredFromSecret(e.demo.Daemon.ClientSecret)
	if err != nil {
		tb.Fatal(err)
	}
	app, err := confidential.New(e.s.Authority(e.demo.TenantID), e.demo.Daemon.ClientID, secret,
		confidential.WithHTTPClient(e.s.Client()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		tb.Fatal(err)
	}
	return app
}

// newAzidentity returns an azidentity ClientSecretCredential for the demo
// daemon.
func (e *env) newAzidentity(tb testing.TB) *azidentity.ClientSecretCredential {
	tb.Helper()
	cred, err := azidentity.NewClientSecretCredential(e.demo.TenantID, e.demo.Daemon.ClientID, e.demo.Daemon.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions: azcore.ClientOptions{
				Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.s.URL + "/"},
				Transport: e.s.Client(),
			},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

// newXOAuth2 returns x/oauth2's client credentials TokenSource for scope:
// an oauth2.ReuseTokenSource around the token endpoint, the usual way to
// use x/oauth2 with Entra.
func (e *env) newXOAuth2(scope string) oauth2.TokenSource {
	cfg := clientcredentials.Config{
		ClientID:     e.demo.Daemon.ClientID,
		ClientSecret: e.demo.Daemon.ClientSecret,
		TokenURL:     e.s.Authority(e.demo.TenantID) + "/oauth2/v2.0/token",
		Scopes:       []string{scope},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, e.s.Client())
	return cfg.TokenSource(ctx)
}

// lib names one library configuration under test.
type lib string

// The library configurations, in the order they are reported.
const (
	libEntraTS   lib = "entra-tokensource" // entra Credential.TokenSource(...).Token()
	libEntraCred lib = "entra-credential"  // entra Credential.Token(ctx, scope)
	libMSAL      lib = "msal"              // MSAL confidential.Client.AcquireTokenByCredential (cache first)
	libAz        lib = "azidentity"        // azidentity ClientSecretCredential.GetToken
	libXOAuth2   lib = "xoauth2-reuse"     // x/oauth2 clientcredentials TokenSource (ReuseTokenSource)
)

// getter is one library's handle for one scope, ready to ask for a token
// the way an application would. Exactly the fields of its lib are set.
type getter struct {
	lib    lib
	scope  string
	ts     oauth2.TokenSource // libEntraTS, libXOAuth2
	cred   *entra.Credential  // libEntraCred
	msal   confidential.Client
	scopes []string // libMSAL
	az     *azidentity.ClientSecretCredential
	azOpts policy.TokenRequestOptions // libAz
}

// newGetter returns a getter for scope. cred, msal and az may be nil/zero
// for a lib that does not use them.
func newGetter(l lib, scope string, cred *entra.Credential, msal confidential.Client, az *azidentity.ClientSecretCredential) *getter {
	g := &getter{lib: l, scope: scope}
	switch l {
	case libEntraTS:
		g.ts = cred.TokenSource(context.Background(), scope)
	case libEntraCred:
		g.cred = cred
	case libMSAL:
		g.msal, g.scopes = msal, []string{scope}
	case libAz:
		g.az, g.azOpts = az, policy.TokenRequestOptions{Scopes: []string{scope}}
	case libXOAuth2:
		g.ts = theEnv.newXOAuth2(scope)
	}
	return g
}

// get asks for a token once and returns the access token. The benchmark
// loops do not call it (see loop.go): they call each library directly.
func (g *getter) get(ctx context.Context) (string, error) {
	switch g.lib {
	case libEntraTS, libXOAuth2:
		t, err := g.ts.Token()
		if err != nil {
			return "", err
		}
		return t.AccessToken, nil
	case libEntraCred:
		t, err := g.cred.Token(ctx, g.scope)
		if err != nil {
			return "", err
		}
		return t.AccessToken, nil
	case libMSAL:
		r, err := g.msal.AcquireTokenByCredential(ctx, g.scopes)
		return r.AccessToken, err
	case libAz:
		t, err := g.az.GetToken(ctx, g.azOpts)
		return t.Token, err
	}
	return "", nil
}
