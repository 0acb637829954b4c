package entra

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// The state machine of one cache entry (one scope set of one Credential).
//
// An entry holds at most one token. Its phase is a function of the wall
// clock and of three times the entry keeps: refreshAt and usableUntil
// (from the token, see timesFor) and retryAt (after a failure: backoff or
// Entra's Retry-After).
//
//	phase     token served   a caller                       next change
//	empty     no             waits for the one shared fetch  fetch installs → fresh; fails → failing
//	failing   no             gets the remembered error       retryAt → empty
//	fresh     yes (hot path) only reads a pointer            refreshAt → refresh
//	refresh   yes            starts the background fetch    installs → fresh; fails → backoff
//	backoff   yes (hot path) only reads a pointer            retryAt → refresh
//	evicted   no             forwards to the live entry      final
//	closed    no             gets ErrClosed                  final
//
// From fresh, refresh and backoff the phase becomes empty or failing at
// usableUntil, and the token is dropped.
//
// Who moves it: advance, and only advance, under entry.mu. It is called by
// the entry's single "next action at" time, timerAt (the next of
// refreshAt, usableUntil and retryAt, which advance sets; the cache's
// scheduler, one timer for all entries, calls onTimer then), by the sweep
// with the wall clock (so a suspended machine catches up; the sweep never
// overrides, it asks the same function), by installs, and by fetch
// failures. Callers never set a phase: they do what the phase asks for.
// Eviction and Close are final and release the token and take the entry
// off the schedule at once. Installs are ordered by when their fetch started:
// a token from an older fetch never replaces a newer one.
const (
	phaseEmpty uint32 = iota
	phaseFailing
	phaseFresh
	phaseRefresh
	phaseBackoff
	phaseEvicted
	phaseClosed
)

// snapshot is one immutable token with its times. The token is served
// as &s.token (one allocation for both); its times are wall-clock unix
// nanoseconds (see timesFor).
type snapshot struct {
	token       oauth2.Token // shared by every caller: read-only
	refreshAt   int64        // background refresh becomes due
	usableUntil int64        // the token is no longer served
	claims      *string      // the claims request it was fetched with; nil: none
}

// usable reports whether the snapshot's token may be served at now (unix
// nanoseconds, wall clock).
func (s *snapshot) usable(now int64) bool { return now < s.usableUntil }

// claimsOf returns the claims request s was fetched with, or "".
func (s *snapshot) claimsOf() string {
	if s.claims == nil {
		return ""
	}
	return *s.claims
}

// entry is the cache slot of one scope set. TokenSources hold it, so their
// hot path needs no map lookup.
//
// Times are wall-clock unix nanoseconds (0: none). Fields are ordered by
// size: an entry is 160 bytes (a size class of Go's allocator), one per
// cached scope set and user.
type entry struct {
	// hot is all the hot path reads: see hotCell.
	hot *hotCell

	c   *cache
	set scopeSet

	cur      atomic.Pointer[snapshot] // the token served, or nil
	lastUsed atomic.Int64             // unix nanoseconds of the last slow-path call
	recency  atomic.Uint64            // cache-wide order of the last slow-path call: for LRU

	mu      sync.Mutex // guards what follows; never held across I/O
	seq     uint64     // fetch order of the installed token
	timerAt int64      // when the scheduler calls onTimer; written with c.sched.mu held too
	rare    *entryRare // failure and claims state; nil while there is none

	phase      atomic.Uint32
	fetching   atomic.Int32 // fetches of this entry in flight, of any kind
	refreshing atomic.Bool  // a background refresh runs
	heapIdx    int32        // index in c.sched.heap, -1 when not scheduled; guarded by c.sched.mu
}

// entryRare is the state few entries have at any time: a remembered
// failure, when the last challenge-driven fetch ran, and whether the "no
// roles" warning was logged. Guarded by entry.mu.
type entryRare struct {
	retryAt     int64  // no request to Entra before this
	lastErr     *Error // the last failure, remembered until retryAt
	failures    int    // consecutive failed fetches
	claimsAt    int64  // the last challenge-driven fetch
	warnedRoles bool   // the "no roles" warning was logged
}

// retryAt returns when Entra may be asked again (0: now). e.mu held.
func (e *entry) retryAt() int64 {
	if e.rare == nil {
		return 0
	}
	return e.rare.retryAt
}

// rareState returns e.rare, allocating it. e.mu held.
func (e *entry) rareState() *entryRare {
	if e.rare == nil {
		e.rare = &entryRare{}
	}
	return e.rare
}

