package entra

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// Entries with many distinct deadlines share the cache's one timer, and
// each still moves at its own time: over six simulated hours, at every step
// each entry's phase is the one its times say, and no more than two timers
// (the scheduler's and the tick) are ever pending.
func TestSchedulerDrivesEveryEntryOnTime(t *testing.T) {
	fc := newFakeClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 1000, IdleTTL: 48 * time.Hour})
	r := rand.New(rand.NewPCG(7, 8))
	const n = 200
	type want struct {
		e                      *entry
		refreshAt, usableUntil time.Time
	}
	var all []want
	start := fc.Now()
	for i := range n {
		life := time.Duration(10+r.IntN(350)) * time.Minute // 10 minutes to 6 hours
		exp := start.Add(life)
		e := c.entry(testSet(t, fmt.Sprintf("api://app-%d/.default", i)))
		if _, installed, err := c.install(e, c.seq.Add(1), tokenResult{accessToken: fmt.Sprint("t", i), expiresOn: exp}, "", "entra"); err != nil || !installed {
			t.Fatalf("install %d: %v %v", i, installed, err)
		}
		tt := timesFor(start, exp, time.Time{}, 0)
		all = append(all, want{e, tt.refreshAt, tt.usableUntil})
	}
	for step := 0; step < 6*60+7; step += 7 {
		fc.Advance(7 * time.Minute)
		now := fc.Now()
		for i, w := range all {
			var p uint32
			switch {
			case !now.Before(w.usableUntil):
				p = phaseEmpty
			case !now.Before(w.refreshAt):
				p = phaseRefresh
			default:
				p = phaseFresh
			}
			if got := w.e.phase.Load(); got != p {
				t.Fatalf("at +%v entry %d (refresh at +%v, usable until +%v): phase %d, want %d", now.Sub(start), i,
					w.refreshAt.Sub(start), w.usableUntil.Sub(start), got, p)
			}
		}
		if got := fc.pending(); got > 2 {
			t.Fatalf("at +%v: %d timers pending, want at most 2 (the scheduler's and the tick)", now.Sub(start), got)
		}
	}
	c.sched.mu.Lock()
	left := len(c.sched.heap)
	c.sched.mu.Unlock()
	if left != 0 {
		t.Errorf("after every token expired: %d entries still scheduled, want 0", left)
	}
}

// After a suspend the scheduler's one timer is re-armed from the wall
// clock: an entry due 30 minutes after the suspend began moves at that
// wall-clock time, not 30 minutes plus the suspend's length.
func TestSchedulerRearmsAfterSuspend(t *testing.T) {
	fc := newFakeClock(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC))
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, refreshIn: 30 * time.Minute}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://a/.default")
	mustToken(t, ts)
	e := ts.entry()
	fc.Suspend(10 * time.Minute)
	fc.Advance(2 * time.Second) // the tick sees the jump and sweeps
	fc.Advance(20*time.Minute - 3*time.Second)
	if got := e.phase.Load(); got != phaseFresh {
		t.Fatalf("a second before the refresh time: phase %d, want fresh", got)
	}
	fc.Advance(time.Second)
	if got := e.phase.Load(); got != phaseRefresh {
		t.Fatalf("at the refresh time (wall clock): phase %d, want refresh", got)
	}
}

// Evicting and closing entries takes them off the schedule at once.
func TestSchedulerReleasesRetiredEntries(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 10})
	for i := range 100 {
		e := c.entry(testSet(t, fmt.Sprintf("api://app-%d/.default", i)))
		if _, _, err := c.install(e, c.seq.Add(1), tokenResult{accessToken: "t", expiresOn: fc.Now().Add(time.Hour)}, "", "entra"); err != nil {
			t.Fatal(err)
		}
	}
	scheduled := func() int {
		c.sched.mu.Lock()
		defer c.sched.mu.Unlock()
		for i, e := range c.sched.heap {
			if int(e.heapIdx) != i {
				t.Fatalf("heap slot %d holds an entry that says %d", i, e.heapIdx)
			}
			if p := e.phase.Load(); p == phaseEvicted || p == phaseClosed {
				t.Fatalf("a retired entry (phase %d) is scheduled", p)
			}
		}
		return len(c.sched.heap)
	}
	if got := scheduled(); got != 10 {
		t.Fatalf("scheduled: %d, want 10 (the live entries)", got)
	}
	c.close()
	if got := scheduled(); got != 0 {
		t.Fatalf("after Close: %d scheduled, want 0", got)
	}
	if got := fc.pending(); got != 0 {
		t.Fatalf("after Close: %d timers pending, want 0", got)
	}
}

// The index against a map, through random inserts and deletes (growing,
// shrinking and reusing deleted slots), while readers look keys up without
// a lock (run with -race).
func TestIndexMatchesAMap(t *testing.T) {
	var x index
	var mu sync.Mutex // stands for cache.mu
	model := map[string]*hotCell{}
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[r.IntN(len(keys))]
				if h := x.load(k); h != nil && h.key != k {
					t.Errorf("load(%q) returned the cell of %q", k, h.key)
					return
				}
			}
		}()
	}
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 40_000 {
		k := keys[r.IntN(len(keys))]
		// Phases: fill, drain (shrinking), churn.
		add := r.IntN(10) < 7
		if round >= 15_000 && round < 25_000 {
			add = r.IntN(10) < 1
		}
		mu.Lock()
		if _, ok := model[k]; ok && !add {
			x.delete(k)
			delete(model, k)
		} else if !ok && add {
			h := &hotCell{key: k}
			x.store(h)
			model[k] = h
		}
		mu.Unlock()
		if round%1000 == 0 {
			mu.Lock()
			if x.len() != len(model) {
				t.Fatalf("round %d: len %d, want %d", round, x.len(), len(model))
			}
			for _, k := range keys {
				if got, want := x.load(k), model[k]; got != want {
					t.Fatalf("round %d: load(%q) = %p, want %p", round, k, got, want)
				}
			}
			seen := 0
			x.each(func(h *hotCell) {
				if model[h.key] != h {
					t.Fatalf("round %d: each gave %q, not in the map", round, h.key)
				}
				seen++
			})
			if seen != len(model) {
				t.Fatalf("round %d: each gave %d cells, want %d", round, seen, len(model))
			}
			if n := len(model); n > 0 {
				if h := x.random(); model[h.key] != h {
					t.Fatalf("round %d: random gave %q, not in the map", round, h.key)
				}
			}
			if tab := x.tab.Load(); len(model) > 0 && 8*len(model) < len(tab.slots) && len(tab.slots) > minIndexSlots {
				t.Fatalf("round %d: %d cells in %d slots: the table did not shrink", round, len(model), len(tab.slots))
			}
			mu.Unlock()
		}
	}
	close(stop)
	wg.Wait()
}
