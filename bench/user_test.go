package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	"golang.org/x/oauth2"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

// users is the number of users signed in for BenchmarkUserSilentManyUsers.
var users = flag.Int("users", 1000, "users signed in per library in BenchmarkUserSilentManyUsers")

// A signed-in user's silent token: entra's WebApp beside MSAL Go's
// AcquireTokenSilent for the same user, each signed in through the
// emulator's /authorize with the authorization code flow (MSAL with its
// own client: confidential for the demo web app, public with PKCE for the
// demo public client), its in-memory cache warm. The demo API's delegated
// scope (api://<API>/access_as_user) is asked for.

// userLib names one library configuration in the user benchmarks.
type userLib string

const (
	userEntraTS    userLib = "entra-webapp-tokensource" // WebApp.TokenSource(ctx, acct, scope) made once, then Token()
	userEntraToken userLib = "entra-webapp-token"       // WebApp.Token(ctx, acct, scope)
	userMSALConf   userLib = "msal-confidential-silent" // confidential.Client.AcquireTokenSilent(ctx, scopes, WithSilentAccount)
	userMSALPublic userLib = "msal-public-silent"       // public.Client.AcquireTokenSilent(ctx, scopes, WithSilentAccount)
)

var userLibs = []userLib{userEntraTS, userEntraToken, userMSALConf, userMSALPublic}

