package entra

import (
	"context"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/entratest"
)

// Benchmarks of the signed-in user's hot path, beside the app-only one and
// a bare map in the same run. Run with:
//
//	go test -run '^$' -bench 'User|WebApp' -benchmem -count 3
//
// MSAL Go's AcquireTokenSilent for the same kind of account is measured
// beside entra in the bench module (bench/user_test.go).

// userBench is the demo user signed in twice against the emulator: to a
// WebApp (authorization code through /authorize) and to a browser
// UserCredential (a public client), beside the daemon's app-only
// Credential, every token warm.
type userBench struct {
	m        *emu
	cred     *Credential
	web      *WebApp
	webAcct  Account
	user     *UserCredential
	userAcct Account
	scope    string // the demo API's delegated scope
}

func newUserBench(tb testing.TB) *userBench {
	tb.Helper()
	m := newEmu(tb)
	ub := &userBench{m: m, cred: m.secretCred(tb, nil), scope: m.demo.API.Scope}
	tb.Cleanup(func() { ub.cred.Close() })
	ub.web = newBenchWebApp(tb, m, nil)
	ub.webAcct = webSignIn(tb, m, ub.web, ub.scope)
	o := m.opts
	user, err := NewBrowserCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, "", func(ctx context.Context, u string) error {
		go playBrowser(tb, m, u)
		return nil
	}, &o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { user.Close() })
	ub.user = user
	if ub.userAcct, err = user.SignIn(context.Background(), ub.scope); err != nil {
		tb.Fatal(err)
	}
	if ub.webAcct.ObjectID != m.demo.User.ObjectID || ub.userAcct.ObjectID != m.demo.User.ObjectID {
		tb.Fatalf("signed in %+v and %+v, want the demo user", ub.webAcct, ub.userAcct)
	}
	return ub
}

// The web app of the benchmarks: the demo web app's registration with
// two more Graph permissions consented (Mail.Read, Calendars.Read), so
// that a scope set of two Graph scopes can be fetched.
const (
	benchWebID     = "1b2c3d4e-0006-4000-8000-00000000f0b1"
	benchWebSecret = "bench-web-secret"
)

// newBenchWebApp registers the benchmarks' web app and returns a WebApp
// for it; edit adjusts its Options.
func newBenchWebApp(tb testing.TB, m *emu, edit func(*Options)) *WebApp {
	tb.Helper()
	err := m.s.AddApp(m.demo.TenantID, entratest.App{ClientID: benchWebID, DisplayName: "bench-webapp",
		Secrets: []entratest.Secret{{Value: benchWebSecret}}, RedirectURIs: []string{m.demo.WebApp.RedirectURI},
		Grants: []entratest.Grant{
			{Resource: m.demo.API.ClientID, DelegatedScopes: []string{"access_as_user"}},
			{Resource: entratest.GraphAppID, DelegatedScopes: []string{"User.Read", "Mail.Read", "Calendars.Read"}},
		}})
	if err != nil {
		tb.Fatal(err)
	}
	o := m.opts
	if edit != nil {
		edit(&o)
	}
	app, err := NewWebApp(m.demo.TenantID, benchWebID, m.demo.WebApp.RedirectURI, ClientSecret(benchWebSecret), &o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { app.Close() })
	return app
}

// webSignIn signs the demo user in to app through the emulator's
// /authorize, playing the browser: the sign-in page redirects to the
// callback with a code, which CompleteSignIn redeems.
func webSignIn(tb testing.TB, m *emu, app *WebApp, scopes ...string) Account {
	tb.Helper()
	ctx := context.Background()
	signInURL, pending, err := app.StartSignIn(ctx, &SignInOptions{LoginHint: m.demo.User.Username}, scopes...)
	if err != nil {
		tb.Fatal(err)
	}
	c := m.s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(signInURL)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		tb.Fatalf("sign-in page: got %d Location %q, want a redirect to the callback", resp.StatusCode, loc)
	}
	acct, err := app.CompleteSignIn(ctx, httptest.NewRequest(http.MethodGet, loc, nil), pending)
	if err != nil {
		tb.Fatal(err)
	}
	return acct
}

