package entra

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Close never races a background refresh that is starting: it either
// waits for it or the refresh sees the closed entry. Run with -race.
func TestCloseWhileARefreshStarts(t *testing.T) {
	for range 200 {
		fc := newFakeClock(time.Now())
		f := &fakeFetcher{clock: fc, lifetime: time.Hour}
		c := newTestCache(t, f, &Options{IdleTTL: 24 * time.Hour})
		ts := testSource(t, c, "api://x/.default")
		mustToken(t, ts)
		fc.Advance(31 * time.Minute)
		start, done := make(chan struct{}), make(chan struct{})
		go func() { <-start; ts.Token(); close(done) }()
		close(start)
		c.close()
		<-done
	}
}

// A caller waiting on a fetch when Close runs gets ErrClosed, not a
// cancellation that looks like its own.
func TestCloseAnswersWaitersWithErrClosed(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, gate: make(chan struct{})}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	done := make(chan error, 1)
	go func() { _, err := ts.Token(); done <- err }()
	waitUntil(t, "the fetch to start", func() bool { return f.count() == 1 })
	c.close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("got %v, want ErrClosed", err)
	}
}

// With a Store, the background refresh still asks Entra: the process's own
// saved token is not "newer" than the one being refreshed, so callers never
// block at expiry.
func TestStoreDoesNotStallTheRefresh(t *testing.T) {
	fc := newFakeClock(time.Now())
	store := &memStore{}
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{Store: store, IdleTTL: 24 * time.Hour})
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()
	start := fc.Now()
	for range 7 * 60 { // 70 minutes, a call every 10 s
		if got := phaseOf(e); got == phaseEmpty && f.count() > 0 {
			t.Fatalf("at +%v the entry is empty: callers block", fc.Now().Sub(start))
		}
		mustToken(t, ts)
		waitUntil(t, "the refresh to settle", func() bool { return !e.refreshing.Load() })
		fc.Advance(10 * time.Second)
	}
	if got := f.count(); got < 2 {
		t.Errorf("fetches from Entra in 70 minutes of a 1 h token: got %d, want at least 2", got)
	}
}

// A Store value is held to the rules of Entra's answers: a token that
// cannot be sent as a header, or an expiry years away, is a miss.
func TestStoreValuesAreValidated(t *testing.T) {
	for name, value := range map[string]string{
		"CR LF in the token": `{"access_token":"evil\r\nX-Injected: 1","expires_on":"` + time.Now().Add(time.Hour).Format(time.RFC3339) + `"}`,
		"ten years":          `{"access_token":"abc","expires_on":"` + time.Now().Add(10*365*24*time.Hour).Format(time.RFC3339) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			fc := newFakeClock(time.Now())
			store := &memStore{}
			store.put("test/api://x/.default", []byte(value))
			f := &fakeFetcher{clock: fc, lifetime: time.Hour}
			c := newTestCache(t, f, &Options{Store: store})
			if got := mustToken(t, testSource(t, c, "api://x/.default")); got != "token-1" {
				t.Errorf("got %q, want a token from Entra", got)
			}
		})
	}
}

// Idle removal keeps what must be kept: a remembered Retry-After (even
// with an IdleTTL shorter than it) and an entry whose fetch is in flight.
func TestIdleRemovalKeepsFailuresAndFetches(t *testing.T) {
	t.Run("Retry-After", func(t *testing.T) {
		fc := newFakeClock(time.Now())
		f := &fakeFetcher{clock: fc, lifetime: time.Hour, fail: &Error{Op: "token", Code: "throttled", RetryAfter: 10 * time.Minute}}
		c := newTestCache(t, f, &Options{IdleTTL: time.Minute})
		ts := testSource(t, c, "api://x/.default")
		ts.Token()
		fc.Advance(2 * time.Minute)
		if _, err := ts.Token(); err == nil || f.count() != 1 {
			t.Errorf("2 minutes into a 10 minute Retry-After: %d fetches (err %v), want 1 and the remembered error", f.count(), err)
		}
	})
	t.Run("fetch in flight", func(t *testing.T) {
		fc := newFakeClock(time.Now())
		gate := make(chan struct{})
		f := &fakeFetcher{clock: fc, lifetime: time.Hour, gate: gate}
		c := newTestCache(t, f, &Options{IdleTTL: 5 * time.Second})
		ts := testSource(t, c, "api://x/.default")
		done := make(chan struct{})
		go func() { ts.Token(); close(done) }()
		waitUntil(t, "the fetch to start", func() bool { return f.count() == 1 })
		fc.Advance(8 * time.Second)
		close(gate)
		<-done
		if c.lookup("api://x/.default") == nil {
			t.Fatal("the entry was removed while its fetch was in flight")
		}
		mustToken(t, testSource(t, c, "api://x/.default"))
		if got := f.count(); got != 1 {
			t.Errorf("fetches: got %d, want 1", got)
		}
	})
}

