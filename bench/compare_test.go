package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

// Benchmarks comparing entra with MSAL Go, azidentity and x/oauth2. Run with
//
//	go test -run '^$' -bench . -benchmem -count 5
//
// All talk to the one emulator started by TestMain.

// cachedLibs are compared on the cached-token path; manyScopeLibs with
// many cached scope sets (x/oauth2 caches one token per TokenSource, so it
// has no multi-scope cache); coldLibs on a cold concurrent start.
var (
	cachedLibs    = []lib{libEntraTS, libEntraCred, libMSAL, libAz, libXOAuth2}
	manyScopeLibs = []lib{libEntraTS, libEntraCred, libMSAL, libAz}
	coldLibs      = []lib{libEntraCred, libMSAL, libAz, libXOAuth2}
)

// coldCallers is how many goroutines ask a fresh client for the same token
// at once in BenchmarkColdConcurrent.
const coldCallers = 64

// freshGetter returns a getter for scope on a new client of library l.
func freshGetter(tb testing.TB, l lib, scope string) *getter {
	tb.Helper()
	e := theEnv
	var (
		cred *entra.Credential
		msal confidential.Client
		az   *azidentity.ClientSecretCredential
	)
	switch l {
	case libEntraTS, libEntraCred:
		cred = e.newEntra(tb, 0)
	case libMSAL:
		msal = e.newMSAL(tb)
	case libAz:
		az = e.newAzidentity(tb)
	}
	return newGetter(l, scope, cred, msal, az)
}

// warm fetches g's token once, so that what follows is a cache hit.
func warm(tb testing.TB, g *getter) {
	tb.Helper()
	tok, err := g.get(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if tok == "" {
		tb.Fatal("empty access token")
	}
}

// noRequests fails b if the emulator answered client credentials requests
// since before (a cached-token benchmark must not measure network calls).
func noRequests(b *testing.B, before int) {
	b.Helper()
	if n := theEnv.grants() - before; n != 0 {
		b.Errorf("%d token requests during a cached-token benchmark, want 0", n)
	}
}

// BenchmarkCachedToken: a warm cache, one goroutine, for the demo API's
// "<AppIDURI>/.default".
func BenchmarkCachedToken(b *testing.B) {
	for _, l := range cachedLibs {
		b.Run(string(l), func(b *testing.B) {
			g := freshGetter(b, l, theEnv.apiScope())
			warm(b, g)
			before := theEnv.grants()
			b.ReportAllocs()
			loopSerial(b, g)
			noRequests(b, before)
		})
	}
}

// BenchmarkCachedTokenParallel: the same from GOMAXPROCS goroutines sharing
// one client.
func BenchmarkCachedTokenParallel(b *testing.B) {
	for _, l := range cachedLibs {
		b.Run(string(l), func(b *testing.B) {
			g := freshGetter(b, l, theEnv.apiScope())
			warm(b, g)
			before := theEnv.grants()
			b.ReportAllocs()
			b.ResetTimer()
			loopParallel(b, g)
			b.StopTimer()
			noRequests(b, before)
		})
	}
}

// coldRound makes coldCallers goroutines ask g for its token at once; the
// timer runs only while they do. It returns the first error.
func coldRound(b *testing.B, g *getter) error {
	start := make(chan struct{})
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for range coldCallers {
		wg.Go(func() {
			<-start
			tok, err := g.get(context.Background())
			if err == nil && tok == "" {
				err = errEmptyToken
			}
			if err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
			}
		})
	}
	b.StartTimer()
	close(start)
	wg.Wait()
	b.StopTimer()
	return first
}

