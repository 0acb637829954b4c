package entra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// fakeFetcher stands in for Entra in the cache's unit tests: it mints
// numbered tokens on the fake clock and can fail or block.
type fakeFetcher struct {
	clock     *fakeClock
	lifetime  time.Duration
	refreshIn time.Duration

	mu    sync.Mutex
	calls int
	fail  error
	gate  chan struct{} // when set, fetches wait for it to close (or ctx)
}

func (f *fakeFetcher) fetch(ctx context.Context, _ []string, _ string) (tokenResult, error) {
	f.mu.Lock()
	f.calls++
	n, fail, gate := f.calls, f.fail, f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return tokenResult{}, ctx.Err()
		}
	}
	if fail != nil {
		return tokenResult{}, fail
	}
	now := f.clock.Now()
	r := tokenResult{accessToken: fmt.Sprintf("token-%d", n), expiresOn: now.Add(f.lifetime)}
	if f.refreshIn > 0 {
		r.refreshOn = now.Add(f.refreshIn)
	}
	return r, nil
}

func (f *fakeFetcher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeFetcher) set(fail error, gate chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.gate = fail, gate
}

// newTestCache returns a cache over f with the fake clock and opts.
func newTestCache(t *testing.T, f *fakeFetcher, opts *Options) *cache {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Clock = f.clock
	s := o.resolve()
	return newCache(s, f.fetch, func(k string) string { return "test/" + k })
}

func testSource(t *testing.T, c *cache, scope string) *tokenSource {
	t.Helper()
	set, err := appScopes(Public, []string{scope})
	if err != nil {
		t.Fatal(err)
	}
	return &tokenSource{e: c.entry(set), ctx: context.Background()}
}

// waitUntil polls cond; it only bounds a wait, it asserts nothing about time.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustToken(t *testing.T, ts oauth2.TokenSource) string {
	t.Helper()
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok.AccessToken
}

func phaseOf(e *entry) uint32 { return e.cur.Load().state.Load() & phaseMask }

func TestRefreshTime(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		lifetime  time.Duration
		refreshIn time.Duration // 0: none
		want      time.Duration
	}{
		{"half of lifetime", time.Hour, 0, 30 * time.Minute},
		{"refresh_in honoured", 2 * time.Hour, 40 * time.Minute, 40 * time.Minute},
		{"refresh_in clamped to expiry-5m", time.Hour, 58 * time.Minute, 55 * time.Minute},
		{"short token: clamped to expiry-5m", 8 * time.Minute, 0, 3 * time.Minute},
		{"very short token: half its lifetime", 4 * time.Minute, 0, 2 * time.Minute},
		{"very short token ignores refresh_in", 4 * time.Minute, time.Second, 2 * time.Minute},
		{"refresh_in in the past", time.Hour, -time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r time.Time
			if tt.refreshIn != 0 {
				r = now.Add(tt.refreshIn)
			}
			if got := refreshTime(now, now.Add(tt.lifetime), r).Sub(now); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCacheColdCallersShareOneFetch(t *testing.T) {
	fc := newFakeClock(time.Now())
	gate := make(chan struct{})
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, gate: gate}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")

	const n = 200
	var wg sync.WaitGroup
	var started atomic.Int32
	toks := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Add(1)
			toks[i] = mustToken(t, ts)
		}()
	}
	waitUntil(t, "callers to start", func() bool { return started.Load() == n })
	close(gate)
	wg.Wait()
	if got := f.count(); got != 1 {
		t.Errorf("fetches: got %d, want 1", got)
	}
	for i, tok := range toks {
		if tok != "token-1" {
			t.Fatalf("caller %d: got %q, want token-1", i, tok)
		}
	}
}

// A caller that saw the entry empty, but reached the shared fetch only after
// another fetch had installed a token, takes that token: no second request.
func TestCacheLateColdCallerDoesNotFetchAgain(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	if got := mustToken(t, ts); got != "token-1" {
		t.Fatalf("cold: got %q, want token-1", got)
	}
	tok, err := ts.e.wait(context.Background()) // where a late cold caller lands
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "token-1" || f.count() != 1 {
		t.Errorf("late caller: got %q after %d fetches, want token-1 after 1", tok.AccessToken, f.count())
	}
}

