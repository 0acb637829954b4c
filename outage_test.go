package entra

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// With Entra down for 20 minutes while a token is in its refresh window,
// the entry's background refreshes follow the jittered exponential
// backoff (10 s doubling to 5 min, each wait in [d/2, d]): at most 12
// attempts, whatever the sweeps and callers do meanwhile, with one pending
// timer for the entry. The current token is served throughout.
func TestRefreshBackoffDuringOutage(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: 2 * time.Hour}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()
	mustToken(t, ts)
	f.set(errors.New("entra down"), nil)
	fc.Advance(time.Hour) // the refresh window opens
	for range 20 * 60 {
		if got := mustToken(t, ts); got != "token-1" {
			t.Fatalf("got %q, want the current token-1 throughout", got)
		}
		waitUntil(t, "the refresh attempt to end", func() bool { return !e.refreshing.Load() })
		if got := fc.pending(); got > 2 {
			t.Fatalf("pending timers: got %d, want at most 2 (the entry's and the tick)", got)
		}
		fc.Advance(time.Second)
	}
	attempts := f.count() - 1
	if attempts > 12 || attempts < 6 {
		t.Errorf("refresh attempts in 20 minutes of outage: got %d, want 6 to 12", attempts)
	}
}

// A throttled client remembers Entra's Retry-After across calls: one call
// a second for two minutes after a 429 with Retry-After: 120 makes no
// request to Entra, and each call gets the 429 with the time left.
func TestRetryAfterRememberedAcrossCalls(t *testing.T) {
	m := newEmu(t)
	fc := newFakeClock(time.Now())
	cred := m.secretCred(t, func(o *Options) { o.Clock = fc })
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 429, RetryAfter: 120 * time.Second})
	var last time.Duration
	for i := range 119 {
		_, err := cred.Token(t.Context(), m.apiScope())
		var ee *Error
		if !errors.As(err, &ee) || ee.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("call %d: got %v, want the remembered 429", i, err)
		}
		if i > 0 && (ee.RetryAfter <= 0 || ee.RetryAfter >= last) {
			t.Fatalf("call %d: RetryAfter %v, want counting down from %v", i, ee.RetryAfter, last)
		}
		last = ee.RetryAfter
		fc.Advance(time.Second)
	}
	if got := m.s.Count(entratest.EndpointToken); got != 1 {
		t.Errorf("token requests in two minutes: got %d, want 1", got)
	}
}

// During a cold outage (every answer 503, no Retry-After) failures are
// remembered too: 20 calls, one a second, make a handful of fetches (each
// retried by the HTTP client), not 20.
func TestColdOutageFailuresRemembered(t *testing.T) {
	m := newEmu(t)
	fc := newFakeClock(time.Now())
	cred := m.secretCred(t, func(o *Options) { o.Clock = fc })
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 503, Count: 1000})
	for i := range 20 {
		if _, err := cred.Token(t.Context(), m.apiScope()); err == nil {
			t.Fatalf("call %d: got a token during the outage", i)
		}
		fc.Advance(time.Second)
	}
	// Fetches at about 0, 1, 2, 4, 8 and 16 s (backoff from 1 s), each at
	// most 4 attempts.
	if got := m.s.Count(entratest.EndpointToken); got > 6*4 {
		t.Errorf("token requests for 20 calls: got %d, want at most 24", got)
	}
	m.s.ClearFaults()
	fc.Advance(blockingRetryMax)
	if _, err := cred.Token(t.Context(), m.apiScope()); err != nil {
		t.Fatalf("after the outage: %v", err)
	}
}
