package bearer_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/entrakit/entra/bearer"
)

// tokenPool signs n distinct valid tokens.
func tokenPool(b *testing.B, n int) []string {
	now := time.Now()
	out := make([]string, n)
	for i := range out {
		c := v2Claims(now)
		c["uti"] = fmt.Sprintf("uti-%d", i)
		c["oid"] = fmt.Sprintf("1b2c3d4e-0005-4000-8000-%012d", i)
		out[i] = signA(b, c)
	}
	return out
}

// benchValidate validates tokens picked at random from pool; the key set
// is loaded before the timer starts (no network inside the loop).
func benchValidate(b *testing.B, v *bearer.Validator, pool []string) {
	ctx := context.Background()
	for _, t := range pool {
		if _, err := v.Validate(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 9))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := v.Validate(ctx, pool[rng.IntN(len(pool))]); err != nil {
			b.Fatal(err)
		}
	}
}

const poolSize = 1024

// BenchmarkValidateFresh: full verification (signature and claims) of
// distinct tokens with the key already cached, the validated-token cache off.
func BenchmarkValidateFresh(b *testing.B) {
	f := newFakeEntra(b)
	v := f.validator(b, tenantA, &bearer.Options{CacheSize: -1})
	benchValidate(b, v, tokenPool(b, poolSize))
	if n := f.jwksCount.Load(); n != 1 {
		b.Fatalf("%d key-set fetches, want 1", n)
	}
}

// BenchmarkValidateCached: the same random pool through the validated-token cache.
func BenchmarkValidateCached(b *testing.B) {
	f := newFakeEntra(b)
	v := f.validator(b, tenantA, nil)
	benchValidate(b, v, tokenPool(b, poolSize))
}

// BenchmarkCacheSpeedup measures both in the same run, interleaved: each
// op is one fresh validation (cache off) and 100 cached ones, timed apart;
// it reports both costs and the ratio (the promise: at least 20x).
func BenchmarkCacheSpeedup(b *testing.B) {
	f := newFakeEntra(b)
	pool := tokenPool(b, poolSize)
	fresh := f.validator(b, tenantA, &bearer.Options{CacheSize: -1})
	cached := f.validator(b, tenantA, nil)
	ctx := context.Background()
	for _, t := range pool {
		_, err1 := fresh.Validate(ctx, t)
		_, err2 := cached.Validate(ctx, t)
		if err1 != nil || err2 != nil {
			b.Fatal(err1, err2)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const batch = 100
	var freshNS, cachedNS time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := fresh.Validate(ctx, pool[rng.IntN(len(pool))]); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		for range batch {
			if _, err := cached.Validate(ctx, pool[rng.IntN(len(pool))]); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		freshNS += t1.Sub(t0)
		cachedNS += t2.Sub(t1)
	}
	fns := float64(freshNS) / float64(b.N)
	cns := float64(cachedNS) / float64(b.N*batch)
	b.ReportMetric(fns, "fresh-ns")
	b.ReportMetric(cns, "cached-ns")
	b.ReportMetric(fns/cns, "speedup")
	if b.N >= 100 && fns < 20*cns {
		b.Errorf("cached validation only %.1fx faster than fresh; want at least 20x", fns/cns)
	}
}

// BenchmarkMiddlewareCached: a request through Middleware with a cached token.
func BenchmarkMiddlewareCached(b *testing.B) {
	f := newFakeEntra(b)
	v := f.validator(b, tenantA, nil)
	pool := tokenPool(b, poolSize)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	reqs := make([]*http.Request, len(pool))
	for i, t := range pool {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+t)
		h.ServeHTTP(httptest.NewRecorder(), reqs[i])
	}
	rng := rand.New(rand.NewPCG(3, 4))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.ServeHTTP(w, reqs[rng.IntN(len(reqs))])
	}
}
