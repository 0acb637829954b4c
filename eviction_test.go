package entra

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// An entry evicted while a TokenSource holds it has no token of its own:
// after a suspend past the token's expiry the source does not serve the
// expired token, it moves to the live entry, which fetches a new one.
func TestEvictedSourceAfterSuspend(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 1})
	a := testSource(t, c, "api://a/.default")
	if got := mustToken(t, a); got != "token-1" {
		t.Fatalf("got %q, want token-1", got)
	}
	held := a.entry()
	mustToken(t, testSource(t, c, "api://b/.default")) // evicts a
	if got, want := phaseOf(held), phaseEvicted; got != want {
		t.Fatalf("phase of the held entry: got %d, want %d (evicted)", got, want)
	}
	if held.cur.Load() != nil || held.hot.token.Load() != nil {
		t.Fatal("the evicted entry still holds its token")
	}
	fc.Suspend(2 * time.Hour) // token-1 expired an hour ago
	if got := mustToken(t, a); got != "token-3" {
		t.Fatalf("after suspend: got %q, want a new token-3", got)
	}
	if a.entry() == held {
		t.Error("the TokenSource still holds the evicted entry")
	}
}

// An evicted entry and its replacement share one schedule: a TokenSource
// holding the evicted entry and callers of the live one cause the fetches
// of one entry, not two.
func TestEvictionDoesNotDoubleTraffic(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 1})
	held := testSource(t, c, "api://a/.default")
	mustToken(t, held)
	mustToken(t, testSource(t, c, "api://b/.default")) // evicts a
	before := f.count()
	for range 4 * 60 * 6 { // 4 hours, a call from each side every 10 s
		mustToken(t, held)
		mustToken(t, testSource(t, c, "api://a/.default"))
		waitUntil(t, "refreshes to settle", func() bool { e := c.lookup("api://a/.default"); return e == nil || !e.refreshing.Load() })
		fc.Advance(10 * time.Second)
	}
	// One cold fetch, then one refresh every 30 minutes: 1 + 8.
	if got := f.count() - before; got > 9 {
		t.Errorf("fetches for one scope in 4 h: got %d, want at most 9", got)
	}
}

// MaxCacheEntries bounds memory: evicting an entry releases its token and
// its timer at once, and the least recently used entries go first.
func TestMaxCacheEntriesBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 100,000 entries")
	}
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 1000})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 100_000
	for i := range n {
		if _, _, err := c.install(c.entry(testSet(t, fmt.Sprintf("api://app-%d/.default", i))), c.seq.Add(1),
			tokenResult{accessToken: fmt.Sprintf("%0512d", i), expiresOn: fc.Now().Add(time.Hour)}, "", "entra"); err != nil {
			t.Fatal(err)
		}
	}
	fc.Advance(0) // let the fake clock forget stopped timers
	if got := c.len(); got != 1000 {
		t.Errorf("entries: got %d, want 1000", got)
	}
	if got := fc.pending(); got > 2 {
		t.Errorf("live timers: got %d, want at most 2 (the cache's schedule and the tick)", got)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 16<<20 {
		t.Errorf("heap grew by %d MiB for 1,000 live entries, want under 16 MiB", grew>>20)
	}
	for i := n - 100; i < n; i++ {
		if c.lookup(fmt.Sprintf("api://app-%d/.default", i)) == nil {
			t.Errorf("scope %d, among the 100 newest, was evicted", i)
		}
	}
}