func TestCacheStateMachine(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	e := ts.e

	if got := mustToken(t, ts); got != "token-1" {
		t.Fatalf("cold: got %q, want token-1", got)
	}
	fc.Advance(29 * time.Minute)
	if got, want := phaseOf(e), phaseFresh; got != want {
		t.Fatalf("at 29m: phase %d, want %d", got, want)
	}
	if got := mustToken(t, ts); got != "token-1" || f.count() != 1 {
		t.Fatalf("fresh: got %q after %d fetches, want token-1 after 1", got, f.count())
	}

	// Refresh phase: the current token at once, one background refresh.
	gate := make(chan struct{})
	f.set(nil, gate)
	fc.Advance(time.Minute)
	if got, want := phaseOf(e), phaseRefresh; got != want {
		t.Fatalf("at 30m: phase %d, want %d", got, want)
	}
	for range 100 {
		if got := mustToken(t, ts); got != "token-1" {
			t.Fatalf("refresh phase: got %q, want token-1 while the refresh is blocked", got)
		}
	}
	waitUntil(t, "the refresh to start", func() bool { return f.count() == 2 })
	if !e.refreshing.Load() {
		t.Fatal("refresh finished although its fetch is blocked")
	}
	close(gate)
	waitUntil(t, "the refresh to finish", func() bool { return !e.refreshing.Load() })
	if got := mustToken(t, ts); got != "token-2" {
		t.Fatalf("after refresh: got %q, want token-2", got)
	}
	if got := f.count(); got != 2 {
		t.Errorf("fetches: got %d, want 2 (one background refresh)", got)
	}

	// Expired: callers block on a fetch.
	fc.Advance(time.Hour - expirySkew)
	if got, want := phaseOf(e), phaseExpired; got != want {
		t.Fatalf("at expiry-skew: phase %d, want %d", got, want)
	}
	if got := mustToken(t, ts); got != "token-3" {
		t.Fatalf("expired: got %q, want token-3", got)
	}
}

func TestCacheCatchesUpAfterSuspend(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")

	if got := mustToken(t, ts); got != "token-1" {
		t.Fatalf("cold: got %q, want token-1", got)
	}
	// The machine sleeps through the token's expiry: no timer has fired.
	fc.Suspend(2 * time.Hour)
	if got, want := phaseOf(ts.e), phaseFresh; got != want {
		t.Fatalf("right after resume: phase %d, want %d (timers are late)", got, want)
	}
	// Within one sweep interval the wall clock check catches up.
	fc.Advance(maxSweepInterval)
	if got, want := phaseOf(ts.e), phaseExpired; got != want {
		t.Fatalf("one sweep after resume: phase %d, want %d", got, want)
	}
	if got := mustToken(t, ts); got != "token-2" {
		t.Fatalf("after resume: got %q, want a new token-2", got)
	}

	// A suspend into the refresh window (but not past expiry) starts the
	// refresh phase instead.
	fc.Suspend(40 * time.Minute)
	fc.Advance(maxSweepInterval)
	if got, want := phaseOf(ts.e), phaseRefresh; got != want {
		t.Fatalf("resumed inside the refresh window: phase %d, want %d", got, want)
	}
	if got := mustToken(t, ts); got != "token-2" {
		t.Fatalf("refresh window: got %q, want the current token-2", got)
	}
	waitUntil(t, "the background refresh", func() bool { return f.count() == 3 && !ts.e.refreshing.Load() })
}

func TestCacheRefreshFailureKeepsServing(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	e := ts.e
	mustToken(t, ts)

	f.set(errors.New("entra down"), nil)
	fc.Advance(30 * time.Minute)
	if got := mustToken(t, ts); got != "token-1" {
		t.Fatalf("got %q, want token-1", got)
	}
	waitUntil(t, "the refresh to fail", func() bool { return f.count() == 2 && !e.refreshing.Load() })
	if got, want := phaseOf(e), phaseFresh; got != want {
		t.Fatalf("after failed refresh: phase %d, want %d (back off)", got, want)
	}
	for range 10 {
		if got := mustToken(t, ts); got != "token-1" {
			t.Fatalf("during backoff: got %q, want token-1", got)
		}
	}
	if got := f.count(); got != 2 {
		t.Fatalf("fetches during backoff: got %d, want 2", got)
	}
	// The retry timer moves it back into the refresh phase.
	fc.Advance(retryBase)
	if got, want := phaseOf(e), phaseRefresh; got != want {
		t.Fatalf("after backoff: phase %d, want %d", got, want)
	}
	f.set(nil, nil)
	mustToken(t, ts)
	waitUntil(t, "the retry to succeed", func() bool { return f.count() == 3 && !e.refreshing.Load() })
	if got := mustToken(t, ts); got != "token-3" {
		t.Fatalf("after retry: got %q, want token-3", got)
	}
}

func TestCacheErrorsAreNotCached(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, fail: errors.New("boom")}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	for i := range 3 {
		if _, err := ts.Token(); err == nil {
			t.Fatalf("call %d: got no error", i)
		}
	}
	if got := f.count(); got != 3 {
		t.Errorf("fetches: got %d, want 3 (an error is not cached)", got)
	}
	f.set(nil, nil)
	if got := mustToken(t, ts); got != "token-4" {
		t.Errorf("got %q, want token-4", got)
	}
}