// forgetFailure clears the remembered failure (a token was installed).
// e.mu held.
func (e *entry) forgetFailure(now int64) {
	if r := e.rare; r != nil {
		r.retryAt, r.lastErr, r.failures = 0, nil, 0
		e.tidy(now)
	}
}

// tidy drops e.rare when it holds nothing that matters at now: no failure,
// no challenge-driven fetch within claimsInterval, no warning logged.
// e.mu held.
func (e *entry) tidy(now int64) {
	r := e.rare
	if r != nil && r.failures == 0 && r.lastErr == nil && r.retryAt == 0 && !r.warnedRoles &&
		(r.claimsAt == 0 || now-r.claimsAt >= int64(claimsInterval)) {
		e.rare = nil
	}
}

// hotCell holds an entry's token while the phase is fresh or backoff (the
// token is served and nothing is to be started) and a caller has been seen
// since the last sweep (nil otherwise), the entry itself and its key. It
// is a separate 32-byte object, and the cache index maps keys to cells (and
// compares the key in the cell), so a lookup touches small, densely
// allocated cells rather than the large entries: with many entries, that
// is one cache miss fewer per call.
type hotCell struct {
	token atomic.Pointer[oauth2.Token]
	e     *entry
	key   string // the entry's key: the index compares it here
	// used is set by hot-path hits and cleared when eviction looks at the
	// entry (a second chance, as in CLOCK): the hot path records a use at
	// the cost of a load, and a store once per eviction look.
	used atomic.Bool
}

// touch records a hot-path hit for eviction.
func (h *hotCell) touch() {
	if !h.used.Load() {
		h.used.Store(true)
	}
}

func newEntry(c *cache, set scopeSet, now time.Time) *entry {
	e := &entry{c: c, set: set, hot: &hotCell{key: set.key}, heapIdx: -1}
	e.hot.e = e
	e.touch(now)
	return e
}

// touch records a use at now, for the idle TTL and the LRU order.
func (e *entry) touch(now time.Time) {
	e.lastUsed.Store(now.UnixNano())
	e.recency.Store(e.c.uses.Add(1))
}

// slow handles every phase but an armed fresh one (the hot path, in
// tokens.go, reads hotCell.token and nothing else). It returns the token
// and the entry that answered: e itself, or the live entry e forwarded to
// after e was evicted. ctx bounds only the wait for a blocking fetch; the
// fetch runs detached from its cancellation.
func (e *entry) slow(ctx context.Context) (*oauth2.Token, *entry, error) {
	var last error
	for range 8 { // forwarding more than a few times means constant eviction: fail
		now := e.c.clock.Now()
		e.touch(now)
		s := e.cur.Load()
		if s != nil && !s.usable(now.UnixNano()) {
			// The timers are late (the machine slept): catch up first.
			e.mu.Lock()
			e.advance(now)
			e.mu.Unlock()
			e.c.sched.rearm(now.UnixNano())
			continue
		}
		switch e.phase.Load() {
		case phaseFresh:
			if s != nil {
				e.rearm(s)
				return &s.token, e, nil
			}
		case phaseRefresh:
			if s != nil {
				e.startRefresh(ctx)
				return &s.token, e, nil
			}
		case phaseBackoff:
			if s != nil {
				e.rearm(s)
				return &s.token, e, nil
			}
		case phaseFailing:
			if err := e.remembered(now); err != nil {
				return nil, e, err
			}
		case phaseEvicted:
			e = e.c.entry(e.set)
			continue
		case phaseClosed:
			return nil, e, closedError()
		}
		t, err := e.wait(ctx)
		if errors.Is(err, errStale) {
			last = err
			continue // the machine slept while this caller waited: look again
		}
		return t, e, err
	}
	if last != nil {
		return nil, e, last
	}
	return nil, e, &Error{Op: "token", Code: "cache_thrashing",
		Description: "the cache entry was evicted repeatedly while in use",
		Hint:        "raise Options.MaxCacheEntries above the number of scope sets in use"}
}

// rearm puts a fresh token back on the hot path after a sweep took it off
// to learn whether the entry is still used.
func (e *entry) rearm(s *snapshot) {
	e.mu.Lock()
	if p := e.phase.Load(); (p == phaseFresh || p == phaseBackoff) && e.cur.Load() == s {
		e.hot.token.Store(&s.token)
	}
	e.mu.Unlock()
}

