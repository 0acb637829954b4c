package entra

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Phases of a snapshot. Timers move a snapshot forward (fresh -> refresh ->
// expired); a failed background refresh moves it back from refresh to fresh
// until its retry timer fires.
const (
	phaseFresh   uint32 = 0 // serve it
	phaseRefresh uint32 = 1 // serve it; one background refresh per entry
	phaseExpired uint32 = 2 // block on a fetch (also: no token yet)
	phaseMask    uint32 = 3
	// usedBit is set by the first caller after each idle sweep, which
	// clears it: it is how the sweeper learns an entry is in use without
	// any caller reading the clock.
	usedBit uint32 = 4
	// hot is the state in which Token returns at once.
	hot = phaseFresh | usedBit
)

const (
	// expirySkew: a token counts as expired this long before its expiry,
	// so it is never sent when it is about to lapse on the wire.
	expirySkew = 30 * time.Second
	// refreshBeforeExpiry: the refresh phase starts at least this long
	// before expiry, whatever Entra's refresh_in says.
	refreshBeforeExpiry = 5 * time.Minute
	// refreshFraction of the lifetime elapses before the refresh phase
	// when Entra sends no refresh_in.
	refreshFraction = 0.5
	// Retry backoff after a failed background refresh: full jitter in
	// [d/2, d], d doubling from retryBase up to retryMax.
	retryBase = 10 * time.Second
	retryMax  = 5 * time.Minute
)

// tokenResult is a token as fetched from Entra or loaded from a Store.
type tokenResult struct {
	accessToken string
	expiresOn   time.Time
	refreshOn   time.Time // zero: not given
}

// snapshot is one immutable token plus its atomic phase. A new token means
// a new snapshot; timers of an old snapshot only ever change that old
// snapshot, which nobody reads any more.
type snapshot struct {
	token     *oauth2.Token // shared by every caller: read-only
	expiresOn time.Time
	refreshOn time.Time
	state     atomic.Uint32
	timers    []Timer // guarded by entry.mu
}

// setPhase moves s to phase p if its current phase is from (any phase if
// from > phaseMask), keeping the used bit.
func (s *snapshot) setPhase(from, p uint32) {
	for {
		old := s.state.Load()
		if from <= phaseMask && old&phaseMask != from {
			return
		}
		if old&phaseMask == phaseExpired && p != phaseExpired {
			return // expiry is final for a snapshot
		}
		if s.state.CompareAndSwap(old, old&^phaseMask|p) {
			return
		}
	}
}

// anyPhase as the from argument of setPhase.
const anyPhase = phaseMask + 1

// entry is the cache slot of one scope set. TokenSources hold it directly,
// so their hot path needs no map lookup.
type entry struct {
	c      *cache
	key    string   // normalized scopes; the cache and singleflight key
	scopes []string // what is sent to Entra

	cur        atomic.Pointer[snapshot]
	refreshing atomic.Bool  // a background refresh is running
	evicted    atomic.Bool  // removed from the cache map
	lastUsed   atomic.Int64 // unix nanoseconds, recorded by sweeps and installs

	mu       sync.Mutex // guards installs, timers and failures; never held across I/O
	failures int        // consecutive failed background refreshes
}

// newEntry returns an entry with no token (phase expired).
func newEntry(c *cache, set scopeSet, now time.Time) *entry {
	e := &entry{c: c, key: set.key, scopes: set.scopes}
	empty := &snapshot{}
	empty.state.Store(phaseExpired | usedBit)
	e.cur.Store(empty)
	e.lastUsed.Store(now.UnixNano())
	return e
}

// token returns the entry's token. ctx bounds only the wait for a blocking
// fetch (cold or expired entry); the fetch itself runs detached from ctx's
// cancellation, with the cache's fetch timeout, and fills the cache even if
// every waiter gave up.
func (e *entry) token(ctx context.Context) (*oauth2.Token, error) {
	s := e.cur.Load()
	if s.state.Load() == hot {
		return s.token, nil
	}
	return e.slow(ctx, s)
}

// slow handles every state but "fresh and used".
func (e *entry) slow(ctx context.Context, s *snapshot) (*oauth2.Token, error) {
	st := s.state.Load()
	if st&usedBit == 0 {
		s.state.Or(usedBit)
	}
	if e.evicted.Load() {
		e.c.reattach(e)
	}
	switch st & phaseMask {
	case phaseFresh:
		return s.token, nil
	case phaseRefresh:
		e.startRefresh(ctx)
		return s.token, nil
	}
	return e.wait(ctx)
}

// wait joins (or starts) the entry's shared fetch and waits for it or for
// ctx, whichever comes first.
func (e *entry) wait(ctx context.Context) (*oauth2.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(err)
	}
	ch := e.c.sf.DoChan(e.key, func() (any, error) {
		// A fetch that finished between this caller's look at the entry
		// and here has installed a usable token: take it instead of
		// asking Entra again.
		if s := e.cur.Load(); s.state.Load()&phaseMask != phaseExpired {
			return s, nil
		}
		return e.fetch(ctx, true)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		s := r.Val.(*snapshot)
		e.adopt(s)
		return s.token, nil
	case <-ctx.Done():
		return nil, ctxError(ctx.Err())
	}
}

// ctxError wraps a context error as an *Error that still satisfies
// errors.Is(err, context.Canceled) / context.DeadlineExceeded.
func ctxError(err error) error {
	code := "canceled"
	if errors.Is(err, context.DeadlineExceeded) {
		code = "timeout"
	}
	return &Error{Op: "token", Code: code, Description: "gave up waiting for a token: " + err.Error(), Err: err}
}

// startRefresh runs one background refresh for the entry unless one is
// already running. Callers keep getting the current token meanwhile.
func (e *entry) startRefresh(ctx context.Context) {
	if !e.refreshing.CompareAndSwap(false, true) {
		return
	}
	from := e.cur.Load()
	if from.state.Load()&phaseMask != phaseRefresh {
		e.refreshing.Store(false) // a new token arrived meanwhile
		return
	}
	go func() {
		defer e.refreshing.Store(false)
		r := <-e.c.sf.DoChan(e.key, func() (any, error) { return e.fetch(ctx, false) })
		if r.Err != nil {
			e.refreshFailed(from, r.Err)
			return
		}
		e.adopt(r.Val.(*snapshot))
	}()
}

// refreshFailed keeps serving from's token and schedules the next refresh
// attempt with jittered exponential backoff. If the token expires first,
// its expiry timer ends the refresh phase and callers block on a fetch.
func (e *entry) refreshFailed(from *snapshot, err error) {
	e.mu.Lock()
	e.failures++
	failures := e.failures
	d := retryBase << min(failures-1, 10)
	if d > retryMax || d <= 0 {
		d = retryMax
	}
	d = d/2 + rand.N(d/2+1)
	if e.cur.Load() == from { // else a newer token arrived meanwhile
		from.setPhase(phaseRefresh, phaseFresh)
		from.timers = append(from.timers, e.c.clock.AfterFunc(d, func() { from.setPhase(phaseFresh, phaseRefresh) }))
	}
	e.mu.Unlock()
	e.c.logger.Warn("entra: background token refresh failed; serving the current token",
		slog.String("scopes", e.key), slog.Int("failures", failures),
		slog.Duration("retry_in", d), slog.Time("expires_on", from.expiresOn), slog.String("error", err.Error()))
}

// fetch gets a token for the entry: from the Store when it holds a usable
// one, else from Entra. It runs inside the cache's singleflight, detached
// from the caller's cancellation (ctx supplies values only), bounded by the
// fetch timeout. blocking says whether callers are waiting (cold or
// expired entry): then any unexpired stored token will do; a background
// refresh only takes a stored token that is not due for refresh itself.
func (e *entry) fetch(ctx context.Context, blocking bool) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.c.fetchTimeout)
	defer cancel()
	if t, ok := e.c.loadStored(ctx, e.key, blocking); ok {
		return e.install(t), nil
	}
	return e.fetchEntra(ctx, "")
}