func TestCacheWaiterCancelled(t *testing.T) {
	fc := newFakeClock(time.Now())
	gate := make(chan struct{})
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, gate: gate}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := ts.e.token(ctx)
		done <- err
	}()
	waitUntil(t, "the fetch to start", func() bool { return f.count() == 1 })
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	var ee *Error
	if !errors.As(err, &ee) {
		t.Fatalf("got %T, want *Error", err)
	}
	// The detached fetch completes and fills the cache for later callers.
	close(gate)
	waitUntil(t, "the fetch to fill the cache", func() bool { return phaseOf(ts.e) == phaseFresh })
	if got := mustToken(t, ts); got != "token-1" || f.count() != 1 {
		t.Errorf("got %q after %d fetches, want token-1 after 1", got, f.count())
	}
}

func TestCacheIdleEviction(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{IdleTTL: 10 * time.Minute})
	ts := testSource(t, c, "api://x/.default")
	mustToken(t, ts)

	fc.Advance(2 * time.Hour) // expired, then idle for > IdleTTL
	if got := c.len(); got != 0 {
		t.Fatalf("entries: got %d, want 0 after expiry + idle TTL", got)
	}
	if !ts.e.evicted.Load() {
		t.Fatal("entry not marked evicted")
	}
	if got := fc.pending(); got != 0 {
		t.Errorf("timers pending on an empty cache: got %d, want 0", got)
	}
	// The TokenSource still works and re-registers its entry.
	if got := mustToken(t, ts); got != "token-2" {
		t.Fatalf("after eviction: got %q, want token-2", got)
	}
	if got := c.len(); got != 1 {
		t.Errorf("entries: got %d, want 1 (re-registered)", got)
	}
}

func TestCacheKeepsUsedEntries(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{IdleTTL: 10 * time.Minute})
	ts := testSource(t, c, "api://x/.default")
	for range 12 {
		mustToken(t, ts)
		fc.Advance(10 * time.Minute)
	}
	if got := c.len(); got != 1 {
		t.Errorf("entries: got %d, want 1 (in use)", got)
	}
}

func TestCacheSizeCap(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 3})
	var sources []*tokenSource
	for i := range 10 {
		ts := testSource(t, c, fmt.Sprintf("api://app%d/.default", i))
		mustToken(t, ts)
		sources = append(sources, ts)
		if got := c.len(); got > 3 {
			t.Fatalf("entries after %d: got %d, want <= 3", i+1, got)
		}
	}
	evicted := 0
	for _, ts := range sources {
		if ts.e.evicted.Load() {
			evicted++
		}
		if _, err := ts.Token(); err != nil { // an evicted source still works
			t.Fatalf("evicted source: %v", err)
		}
	}
	if evicted == 0 {
		t.Error("no entry was evicted")
	}
	if got := c.len(); got > 3 {
		t.Errorf("entries: got %d, want <= 3", got)
	}
}

func TestTokenSourceHotPathAllocs(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	mustToken(t, ts)
	if got := testing.AllocsPerRun(1000, func() { ts.Token() }); got != 0 {
		t.Errorf("allocs per Token: got %v, want 0", got)
	}
}

// memStore is an in-memory Store for tests; it can fail on purpose.
type memStore struct {
	mu    sync.Mutex
	m     map[string][]byte
	fail  error
	loads int
	saves int
}

func (s *memStore) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.fail != nil {
		return nil, s.fail
	}
	v, ok := s.m[key]
	if !ok {
		return nil, ErrNotFound
	}
	return v, nil
}

func (s *memStore) Save(_ context.Context, key string, v []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	if s.fail != nil {
		return s.fail
	}
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), v...)
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func TestCacheStore(t *testing.T) {
	fc := newFakeClock(time.Now())
	store := &memStore{}
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c1 := newTestCache(t, f, &Options{Store: store})
	if got := mustToken(t, testSource(t, c1, "api://x/.default")); got != "token-1" {
		t.Fatalf("got %q, want token-1", got)
	}
	if store.saves != 1 {
		t.Fatalf("saves: got %d, want 1", store.saves)
	}
	// A second cache (another process) finds the token in the store.
	c2 := newTestCache(t, f, &Options{Store: store})
	if got := mustToken(t, testSource(t, c2, "api://x/.default")); got != "token-1" || f.count() != 1 {
		t.Fatalf("from store: got %q after %d fetches, want token-1 after 1", got, f.count())
	}
	// A corrupt value is deleted and replaced.
	store.m["test/api://y/.default"] = []byte("{not json")
	c4 := newTestCache(t, f, &Options{Store: store})
	if got := mustToken(t, testSource(t, c4, "api://y/.default")); got != "token-2" {
		t.Fatalf("corrupt value: got %q, want token-2", got)
	}
	if v := string(store.m["test/api://y/.default"]); !strings.Contains(v, "token-2") {
		t.Fatalf("stored value: got %q, want the new token", v)
	}
	// A store that fails degrades to Entra without an error.
	store.fail = errors.New("store down")
	var logs bytes.Buffer
	c3 := newTestCache(t, f, &Options{Store: store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := mustToken(t, testSource(t, c3, "api://x/.default")); got != "token-3" {
		t.Fatalf("failing store: got %q, want token-3", got)
	}
	if got := logs.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "store down") {
		t.Errorf("store failure not logged at Warn: %q", got)
	}
}