// remembersFailure reports whether the entry holds a failure's retry time
// (phase failing or backoff).
func (e *entry) remembersFailure() bool {
	p := e.phase.Load()
	return p == phaseFailing || p == phaseBackoff
}

// remembered returns the last failure while retryAt has not passed, with
// RetryAfter counting down; nil once a new attempt is allowed.
func (e *entry) remembered(now time.Time) *Error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rare
	if r == nil || r.lastErr == nil {
		return nil
	}
	wait := time.Duration(r.retryAt - now.UnixNano())
	if wait <= 0 {
		return nil
	}
	cp := *r.lastErr
	if !errors.Is(r.lastErr, ErrInteractionRequired) {
		cp.RetryAfter = wait
	}
	return &cp
}

// wait joins (or starts) the entry's shared fetch and waits for it or for
// ctx, whichever comes first.
func (e *entry) wait(ctx context.Context) (*oauth2.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(err)
	}
	return e.c.await(ctx, e.c.sf.DoChan(e.set.key, func() (any, error) {
		return e.c.fetch(ctx, e, "", true)
	}))
}

// errStale: a shared fetch's token was no longer usable when it reached a
// caller (the machine slept, or the clock jumped, while it waited).
var errStale = &Error{Op: "token", Code: "expired_on_arrival",
	Description: "the token had expired when it arrived: the machine slept, or its clock jumped, during the request",
	Hint:        "call again: entra fetches a new token"}

// await waits for a shared fetch's token or for ctx, whichever comes
// first; the fetch goes on without this caller. A token that is no longer
// usable by the time it arrives is not returned: errStale.
func (c *cache) await(ctx context.Context, ch <-chan singleflight.Result) (*oauth2.Token, error) {
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		s := r.Val.(*snapshot)
		if !s.usable(c.clock.Now().UnixNano()) {
			return nil, errStale
		}
		return &s.token, nil
	case <-ctx.Done():
		return nil, ctxError(ctx.Err())
	}
}

// startRefresh runs one background refresh unless one is running.
// Callers keep getting the current token meanwhile. The check of the phase
// and the registration with the cache's WaitGroup happen under e.mu, so
// Close (which retires entries under e.mu, then waits) never misses one.
func (e *entry) startRefresh(ctx context.Context) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	e.mu.Lock()
	if e.phase.Load() != phaseRefresh {
		e.mu.Unlock()
		e.refreshing.Store(false) // moved on meanwhile
		return
	}
	e.c.bg.Add(1)
	e.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer e.c.bg.Done()
		defer e.refreshing.Store(false)
		<-e.c.sf.DoChan(e.set.key, func() (any, error) { return e.c.fetch(ctx, e, "", false) })
	}()
}

// advance sets the phase the wall clock says the entry is in, arms or
// disarms the hot path, drops an unusable token and sets the time of the
// next change with the cache's scheduler. e.mu held.
func (e *entry) advance(now time.Time) {
	p := e.phase.Load()
	if p == phaseEvicted || p == phaseClosed {
		e.c.sched.remove(e)
		return
	}
	wall := now.UnixNano()
	retryAt := e.retryAt()
	s := e.cur.Load()
	var next int64
	switch {
	case s != nil && wall < s.usableUntil:
		switch {
		case wall < s.refreshAt:
			p, next = phaseFresh, s.refreshAt
		case wall < retryAt:
			p, next = phaseBackoff, min(retryAt, s.usableUntil)
		default:
			p, next = phaseRefresh, s.usableUntil
		}
	default:
		s = nil
		p = phaseEmpty
		if wall < retryAt {
			p, next = phaseFailing, retryAt
		}
	}
	e.cur.Store(s)
	e.phase.Store(p)
	if p == phaseFresh || p == phaseBackoff { // serving, nothing to start: the timer ends it
		e.hot.token.Store(&s.token)
	} else {
		e.hot.token.Store(nil)
	}
	e.c.sched.set(e, next, wall)
}

// onTimer is called by the scheduler at the entry's timerAt.
func (e *entry) onTimer() {
	e.mu.Lock()
	e.advance(e.c.clock.Now())
	e.mu.Unlock()
}

// retire moves the entry to a final phase (evicted or closed), dropping
// its token, failure and timer. e.mu held.
func (e *entry) retire(p uint32) {
	e.phase.Store(p)
	e.hot.token.Store(nil)
	e.cur.Store(nil)
	e.rare = nil
	e.c.sched.remove(e)
}
