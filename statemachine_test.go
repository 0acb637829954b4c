package entra

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// entryModel is the state machine of entry.go written out plainly: the
// phase is a function of the wall clock, the token's times and retryAt.
// TestEntryAgainstModel drives a real cache and this model with the same
// random operations and compares every answer, every phase and the number
// of fetches.
type entryModel struct {
	token       string
	refreshAt   time.Time
	usableUntil time.Time
	retryAt     time.Time
	failures    int
	fetches     int
}

func (m *entryModel) phase(now time.Time) uint32 {
	if m.token != "" && now.Before(m.usableUntil) {
		switch {
		case now.Before(m.refreshAt):
			return phaseFresh
		case now.Before(m.retryAt):
			return phaseBackoff
		}
		return phaseRefresh
	}
	if now.Before(m.retryAt) {
		return phaseFailing
	}
	return phaseEmpty
}

// fetch applies one fetch at now: a new token, or a failure with the
// backoff of a refresh (serving) or of a blocking fetch, stretched to the
// server's Retry-After.
func (m *entryModel) fetch(now time.Time, lifetime time.Duration, up bool, retryAfter time.Duration) {
	m.fetches++
	if up {
		m.token = fmt.Sprintf("token-%d", m.fetches)
		t := timesFor(now, now.Add(lifetime), time.Time{}, 0)
		m.refreshAt, m.usableUntil = t.refreshAt, t.usableUntil
		m.failures, m.retryAt = 0, time.Time{}
		return
	}
	serving := m.token != "" && now.Before(m.usableUntil)
	m.failures++
	d := backoff(m.failures, blockingRetryBase, blockingRetryMax, 0)
	if serving {
		d = backoff(m.failures, refreshRetryBase, refreshRetryMax, 0)
	}
	if retryAfter > d {
		d = min(retryAfter, maxServerDelay)
	}
	m.retryAt = now.Add(d)
	if !serving {
		m.token = ""
	}
}

func TestEntryAgainstModel(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { runModel(t, uint64(seed)) })
	}
}

func runModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fc := newFakeClock(start)
	lifetime := time.Duration(1+r.IntN(120)) * time.Minute
	f := &fakeFetcher{clock: fc, lifetime: lifetime}
	c := newTestCache(t, f, &Options{IdleTTL: 24 * time.Hour})
	ts := testSource(t, c, "api://model/.default")
	m := &entryModel{}
	up, retryAfter := true, time.Duration(0)

	for step := range 400 {
		var op string
		switch k := r.IntN(10); {
		case k < 4:
			d := time.Duration(r.Int64N(int64(20 * time.Minute)))
			if r.IntN(3) == 0 {
				d = time.Duration(r.IntN(120)) * time.Second
			}
			op = fmt.Sprint("advance ", d)
			fc.Advance(d)
		case k == 4:
			d := time.Duration(r.Int64N(int64(3 * time.Hour)))
			op = fmt.Sprint("suspend ", d)
			fc.Suspend(d)
			fc.Advance(tickInterval) // the first tick after resume catches up
		case k == 5:
			up = !up
			retryAfter = 0
			if !up && r.IntN(2) == 0 {
				retryAfter = time.Duration(r.IntN(900)) * time.Second
			}
			var fail error
			if !up {
				fail = &Error{Op: "token", Code: "temporarily_unavailable", RetryAfter: retryAfter}
			}
			f.set(fail, nil)
			op = fmt.Sprintf("entra up=%v retry-after=%v", up, retryAfter)
		default:
			op = "token"
			now := fc.Now()
			before := m.phase(now)
			got, err := ts.Token()
			waitUntil(t, "the background refresh to end", func() bool { return !ts.entry().refreshing.Load() })
			switch before {
			case phaseFresh, phaseBackoff:
				if err != nil || got.AccessToken != m.token {
					t.Fatalf("step %d (%s) in phase %d: got %v, %v; want %s", step, op, before, got, err, m.token)
				}
			case phaseRefresh:
				want := m.token
				m.fetch(now, lifetime, up, retryAfter)
				if err != nil || got.AccessToken != want {
					t.Fatalf("step %d (%s) in phase refresh: got %v, %v; want %s", step, op, got, err, want)
				}
			case phaseFailing:
				var ee *Error
				if !errors.As(err, &ee) || ee.RetryAfter != m.retryAt.Sub(now) {
					t.Fatalf("step %d (%s) failing: got %v (%v), want the remembered error, retry in %v", step, op, got, err, m.retryAt.Sub(now))
				}
			case phaseEmpty:
				m.fetch(now, lifetime, up, retryAfter)
				if up && (err != nil || got.AccessToken != m.token) {
					t.Fatalf("step %d (%s) empty: got %v, %v; want %s", step, op, got, err, m.token)
				}
				if !up && err == nil {
					t.Fatalf("step %d (%s) empty: got %v with Entra down, want an error", step, op, got)
				}
			}
		}
		now := fc.Now()
		if got, want := phaseOf(ts.entry()), m.phase(now); got != want {
			t.Fatalf("step %d (%s) at +%v: phase %d, model says %d (model %+v)", step, op, now.Sub(start), got, want, *m)
		}
		if got := f.count(); got != m.fetches {
			t.Fatalf("step %d (%s): %d fetches, model says %d", step, op, got, m.fetches)
		}
		if got := fc.pending(); got > 2 {
			t.Fatalf("step %d (%s): %d pending timers, want at most 2", step, op, got)
		}
	}
}