// fetchEntra asks Entra for a token (with claims, if any), installs it and
// saves it to the Store. Nothing is installed or saved on error.
func (e *entry) fetchEntra(ctx context.Context, claims string) (*snapshot, error) {
	start := e.c.clock.Now()
	t, err := e.c.fetchFn(ctx, e.scopes, claims)
	if err != nil {
		e.c.logger.Warn("entra: token fetch failed", slog.String("scopes", e.key), slog.String("error", err.Error()))
		return nil, err
	}
	s := e.install(t)
	e.c.logger.Info("entra: token fetched", slog.String("scopes", e.key),
		slog.Time("expires_on", s.expiresOn), slog.Time("refresh_on", s.refreshOn),
		slog.Duration("took", e.c.clock.Now().Sub(start)))
	e.c.saveStored(ctx, e.key, t, s)
	return s, nil
}

// install makes t the entry's current token: a new snapshot whose phase
// matches the clock, with timers for its refresh and expiry. It stops the
// previous snapshot's timers and resets the refresh failure count.
func (e *entry) install(t tokenResult) *snapshot {
	now := e.c.clock.Now()
	s := &snapshot{
		token:     &oauth2.Token{AccessToken: t.accessToken, TokenType: "Bearer", Expiry: t.expiresOn},
		expiresOn: t.expiresOn.Round(0), // wall clock only: see catchUp
		refreshOn: refreshTime(now, t.expiresOn, t.refreshOn).Round(0),
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.schedule(s, now)
	if old := e.cur.Swap(s); old != nil {
		stopTimers(old)
	}
	e.failures = 0
	e.lastUsed.Store(now.UnixNano())
	return s
}

// adopt installs a snapshot fetched for another entry with the same key (an
// entry evicted while a TokenSource still held it); a no-op for the entry's
// own snapshot.
func (e *entry) adopt(s *snapshot) {
	if e.cur.Load() == s {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if cur := e.cur.Load(); cur == s || cur.expiresOn.After(s.expiresOn) {
		return
	}
	now := e.c.clock.Now()
	own := &snapshot{token: s.token, expiresOn: s.expiresOn, refreshOn: s.refreshOn}
	e.schedule(own, now)
	stopTimers(e.cur.Swap(own))
}

// schedule sets s's initial phase from now and starts its timers. e.mu held.
func (e *entry) schedule(s *snapshot, now time.Time) {
	st := usedBit | phaseFresh
	expireIn := s.expiresOn.Add(-expirySkew).Sub(now)
	refreshIn := s.refreshOn.Sub(now)
	switch {
	case expireIn <= 0:
		st = usedBit | phaseExpired
	case refreshIn <= 0:
		st = usedBit | phaseRefresh
	}
	s.state.Store(st)
	if expireIn > 0 {
		s.timers = append(s.timers, e.c.clock.AfterFunc(expireIn, func() { s.setPhase(anyPhase, phaseExpired) }))
	}
	if refreshIn > 0 && expireIn > 0 {
		s.timers = append(s.timers, e.c.clock.AfterFunc(refreshIn, func() { s.setPhase(phaseFresh, phaseRefresh) }))
	}
}

// stopTimers stops s's timers. The entry's mu is held.
func stopTimers(s *snapshot) {
	for _, t := range s.timers {
		t.Stop()
	}
	s.timers = nil
}

// refreshTime is when the refresh phase of a token received at now starts:
// Entra's refresh_on if given, else refreshFraction of the lifetime; never
// later than refreshBeforeExpiry before expiry, never before now. A token
// living refreshBeforeExpiry or less refreshes at refreshFraction of its
// lifetime, so such tokens cannot make the entry refresh back to back.
func refreshTime(now, expiresOn, refreshOn time.Time) time.Time {
	half := now.Add(time.Duration(float64(expiresOn.Sub(now)) * refreshFraction))
	latest := expiresOn.Add(-refreshBeforeExpiry)
	if !latest.After(now) {
		return half
	}
	r := refreshOn
	if r.IsZero() {
		r = half
	}
	if r.After(latest) {
		r = latest
	}
	if r.Before(now) {
		r = now
	}
	return r
}
