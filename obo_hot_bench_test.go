package entra

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// BenchmarkOnBehalfOfCachedHitHotAssertion is BenchmarkOnBehalfOfCachedHit
// as a web API sees it: the user's assertion was just read from the
// request, so its 1.5 KB are in the CPU cache; only the cache's own data
// for 100,000 users is cold. Each call's assertion is the user's (a
// distinct token per user: the user's number written into a template) in
// one buffer, as a request buffer is reused. BenchmarkOnBehalfOfCachedHit
// keeps every user's assertion in memory at once (1.6 MB, mostly out of
// the CPU cache), which adds the reading of a cold assertion to each call.
func BenchmarkOnBehalfOfCachedHitHotAssertion(b *testing.B) {
	for _, users := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			c := oboBenchCred(b, &OnBehalfOfOptions{Options: Options{MaxCacheEntries: users + 1}})
			buf := []byte(benchAssertions(1)[0])
			assertion := func(u int) string {
				binary.LittleEndian.PutUint64(buf[700:], uint64(u)) // inside the payload
				return unsafe.String(&buf[0], len(buf))
			}
			for u := range users {
				fillOBO(b, c, []string{strings.Clone(assertion(u))}, 100)
			}
			order := randomOrder(users)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Token(ctx, assertion(int(order[i&(1<<16-1)])), benchScope); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