// BenchmarkColdConcurrent: per iteration, a fresh client with an empty
// cache and coldCallers goroutines asking it for the same token at once.
// requests/op is the number of token requests Entra saw per iteration.
// It comes before BenchmarkCachedTokenManyScopes in this file on purpose:
// benchmarks run in source order, and the -entries extra apps that
// benchmark registers would make every emulator request slower.
func BenchmarkColdConcurrent(b *testing.B) {
	for _, l := range coldLibs {
		b.Run(string(l), func(b *testing.B) {
			e := theEnv
			b.ReportAllocs()
			b.StopTimer()
			// The emulator runs in this process, so its work counts in
			// ns/op and B/op: start from an empty request log to keep its
			// per-request cost the same in every run.
			e.s.ResetCounters()
			grants, meta := e.grants(), e.s.Count(entratest.EndpointMetadata)
			for range b.N {
				g := freshGetter(b, l, e.apiScope())
				if err := coldRound(b, g); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(e.grants()-grants)/float64(b.N), "requests/op")
			b.ReportMetric(float64(e.s.Count(entratest.EndpointMetadata)-meta)/float64(b.N), "metadata-requests/op")
		})
	}
}

// populated is one library client whose cache holds a token for every
// extra scope; built once per process.
type populated struct {
	once sync.Once
	cred *entra.Credential
	msal confidential.Client
	az   *azidentity.ClientSecretCredential
	err  string // set when population failed; reported by every user
}

// populate fetches one token per extra scope through lib l's populated
// client, once per process, with a few workers, and returns a getter for
// the scope in the middle of the list.
func populate(b *testing.B, l lib) *getter {
	b.Helper()
	e := theEnv
	scopes := e.extraScopes(b)
	p := &e.popEntra
	switch l {
	case libMSAL:
		p = &e.popMSAL
	case libAz:
		p = &e.popAz
	}
	p.once.Do(func() {
		maxEntries := 0
		if len(scopes) > 10000 { // entra's default MaxCacheEntries
			maxEntries = len(scopes)
		}
		var fetch func(ctx context.Context, scope string) error
		switch l {
		case libEntraTS, libEntraCred:
			p.cred = e.newEntra(b, maxEntries)
			fetch = func(ctx context.Context, s string) error { _, err := p.cred.Token(ctx, s); return err }
		case libMSAL:
			p.msal = e.newMSAL(b)
			fetch = func(ctx context.Context, s string) error {
				_, err := p.msal.AcquireTokenByCredential(ctx, []string{s})
				return err
			}
		case libAz:
			p.az = e.newAzidentity(b)
			fetch = func(ctx context.Context, s string) error {
				_, err := p.az.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s}})
				return err
			}
		}
		e.s.ResetCounters() // keep the emulator's request log short
		before := e.grants()
		var (
			next   atomic.Int64
			failed atomic.Bool
			wg     sync.WaitGroup
		)
		for range 4 {
			wg.Go(func() {
				for !failed.Load() {
					i := int(next.Add(1)) - 1
					if i >= len(scopes) {
						return
					}
					if err := fetch(context.Background(), scopes[i]); err != nil {
						failed.Store(true)
						p.err = err.Error()
					}
				}
			})
		}
		wg.Wait()
		if p.err == "" {
			if got := e.grants() - before; got != len(scopes) {
				p.err = "populating made an unexpected number of token requests"
				b.Logf("%s: populating %d scopes made %d token requests", l, len(scopes), got)
			}
		}
	})
	if p.err != "" {
		b.Fatalf("%s: populating the cache failed: %s", l, p.err)
	}
	return newGetter(l, scopes[len(scopes)/2], p.cred, p.msal, p.az)
}

// BenchmarkCachedTokenManyScopes: a cache hit for one of -entries cached
// scope sets (one per extra API app), one goroutine.
func BenchmarkCachedTokenManyScopes(b *testing.B) {
	for _, l := range manyScopeLibs {
		b.Run(string(l), func(b *testing.B) {
			g := populate(b, l)
			warm(b, g)
			before := theEnv.grants()
			b.ReportAllocs()
			loopSerial(b, g)
			noRequests(b, before)
		})
	}
}