// authorizeCode plays the browser on the emulator's /authorize: it loads
// authURL (with login_hint set to username) and returns the redirect's
// query, which carries the code and state.
func authorizeCode(tb testing.TB, authURL, username string) url.Values {
	tb.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("login_hint", username)
	if q.Get("state") == "" {
		q.Set("state", "bench")
	}
	u.RawQuery = q.Encode()
	c := theEnv.s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u.String())
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		tb.Fatalf("authorize: got %d Location %q, want a redirect with a code", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// newEntraWebApp returns entra's WebApp for the demo web app. It is
// shared by the benchmarks and lives as long as the process (as MSAL's
// clients do).
func (e *env) newEntraWebApp(tb testing.TB, maxEntries int) *entra.WebApp {
	tb.Helper()
	c, err := entra.Public.WithAuthorityHost(e.s.URL)
	if err != nil {
		tb.Fatal(err)
	}
	app, err := entra.NewWebApp(e.demo.TenantID, e.demo.WebApp.ClientID, e.demo.WebApp.RedirectURI, entra.ClientSecret(e.demo.WebApp.ClientSecret),
		&entra.Options{Cloud: c, HTTPClient: e.s.Client(), DisableInstanceDiscovery: true, MaxCacheEntries: maxEntries})
	if err != nil {
		tb.Fatal(err)
	}
	return app
}

// signInEntra signs username in to app.
func signInEntra(tb testing.TB, app *entra.WebApp, username, scope string) entra.Account {
	tb.Helper()
	ctx := context.Background()
	signInURL, pending, err := app.StartSignIn(ctx, nil, scope)
	if err != nil {
		tb.Fatal(err)
	}
	q := authorizeCode(tb, signInURL, username)
	r := httptest.NewRequest(http.MethodGet, theEnv.demo.WebApp.RedirectURI+"?"+q.Encode(), nil)
	acct, err := app.CompleteSignIn(ctx, r, pending)
	if err != nil {
		tb.Fatal(err)
	}
	return acct
}

// newMSALWebApp returns MSAL's confidential client for the demo web app.
func (e *env) newMSALWebApp(tb testing.TB) confidential.Client {
	tb.Helper()
	secret, err := confidential.NewCredFromSecret(e.demo.WebApp.ClientSecret)
	if err != nil {
		tb.Fatal(err)
	}
	app, err := confidential.New(e.s.Authority(e.demo.TenantID), e.demo.WebApp.ClientID, secret,
		confidential.WithHTTPClient(e.s.Client()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		tb.Fatal(err)
	}
	return app
}

// signInMSALConf signs username in to MSAL's confidential client.
func signInMSALConf(tb testing.TB, app confidential.Client, username, scope string) confidential.Account {
	tb.Helper()
	ctx := context.Background()
	redirect := theEnv.demo.WebApp.RedirectURI
	authURL, err := app.AuthCodeURL(ctx, theEnv.demo.WebApp.ClientID, redirect, []string{scope})
	if err != nil {
		tb.Fatal(err)
	}
	res, err := app.AcquireTokenByAuthCode(ctx, authorizeCode(tb, authURL, username).Get("code"), redirect, []string{scope})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Account
}

// newMSALPublic returns MSAL's public client for the demo public client.
func (e *env) newMSALPublic(tb testing.TB) public.Client {
	tb.Helper()
	app, err := public.New(e.demo.PublicClient.ClientID, public.WithAuthority(e.s.Authority(e.demo.TenantID)),
		public.WithHTTPClient(e.s.Client()), public.WithInstanceDiscovery(false))
	if err != nil {
		tb.Fatal(err)
	}
	return app
}

// signInMSALPublic signs username in to MSAL's public client, with PKCE.
func signInMSALPublic(tb testing.TB, app public.Client, username, scope string) public.Account {
	tb.Helper()
	ctx := context.Background()
	redirect := theEnv.demo.PublicClient.RedirectURI
	authURL, err := app.AuthCodeURL(ctx, theEnv.demo.PublicClient.ClientID, redirect, []string{scope})
	if err != nil {
		tb.Fatal(err)
	}
	verifier := fmt.Sprintf("bench-verifier-%032d", rand.Int64())
	sum := sha256.Sum256([]byte(verifier))
	u, _ := url.Parse(authURL)
	q := u.Query()
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	code := authorizeCode(tb, u.String(), username).Get("code")
	res, err := app.AcquireTokenByAuthCode(ctx, code, redirect, []string{scope}, public.WithChallenge(verifier))
	if err != nil {
		tb.Fatal(err)
	}
	return res.Account
}

// userClients is one signed-in set of users per library: accounts[i] of
// each is the same user.
type userClients struct {
	web       *entra.WebApp
	webAccts  []entra.Account
	conf      confidential.Client
	confAccts []confidential.Account
	pub       public.Client
	pubAccts  []public.Account
}

// signInUsers signs usernames in to a new client of each library.
func signInUsers(tb testing.TB, usernames []string, scope string) *userClients {
	tb.Helper()
	e := theEnv
	u := &userClients{web: e.newEntraWebApp(tb, 4*len(usernames)), conf: e.newMSALWebApp(tb), pub: e.newMSALPublic(tb)}
	for _, name := range usernames {
		u.webAccts = append(u.webAccts, signInEntra(tb, u.web, name, scope))
		u.confAccts = append(u.confAccts, signInMSALConf(tb, u.conf, name, scope))
		u.pubAccts = append(u.pubAccts, signInMSALPublic(tb, u.pub, name, scope))
	}
	return u
}

// call returns the library's silent call for user i, ready to loop on.
func (u *userClients) call(l userLib, scope string) func(i int) error {
	ctx := context.Background()
	scopes := []string{scope}
	switch l {
	case userEntraTS:
		ts := make([]oauth2.TokenSource, len(u.webAccts))
		for i, a := range u.webAccts {
			ts[i] = u.web.TokenSource(ctx, a, scope)
		}
		return func(i int) error { _, err := ts[i].Token(); return err }
	case userEntraToken:
		return func(i int) error { _, err := u.web.Token(ctx, u.webAccts[i], scope); return err }
	case userMSALConf:
		opts := make([][]confidential.AcquireSilentOption, len(u.confAccts))
		for i, a := range u.confAccts {
			opts[i] = []confidential.AcquireSilentOption{confidential.WithSilentAccount(a)}
		}
		return func(i int) error { _, err := u.conf.AcquireTokenSilent(ctx, scopes, opts[i]...); return err }
	case userMSALPublic:
		opts := make([][]public.AcquireSilentOption, len(u.pubAccts))
		for i, a := range u.pubAccts {
			opts[i] = []public.AcquireSilentOption{public.WithSilentAccount(a)}
		}
		return func(i int) error { _, err := u.pub.AcquireTokenSilent(ctx, scopes, opts[i]...); return err }
	}
	panic("unknown library " + string(l))
}

// userGrants counts the emulator's token requests of the user flows.
func userGrants() int {
	return theEnv.s.GrantCount("authorization_code") + theEnv.s.GrantCount("refresh_token")
}

var (
	demoUserOnce    sync.Once
	demoUserClients *userClients
)

// demoUser signs the demo user in to each library, once per process.
func demoUser(b *testing.B) *userClients {
	demoUserOnce.Do(func() {
		demoUserClients = signInUsers(b, []string{theEnv.demo.User.Username}, theEnv.demo.API.Scope)
	})
	if demoUserClients == nil {
		b.Fatal("signing the demo user in failed")
	}
	return demoUserClients
}

// BenchmarkUserSilent: the demo user's warm token for the demo API, one
// goroutine, through each library, each called directly in the loop
// (MSAL's options built once).
func BenchmarkUserSilent(b *testing.B) {
	u := demoUser(b)
	ctx, scope, scopes := context.Background(), theEnv.demo.API.Scope, []string{theEnv.demo.API.Scope}
	for _, l := range userLibs {
		b.Run(string(l), func(b *testing.B) {
			if err := u.call(l, scope)(0); err != nil {
				b.Fatal(err)
			}
			before := userGrants()
			b.ReportAllocs()
			switch l {
			case userEntraTS:
				ts := u.web.TokenSource(ctx, u.webAccts[0], scope)
				for b.Loop() {
					if _, err := ts.Token(); err != nil {
						b.Fatal(err)
					}
				}
			case userEntraToken:
				app, acct := u.web, u.webAccts[0]
				for b.Loop() {
					if _, err := app.Token(ctx, acct, scope); err != nil {
						b.Fatal(err)
					}
				}
			case userMSALConf:
				app, opt := u.conf, confidential.WithSilentAccount(u.confAccts[0])
				for b.Loop() {
					if _, err := app.AcquireTokenSilent(ctx, scopes, opt); err != nil {
						b.Fatal(err)
					}
				}
			case userMSALPublic:
				app, opt := u.pub, public.WithSilentAccount(u.pubAccts[0])
				for b.Loop() {
					if _, err := app.AcquireTokenSilent(ctx, scopes, opt); err != nil {
						b.Fatal(err)
					}
				}
			}
			if n := userGrants() - before; n != 0 {
				b.Errorf("%d token requests during a silent-hit benchmark, want 0", n)
			}
		})
	}
}

// BenchmarkUserSilentRatio times entra's WebApp.Token and MSAL's
// AcquireTokenSilent (confidential client) for the demo user in
// alternating blocks and reports how many times faster entra is
// (msal/entra; the promise is at least 30), so that noise from other work
// on the machine hits both alike. The same for entra's TokenSource
// (msal/entra-tokensource). Each call goes through a closure, the same
// for both.
func BenchmarkUserSilentRatio(b *testing.B) {
	u := demoUser(b)
	scope := theEnv.demo.API.Scope
	entraToken, entraTS, msal := u.call(userEntraToken, scope), u.call(userEntraTS, scope), u.call(userMSALConf, scope)
	timed := func(call func(int) error, n int) time.Duration {
		start := time.Now()
		for range n {
			if err := call(0); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	const block = 64 // MSAL calls per block; entra makes 16 times as many
	var tToken, tTS, tMSAL time.Duration
	b.ReportAllocs()
	for b.Loop() {
		tMSAL += timed(msal, block)
		tToken += timed(entraToken, 16*block)
		tTS += timed(entraTS, 16*block)
	}
	perMSAL := float64(tMSAL) / block
	b.ReportMetric(perMSAL/(float64(tToken)/(16*block)), "msal/entra")
	b.ReportMetric(perMSAL/(float64(tTS)/(16*block)), "msal/entra-tokensource")
}

var (
	manyUsersOnce    sync.Once
	manyUsersClients *userClients
)

// manyUsers registers -users users in the demo tenant and signs each in to
// each library, once per process (about 10 ms per user).
func manyUsers(b *testing.B) *userClients {
	manyUsersOnce.Do(func() {
		names := make([]string, *users)
		for i := range names {
			names[i] = fmt.Sprintf("bench-user-%d@%s", i, "contoso.onmicrosoft.com")
			if _, err := theEnv.s.AddUser(theEnv.demo.TenantID, entratest.User{Username: names[i], DisplayName: names[i]}); err != nil {
				b.Fatal(err)
			}
		}
		manyUsersClients = signInUsers(b, names, theEnv.demo.API.Scope)
	})
	if manyUsersClients == nil {
		b.Fatal("signing the users in failed")
	}
	return manyUsersClients
}

// BenchmarkUserSilentManyUsers: a warm token of a random one of -users
// signed-in users on each call (the same sequence for each library), one
// goroutine: a web app serving many signed-in users. Each call goes
// through a closure, the same for every library. MSAL's lookup scans
// its cache; entra's is a keyed lookup.
func BenchmarkUserSilentManyUsers(b *testing.B) {
	u := manyUsers(b)
	r := rand.New(rand.NewPCG(1, 2))
	order := make([]int32, 1<<16)
	for i := range order {
		order[i] = int32(r.IntN(len(u.webAccts)))
	}
	for _, l := range userLibs {
		b.Run(string(l), func(b *testing.B) {
			call := u.call(l, theEnv.demo.API.Scope)
			for i := range u.webAccts {
				if err := call(i); err != nil {
					b.Fatal(err)
				}
			}
			before := userGrants()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := call(int(order[i&(1<<16-1)])); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if n := userGrants() - before; n != 0 {
				b.Errorf("%d token requests during a silent-hit benchmark, want 0", n)
			}
		})
	}
}