// No challenge-driven request while Entra's Retry-After holds.
func TestClaimsFetchHonoursRetryAfter(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, plainOnly: true}
	c := newTestCache(t, f, &Options{IdleTTL: 24 * time.Hour})
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()
	sent, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	f.set(&Error{Op: "token", Code: "throttled", RetryAfter: 10 * time.Minute}, nil)
	fc.Advance(31 * time.Minute)
	mustToken(t, ts)
	waitUntil(t, "the refresh to fail", func() bool { return !e.refreshing.Load() && f.count() == 2 })
	for i := range 6 {
		_, err := e.claimsToken(context.Background(), sent, `{"access_token":{"nbf":{"essential":true,"value":"`+string(rune('1'+i))+`"}}}`)
		var ee *Error
		if !errors.As(err, &ee) || ee.RetryAfter <= 0 {
			t.Fatalf("challenge %d during Retry-After: got %v, want the remembered error", i, err)
		}
		fc.Advance(11 * time.Second)
	}
	if got := f.count(); got != 2 {
		t.Errorf("requests to Entra: got %d, want 2 (none driven by challenges)", got)
	}
}

// After a suspend, a path that reads the clock never hands out a token
// past its end of use, even before the first tick catches the cache up.
func TestSlowPathAfterSuspendNeverServesExpired(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour}
	c := newTestCache(t, f, &Options{IdleTTL: 24 * time.Hour})
	ts := testSource(t, c, "api://x/.default")
	mustToken(t, ts)
	fc.Suspend(2 * time.Hour)
	tok, _, err := ts.entry().slow(context.Background())
	if err != nil || tok.AccessToken != "token-2" {
		t.Errorf("slow path right after resume: got %v, %v; want a new token-2", tok, err)
	}
}

// Eviction keeps an entry that remembers Entra's Retry-After while other
// entries can go instead.
func TestEvictionKeepsRememberedFailures(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, fail: &Error{Op: "token", Code: "throttled", RetryAfter: 10 * time.Minute}}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 2, IdleTTL: 24 * time.Hour})
	throttled := testSource(t, c, "api://throttled/.default")
	throttled.Token()
	f.set(nil, nil)
	for i := range 20 {
		mustToken(t, testSource(t, c, "api://other"+string(rune('a'+i))+"/.default"))
	}
	if _, err := throttled.Token(); err == nil || f.count() != 21 {
		t.Errorf("throttled scope after 20 other scopes under a cap of 2: %d fetches (err %v), want 21 and the remembered error", f.count(), err)
	}
}

// A caller that saw the entry empty but reaches the shared fetch after it
// failed gets the remembered failure, not a new request; every caller gets
// its own copy of the error, saying when entra asks again.
func TestLateCallerGetsTheRememberedFailure(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, fail: &Error{Op: "token", Code: "temporarily_unavailable", StatusCode: 503}}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	_, err1 := ts.Token()
	_, err2 := ts.entry().wait(context.Background()) // where a late cold caller lands
	if f.count() != 1 {
		t.Errorf("fetches: got %d, want 1", f.count())
	}
	var e1, e2 *Error
	if !errors.As(err1, &e1) || !errors.As(err2, &e2) {
		t.Fatalf("got %v and %v, want *Error twice", err1, err2)
	}
	if e1 == e2 || e1.RetryAfter <= 0 || e2.RetryAfter <= 0 {
		t.Errorf("errors %p (retry in %v) and %p (retry in %v): want two copies, each with the retry time", e1, e1.RetryAfter, e2, e2.RetryAfter)
	}
	e1.Description = "changed by a caller"
	if _, err3 := ts.Token(); err3 == nil || strings.Contains(err3.Error(), "changed by a caller") {
		t.Errorf("a caller's change reached the next caller: %v", err3)
	}
}
