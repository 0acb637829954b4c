package bench

import (
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkCachedTokenRandomScopes: a cache hit for a scope picked at
// random among the -entries cached scope sets on every call (the access
// pattern of a service calling many APIs, or of per-user tokens), one
// goroutine. Each library gets the same sequence of scopes. For
// entra-tokensource every scope has its TokenSource, made before timing.
func BenchmarkCachedTokenRandomScopes(b *testing.B) {
	for _, l := range manyScopeLibs {
		b.Run(string(l), func(b *testing.B) {
			g := populate(b, l)
			scopes := theEnv.extraScopes(b)
			getters := make([]*getter, len(scopes))
			for i, s := range scopes {
				getters[i] = newGetter(l, s, theEnv.popEntra.cred, g.msal, g.az)
				warm(b, getters[i])
			}
			r := rand.New(rand.NewPCG(1, 2))
			order := make([]int32, 1<<16)
			for i := range order {
				order[i] = int32(r.IntN(len(getters)))
			}
			ctx := context.Background()
			before := theEnv.grants()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := getters[order[i&(1<<16-1)]].get(ctx); err != nil {
					b.Fatal(err)
				}
				i++
			}
			noRequests(b, before)
		})
	}
}
