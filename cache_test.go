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

	mu        sync.Mutex
	calls     int
	claims    []string // the claims of each call, "" for plain fetches
	fail      error
	gate      chan struct{} // when set, fetches wait for it to close (or ctx)
	plainOnly bool          // the gate holds only fetches without claims
}

func (f *fakeFetcher) fetch(ctx context.Context, _ scopeSet, claims string) (tokenResult, error) {
	f.mu.Lock()
	f.calls++
	f.claims = append(f.claims, claims)
	n, fail, gate := f.calls, f.fail, f.gate
	if f.plainOnly && claims != "" {
		gate = nil
	}
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

// newTestCache returns a cache over f with the fake clock and opts. It is
// closed when the test ends.
func newTestCache(t testing.TB, f *fakeFetcher, opts *Options) *cache {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Clock = f.clock
	s := o.resolve()
	c := newCache(s, f.fetch, func(k string) string { return "test/" + k })
	c.jitter = func() float64 { return 0 } // exact refresh times
	t.Cleanup(c.close)
	return c
}

func testSet(t testing.TB, scope string) scopeSet {
	t.Helper()
	set, err := appScopes(Public, []string{scope})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func testSource(t testing.TB, c *cache, scope string) *tokenSource {
	t.Helper()
	ts := &tokenSource{ctx: context.Background()}
	ts.h.Store(c.entry(testSet(t, scope)).hot)
	return ts
}

// waitUntil polls cond; it only bounds a wait, it asserts nothing about time.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustToken(t testing.TB, ts oauth2.TokenSource) string {
	t.Helper()
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	return tok.AccessToken
}

func phaseOf(e *entry) uint32 { return e.phase.Load() }

// syncBuffer is a bytes.Buffer safe for concurrent use: log handlers write
// from background goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
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
	tok, err := ts.entry().wait(context.Background()) // where a late cold caller lands
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
	c := newTestCache(t, f, &Options{IdleTTL: 24 * time.Hour})
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()

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
	fc.Advance(time.Hour - maxExpirySkew)
	if got, want := phaseOf(e), phaseEmpty; got != want {
		t.Fatalf("at expiry-skew: phase %d, want %d", got, want)
	}
	if got := mustToken(t, ts); got != "token-3" {
		t.Fatalf("expired: got %q, want token-3", got)
	}
}

func TestCacheCatchesUpAfterSuspend(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{IdleTTL: 24 * time.Hour})
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()

	if got := mustToken(t, ts); got != "token-1" {
		t.Fatalf("cold: got %q, want token-1", got)
	}
	// The machine sleeps through the token's expiry: no timer has fired.
	fc.Suspend(2 * time.Hour)
	if got, want := phaseOf(e), phaseFresh; got != want {
		t.Fatalf("right after resume: phase %d, want %d (timers are late)", got, want)
	}
	// The next tick sees the wall clock jump and catches every entry up.
	fc.Advance(tickInterval)
	if got, want := phaseOf(e), phaseEmpty; got != want {
		t.Fatalf("one tick after resume: phase %d, want %d", got, want)
	}
	if got := mustToken(t, ts); got != "token-2" {
		t.Fatalf("after resume: got %q, want a new token-2", got)
	}

	// A suspend into the refresh window (but not past expiry) starts the
	// refresh phase instead.
	fc.Suspend(40 * time.Minute)
	fc.Advance(tickInterval)
	if got, want := phaseOf(e), phaseRefresh; got != want {
		t.Fatalf("resumed inside the refresh window: phase %d, want %d", got, want)
	}
	if got := mustToken(t, ts); got != "token-2" {
		t.Fatalf("refresh window: got %q, want the current token-2", got)
	}
	waitUntil(t, "the background refresh", func() bool { return f.count() == 3 && !e.refreshing.Load() })
}

func TestCacheRefreshFailureKeepsServing(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()
	mustToken(t, ts)

	f.set(errors.New("entra down"), nil)
	fc.Advance(30 * time.Minute)
	if got := mustToken(t, ts); got != "token-1" {
		t.Fatalf("got %q, want token-1", got)
	}
	waitUntil(t, "the refresh to fail", func() bool { return f.count() == 2 && !e.refreshing.Load() })
	if got, want := phaseOf(e), phaseBackoff; got != want {
		t.Fatalf("after failed refresh: phase %d, want %d", got, want)
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
	fc.Advance(refreshRetryBase)
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

// A failed fetch is remembered until its retry time: callers in between
// get the same error at once, without a request; after it, a new fetch.
func TestCacheFailuresAreRememberedUntilRetry(t *testing.T) {
	fc := newFakeClock(time.Now())
	boom := errors.New("boom")
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, fail: boom}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	for i := range 3 {
		_, err := ts.Token()
		var ee *Error
		if !errors.As(err, &ee) || !errors.Is(err, boom) {
			t.Fatalf("call %d: got %v, want an *Error wrapping the fetch error", i, err)
		}
		if i > 0 && (ee.RetryAfter <= 0 || ee.RetryAfter > blockingRetryBase) {
			t.Errorf("call %d: RetryAfter %v, want in (0, %v]", i, ee.RetryAfter, blockingRetryBase)
		}
	}
	if got := f.count(); got != 1 {
		t.Errorf("fetches: got %d, want 1 (the failure is remembered)", got)
	}
	f.set(nil, nil)
	fc.Advance(blockingRetryBase)
	if got := mustToken(t, ts); got != "token-2" {
		t.Errorf("after the retry time: got %q, want token-2", got)
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
		_, err := ts.tokenCtx(ctx)
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
	waitUntil(t, "the fetch to fill the cache", func() bool { return phaseOf(ts.entry()) == phaseFresh })
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
	if got, want := phaseOf(ts.entry()), phaseEvicted; got != want {
		t.Fatalf("phase: got %d, want %d (evicted)", got, want)
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
		if phaseOf(ts.entry()) == phaseEvicted {
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

func (s *memStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

func (s *memStore) get(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

func (s *memStore) put(key string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = v
}

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
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
	waitUntil(t, "the background save", func() bool { return store.count() == 1 })
	// A second cache (another process) finds the token in the store.
	c2 := newTestCache(t, f, &Options{Store: store})
	if got := mustToken(t, testSource(t, c2, "api://x/.default")); got != "token-1" || f.count() != 1 {
		t.Fatalf("from store: got %q after %d fetches, want token-1 after 1", got, f.count())
	}
	// A corrupt value is deleted and replaced.
	store.put("test/api://y/.default", []byte("{not json"))
	c4 := newTestCache(t, f, &Options{Store: store})
	if got := mustToken(t, testSource(t, c4, "api://y/.default")); got != "token-2" {
		t.Fatalf("corrupt value: got %q, want token-2", got)
	}
	waitUntil(t, "the new token saved", func() bool { return strings.Contains(string(store.get("test/api://y/.default")), "token-2") })
	// A store that fails degrades to Entra without an error.
	store.setFail(errors.New("store down"))
	var logs syncBuffer
	c3 := newTestCache(t, f, &Options{Store: store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := mustToken(t, testSource(t, c3, "api://x/.default")); got != "token-3" {
		t.Fatalf("failing store: got %q, want token-3", got)
	}
	waitUntil(t, "the failed save to be logged", func() bool { return strings.Count(logs.String(), "store down") >= 2 })
	if got := logs.String(); !strings.Contains(got, "level=WARN") {
		t.Errorf("store failure not logged at Warn: %q", got)
	}
}
