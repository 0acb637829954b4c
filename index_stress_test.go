package entra

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Real clock, short-lived tokens, a cache far smaller than the key space,
// many goroutines: lookups during grow/shrink must return the right key's
// entry, no token is served past its usable time, and every scheduled
// entry is live and indexed; after close nothing stays scheduled.
func TestIndexAndScheduleUnderStress(t *testing.T) {
	var served, late atomic.Int64
	fetch := func(ctx context.Context, set scopeSet, _ string) (tokenResult, error) {
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		now := time.Now()
		return tokenResult{accessToken: set.key, expiresOn: now.Add(time.Duration(100+rand.IntN(200)) * time.Millisecond)}, nil
	}
	o := Options{MaxCacheEntries: 24, IdleTTL: time.Second}
	s := o.resolve()
	c := newCache(s, fetch, func(k string) string { return k })
	var sets []scopeSet
	for i := range 96 {
		sets = append(sets, testSet(t, fmt.Sprintf("api://k%d/.default", i)))
	}
	stop := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for time.Now().Before(stop) {
				set := sets[r.IntN(len(sets))]
				if h := c.lookupHot(set.key); h != nil && h.key != set.key {
					t.Errorf("lookup %q returned the cell of %q", set.key, h.key)
					return
				}
				e := c.entry(set)
				if e.set.key != set.key {
					t.Errorf("entry %q is %q", set.key, e.set.key)
					return
				}
				var tok string
				var exp time.Time
				if p := e.hot.token.Load(); p != nil {
					tok, exp = p.AccessToken, p.Expiry
				} else {
					p, _, err := e.slow(context.Background())
					if err != nil {
						continue // thrashing
					}
					tok, exp = p.AccessToken, p.Expiry
				}
				served.Add(1)
				if tok != set.key {
					t.Errorf("token for %q is %q", set.key, tok)
					return
				}
				if !time.Now().Before(exp) {
					late.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	c.mu.Lock()
	c.sched.mu.Lock()
	for _, e := range c.sched.heap {
		if p := e.phase.Load(); p == phaseEvicted || p == phaseClosed || c.index.load(e.set.key) != e.hot {
			t.Errorf("scheduled entry %q is retired or not indexed (phase %d)", e.set.key, p)
		}
	}
	c.sched.mu.Unlock()
	c.mu.Unlock()
	c.close()
	c.sched.mu.Lock()
	left := len(c.sched.heap)
	c.sched.mu.Unlock()
	if left != 0 {
		t.Errorf("after close %d entries still scheduled", left)
	}
	t.Logf("served %d, past expiry %d", served.Load(), late.Load())
	if late.Load() > 0 {
		t.Errorf("%d tokens served past their expiry", late.Load())
	}
}