// playBrowser loads a browser credential's sign-in page (the emulator
// answers with an auto-submitting form_post page) and posts the answer to
// the credential's loopback listener.
func playBrowser(tb testing.TB, m *emu, authURL string) {
	c := m.s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		tb.Error(err)
		return
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := formAction.FindSubmatch(page)
	if action == nil {
		tb.Errorf("sign-in page without a form_post form (status %d)", resp.StatusCode)
		return
	}
	form := url.Values{}
	for _, f := range formField.FindAllSubmatch(page, -1) {
		form.Set(html.UnescapeString(string(f[1])), html.UnescapeString(string(f[2])))
	}
	resp, err = http.PostForm(html.UnescapeString(string(action[1])), form)
	if err != nil {
		tb.Error(err)
		return
	}
	resp.Body.Close()
}

// loopSource and loopToken run the timed loop of one getter, serially or
// from GOMAXPROCS goroutines.
func loopSource(b *testing.B, ts oauth2.TokenSource, parallel bool) {
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			if _, err := ts.Token(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.Token(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func loopToken(b *testing.B, get func() (*oauth2.Token, error), parallel bool) {
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			if _, err := get(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkUserTokenHit: a warm token of a signed-in user through each
// public path, beside the app-only Credential's in the same run:
// app-tokensource and app-token are the baseline the user paths promise
// to equal (0 allocations, the same few nanoseconds).
func BenchmarkUserTokenHit(b *testing.B) {
	ub := newUserBench(b)
	ctx := context.Background()
	app := ub.m.apiScope()
	before := ub.m.s.Count(entratest.EndpointToken)
	for _, mode := range []string{"serial", "parallel"} {
		par := mode == "parallel"
		b.Run("app-tokensource/"+mode, func(b *testing.B) { loopSource(b, warm(b, ub.cred.TokenSource(ctx, app)), par) })
		b.Run("app-token/"+mode, func(b *testing.B) {
			loopToken(b, func() (*oauth2.Token, error) { return ub.cred.Token(ctx, app) }, par)
		})
		b.Run("usercredential-tokensource/"+mode, func(b *testing.B) {
			loopSource(b, warm(b, ub.user.TokenSource(ctx, ub.userAcct, ub.scope)), par)
		})
		b.Run("usercredential-token/"+mode, func(b *testing.B) {
			loopToken(b, func() (*oauth2.Token, error) { return ub.user.Token(ctx, ub.userAcct, ub.scope) }, par)
		})
		b.Run("webapp-tokensource/"+mode, func(b *testing.B) {
			loopSource(b, warm(b, ub.web.TokenSource(ctx, ub.webAcct, ub.scope)), par)
		})
		b.Run("webapp-token/"+mode, func(b *testing.B) {
			loopToken(b, func() (*oauth2.Token, error) { return ub.web.Token(ctx, ub.webAcct, ub.scope) }, par)
		})
	}
	// The app token's first fetch is the only request made here.
	if got := ub.m.s.Count(entratest.EndpointToken) - before; got > 1 {
		b.Fatalf("token requests while measuring hits: %d, want at most 1", got)
	}
}

// warm makes ts's first call (which may fetch) before timing.
func warm(b *testing.B, ts oauth2.TokenSource) oauth2.TokenSource {
	b.Helper()
	if _, err := ts.Token(); err != nil {
		b.Fatal(err)
	}
	return ts
}

// Many signed-in users in one WebApp.
const (
	manyUsers = 10_000
	// manyUserTenant is the home tenant of the users installed directly.
	manyUserTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// userScopeSets are the scope sets each user has a token for, as an app
// passes them: Graph, the app's own API, and two Graph permissions.
func userScopeSets(api string) [][]string {
	return [][]string{{"User.Read"}, {api}, {"Calendars.Read", "Mail.Read"}}
}

// manyUserIDs returns n distinct home account IDs ("<oid>.<tid>", 73
// bytes like Entra's).
func manyUserIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x.%s", i, i*7919, manyUserTenant)
	}
	return ids
}

// manyUserAccounts returns the accounts of the users ids.
func manyUserAccounts(ids []string) []Account {
	accts := make([]Account, len(ids))
	for i, id := range ids {
		accts[i] = Account{HomeAccountID: id, ObjectID: id[:36], TenantID: manyUserTenant}
	}
	return accts
}

// installUsers caches a token for every (user, scope set), as signedIn
// does after a sign-in (installed directly: 30,000 sign-ins are not what
// is measured). Each entry gets its own copy of the account ID, as each
// request reads one from its session. tokenLen sets each access token's
// length; every token is its own string.
func installUsers(tb testing.TB, u *userTokens, ids []string, sets [][]string, tokenLen int) {
	tb.Helper()
	exp := time.Now().Add(time.Hour)
	for i, id := range ids {
		for j, scopes := range sets {
			// A new string per call, as an account ID read from a
			// request's session is.
			set, err := userScopes(u.s.cloud, strings.Clone(id), scopes)
			if err != nil {
				tb.Fatal(err)
			}
			at := make([]byte, tokenLen)
			copy(at, fmt.Sprintf("%d.%d.", i, j))
			for k := range at {
				if at[k] == 0 {
					at[k] = 'x'
				}
			}
			c := u.cache
			if _, _, err := c.install(c.entry(set), c.seq.Add(1), tokenResult{accessToken: string(at), expiresOn: exp}, "", "entra"); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// userKey is the key of the baseline's map: what a hand-written per-user
// token cache would be keyed by, built once.
func userKey(id string, scopes []string) string {
	k := id + "\x00"
	for i, s := range scopes {
		if i > 0 {
			k += " "
		}
		k += s
	}
	return k
}

// BenchmarkWebAppTokenManyUsers: WebApp.Token for a random one of 10,000
// signed-in users and a random one of three scope sets on each call
// (30,000 entries), beside a bare sync.Map lookup of the same (user,
// scope set) keys, built beforehand, in the same order (map-baseline: the
// floor for any keyed lookup; entra builds its key from the account and
// scopes on each call, and reads the entry's token cell besides).
// "interleaved" times both in alternating blocks of 512 calls and reports
// their ratio (entra/map), so that noise from other work on the machine
// hits both alike. With -benchtime=100x (CI's smoke run) the numbers are
// only a smoke test.
func BenchmarkWebAppTokenManyUsers(b *testing.B) {
	m := newEmu(b)
	app := newBenchWebApp(b, m, func(o *Options) { o.MaxCacheEntries = 4 * manyUsers })
	sets := userScopeSets(m.demo.API.Scope)
	ids := manyUserIDs(manyUsers)
	installUsers(b, &app.userTokens, ids, sets, 64)
	accts := manyUserAccounts(ids)
	if got, want := app.cache.len(), manyUsers*len(sets); got != want {
		b.Fatalf("entries: got %d, want %d", got, want)
	}
	// The map holds its own keys; the lookups use copies, as a request's
	// key is not the very string the map holds (Go compares strings with
	// the same bytes pointer without reading them).
	var baseline sync.Map
	keys := make([]string, 0, manyUsers*len(sets))
	for i, a := range accts {
		for j, s := range sets {
			k := userKey(a.HomeAccountID, s)
			keys = append(keys, strings.Clone(k))
			baseline.Store(k, &oauth2.Token{AccessToken: fmt.Sprintf("%d.%d", i, j)})
		}
	}
	// order[i] picks (user, set) = (order[i]/len(sets), order[i]%len(sets)):
	// the key keys[order[i]].
	order := randomOrder(len(keys))
	const mask = 1<<16 - 1
	nsets := int32(len(sets))
	ctx := context.Background()
	entraCall := func(i int) error {
		k := order[i&mask]
		_, err := app.Token(ctx, accts[k/nsets], sets[k%nsets]...)
		return err
	}
	mapCall := func(i int) error {
		v, ok := baseline.Load(keys[order[i&mask]])
		if !ok || v.(*oauth2.Token) == nil {
			return fmt.Errorf("missing key")
		}
		return nil
	}
	serial := func(call func(int) error) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := call(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
		}
	}
	parallel := func(call func(int) error) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			var seed atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				for pb.Next() {
					if err := call(i); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		}
	}
	before := m.s.Count(entratest.EndpointToken)
	b.Run("entra/serial", serial(entraCall))
	b.Run("map-baseline/serial", serial(mapCall))
	b.Run("entra/parallel", parallel(entraCall))
	b.Run("map-baseline/parallel", parallel(mapCall))
	b.Run("interleaved", func(b *testing.B) {
		const block = 512
		var tEntra, tMap time.Duration
		// Each side looks up its own random keys: had the map looked up
		// the keys entra just did, it would find them in the CPU cache.
		i, j := rand.IntN(mask), rand.IntN(mask)
		b.ReportAllocs()
		for b.Loop() {
			start := time.Now()
			for range block {
				if err := entraCall(i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			mid := time.Now()
			for range block {
				if err := mapCall(j); err != nil {
					b.Fatal(err)
				}
				j++
			}
			tEntra += mid.Sub(start)
			tMap += time.Since(mid)
		}
		calls := float64(b.N) * block
		b.ReportMetric(float64(tEntra.Nanoseconds())/calls, "entra-ns/call")
		b.ReportMetric(float64(tMap.Nanoseconds())/calls, "map-ns/call")
		b.ReportMetric(float64(tEntra)/float64(tMap), "entra/map")
	})
	if got := m.s.Count(entratest.EndpointToken) - before; got != 0 {
		b.Fatalf("token requests while measuring hits: %d, want 0", got)
	}
}

// A signed-in user's warm token allocates nothing on any public path,
// as the app-only one: Token with the scopes in their cache key form
// (one scope, or several in sorted order) and TokenSource's Token. Other
// spellings of the same scopes still find the same token.
func TestUserTokenHitAllocs(t *testing.T) {
	ub := newUserBench(t)
	ctx := t.Context()
	graph := []string{"Calendars.Read", "Mail.Read"}
	want := map[string]*oauth2.Token{}
	for name, get := range map[string]func() (*oauth2.Token, error){
		"webapp":         func() (*oauth2.Token, error) { return ub.web.Token(ctx, ub.webAcct, ub.scope) },
		"webapp-graph":   func() (*oauth2.Token, error) { return ub.web.Token(ctx, ub.webAcct, graph...) },
		"usercredential": func() (*oauth2.Token, error) { return ub.user.Token(ctx, ub.userAcct, ub.scope) },
		"webapp-source":  ub.web.TokenSource(ctx, ub.webAcct, ub.scope).Token,
		"user-source":    ub.user.TokenSource(ctx, ub.userAcct, ub.scope).Token,
	} {
		first, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want[name] = first
		if got := testing.AllocsPerRun(1000, func() {
			if tok, err := get(); err != nil || tok != first {
				t.Fatalf("%s: got %p, %v; want the cached token %p", name, tok, err, first)
			}
		}); got != 0 {
			t.Errorf("%s: allocs per warm token: got %v, want 0", name, got)
		}
	}
	// Other spellings take the validating path to the same entry.
	for _, scopes := range [][]string{{"Mail.Read", "Calendars.Read"}, {" Calendars.Read", "Mail.Read ", "openid"}, {"Mail.Read", "Calendars.Read", "mail.read"}} {
		if tok, err := ub.web.Token(ctx, ub.webAcct, scopes...); err != nil || tok != want["webapp-graph"] {
			t.Errorf("Token(%q): got %p, %v; want the cached token %p", scopes, tok, err, want["webapp-graph"])
		}
	}
	if tok, err := ub.web.Token(ctx, ub.webAcct, "Calendars.Read Mail.Read"); err == nil {
		t.Errorf("Token with two scopes in one string: got %p, want an error", tok)
	}
}
