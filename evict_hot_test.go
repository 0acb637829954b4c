package entra

import (
	"fmt"
	"testing"
	"time"
)

// TestHotEntrySurvivesOneOffScopeSets is a regression test (found by review). Before the fix:
// A TokenSource called constantly (the hot path) is evicted by a stream of
// one-off scope sets: the hot path never records a use (recency moves only
// on the slow path, at most once per sweep), so between two sweeps the
// busiest entry looks like the least recently used one. An LRU cache (what
// MaxCacheEntries documents) would never evict it here: it is used after
// every other entry. Each eviction costs the hot scope set a new request
// to Entra.
func TestHotEntrySurvivesOneOffScopeSets(t *testing.T) {
	fc := newFakeClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 32})
	hot := testSource(t, c, "api://hot/.default")
	mustToken(t, hot)
	for i := range 300 {
		cold := testSource(t, c, fmt.Sprintf("api://cold-%d/.default", i))
		mustToken(t, cold)
		for range 10 {
			mustToken(t, hot) // the busy one, used after every cold one
		}
		fc.Advance(10 * time.Millisecond) // 3 s in all: no sweep (every 30 s)
	}
	fetches := f.count() - 300
	if fetches != 1 {
		t.Errorf("the hot scope set was fetched %d times while used after every other entry, want 1 (LRU keeps it)", fetches)
	}
}
