package entra

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/entrakit/entra/entratest"
)

// Benchmarks of the hot path. Run with:
//
//	go test -run '^$' -bench . -benchmem -count 5

func warmSource(b *testing.B, m *emu, cred *Credential) *tokenSource {
	b.Helper()
	ts := cred.TokenSource(context.Background(), m.apiScope())
	if _, err := ts.Token(); err != nil {
		b.Fatal(err)
	}
	return ts.(*tokenSource)
}

func benchSource(b *testing.B, ts *tokenSource) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ts.Token(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := ts.Token(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkTokenSourceHit: a warm TokenSource, the steady state.
func BenchmarkTokenSourceHit(b *testing.B) {
	m := newEmu(b)
	benchSource(b, warmSource(b, m, m.secretCred(b, nil)))
}

// BenchmarkTokenSourceHit10kEntries: the same with 10,000 other scope sets
// cached by the credential (installed directly: minting 10,000 tokens is
// not what is measured).
func BenchmarkTokenSourceHit10kEntries(b *testing.B) {
	m := newEmu(b)
	cred := m.secretCred(b, func(o *Options) { o.MaxCacheEntries = 20000 })
	fill(b, cred, 10000)
	ts := warmSource(b, m, cred)
	if got := cred.cache.len(); got != 10001 {
		b.Fatalf("entries: got %d, want 10001", got)
	}
	benchSource(b, ts)
}

// fill caches n tokens for distinct scope sets and returns the scopes
// (installed directly: minting 10,000 tokens is not what is measured).
func fill(b *testing.B, cred *Credential, n int) []string {
	b.Helper()
	exp := time.Now().Add(time.Hour)
	scopes := make([]string, n)
	for i := range n {
		scopes[i] = fmt.Sprintf("api://app-%d/.default", i)
		set, err := appScopes(cred.Cloud(), []string{scopes[i]})
		if err != nil {
			b.Fatal(err)
		}
		c := cred.cache
		if _, _, err := c.install(c.entry(set), c.seq.Add(1), tokenResult{accessToken: fmt.Sprintf("t%d", i), expiresOn: exp}, "", "entra"); err != nil {
			b.Fatal(err)
		}
	}
	return scopes
}

// randomOrder returns 1<<16 indexes into n keys, uniformly at random, so
// that lookups follow a realistic access pattern (a different key on
// almost every call) instead of hitting one hot key.
func randomOrder(n int) []int32 {
	r := rand.New(rand.NewPCG(1, 2))
	idx := make([]int32, 1<<16)
	for i := range idx {
		idx[i] = int32(r.IntN(n))
	}
	return idx
}

// BenchmarkCredentialToken: Credential.Token(ctx, scope), the path with a
// cache lookup, with 10,000 entries cached and a random scope on each
// call; "syncmap-baseline" is a bare sync.Map lookup of the same keys in
// the same order, the floor for any keyed lookup.
func BenchmarkCredentialToken(b *testing.B) {
	m := newEmu(b)
	cred := m.secretCred(b, func(o *Options) { o.MaxCacheEntries = 20000 })
	scopes := fill(b, cred, 10000)
	var baseline sync.Map
	for i, s := range scopes {
		baseline.Store(s, &oauth2.Token{AccessToken: fmt.Sprintf("t%d", i)})
	}
	order := randomOrder(len(scopes))
	const mask = 1<<16 - 1
	ctx := context.Background()
	b.Run("entra/serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := cred.Token(ctx, scopes[order[i&mask]]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("syncmap-baseline/serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v, ok := baseline.Load(scopes[order[i&mask]])
			if !ok || v.(*oauth2.Token) == nil {
				b.Fatal("missing key")
			}
			i++
		}
	})
	b.Run("entra/parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seed atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919))
			for pb.Next() {
				if _, err := cred.Token(ctx, scopes[order[i&mask]]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("syncmap-baseline/parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seed atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			i := int(seed.Add(7919))
			for pb.Next() {
				v, ok := baseline.Load(scopes[order[i&mask]])
				if !ok || v.(*oauth2.Token) == nil {
					b.Error("missing key")
					return
				}
				i++
			}
		})
	})
}

// BenchmarkMSALCachedHit: MSAL Go's confidential client answering the
// same request from its own in-memory cache, for comparison in the same
// run: with only that token cached, and with 1,000 other app tokens
// cached (MSAL's lookup scans them; ours is unaffected, see
// BenchmarkTokenSourceHit10kEntries).
func BenchmarkMSALCachedHit(b *testing.B) {
	for _, others := range []int{0, 1000} {
		b.Run(fmt.Sprintf("others=%d", others), func(b *testing.B) {
			m := newEmu(b)
			cred, err := confidential.NewCredFromSecret(m.demo.Daemon.ClientSecret)
			if err != nil {
				b.Fatal(err)
			}
			app, err := confidential.New(m.s.URL+"/"+m.demo.TenantID, m.demo.Daemon.ClientID, cred,
				confidential.WithHTTPClient(m.s.Client()), confidential.WithInstanceDiscovery(false))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for i := range others {
				id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
				if err := m.s.AddApp(m.demo.TenantID, entratest.App{ClientID: id, DisplayName: "bench"}); err != nil {
					b.Fatal(err)
				}
				if _, err := app.AcquireTokenByCredential(ctx, []string{id + "/.default"}); err != nil {
					b.Fatal(err)
				}
			}
			scopes := []string{m.apiScope()}
			if _, err := app.AcquireTokenByCredential(ctx, scopes); err != nil {
				b.Fatal(err)
			}
			before := m.s.Count(entratest.EndpointToken)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := app.AcquireTokenByCredential(ctx, scopes); err != nil {
					b.Fatal(err)
				}
			}
			if got := m.s.Count(entratest.EndpointToken); got != before {
				b.Fatalf("MSAL went to the network: %d requests", got-before)
			}
		})
	}
}
