package entra

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrClosed: the Credential was closed; it gets no more tokens.
var ErrClosed = errors.New("entra: credential closed")

// fetchFunc gets a fresh token from Entra for the entry of set (its scopes,
// and for user tokens its account). ctx carries the fetch timeout; claims
// (a JSON claims request) may be empty. Errors are *Error.
type fetchFunc func(ctx context.Context, set scopeSet, claims string) (tokenResult, error)

// tokenResult is a token as fetched from Entra or loaded from a Store.
type tokenResult struct {
	accessToken string
	expiresOn   time.Time
	refreshOn   time.Time // zero: not given
}

// evictionSample is how many entries are compared to pick the least
// recently used one when the cache is full.
const evictionSample = 8

// cache is one Credential's L1 token cache: one entry per normalized scope
// set (see entry.go for the state machine of an entry). Lookups take no
// lock; a TokenSource skips even the lookup by holding its entry. Safe for
// concurrent use; no lock is ever held across I/O. Lock order: cache.mu
// before entry.mu before scheduler.mu.
type cache struct {
	clock        Clock
	logger       *slog.Logger
	fetchTimeout time.Duration
	storeTimeout time.Duration
	maxEntries   int
	idleTTL      time.Duration
	fetchFn      fetchFunc
	store        Store
	storeKey     func(scopesKey string) string
	storeKeyCtx  func(ctx context.Context, key string) string  // when set, replaces storeKey (OBO: the key needs what ctx carries)
	inspect      func(set scopeSet, accessToken string) string // a warning about a new token, or ""
	jitter       func() float64                                // uniform in [0, 1): spreads refresh times

	sf         singleflight.Group // one fetch per key (and per claims) at a time
	seq        atomic.Uint64      // orders fetches by start: newer installs win
	uses       atomic.Uint64      // orders entries by last use: LRU eviction
	storeSlots chan struct{}      // bounds Store calls in flight (a hung Store cannot pile up goroutines)
	storeCalls sync.WaitGroup     // Store calls in flight, waited for (within the store budget) by close
	bg         sync.WaitGroup     // background refreshes

	// ctx ends when the cache is closed; every fetch is cancelled with it.
	ctx    context.Context
	cancel context.CancelFunc

	sched scheduler // the one timer of all entries

	// index maps each live entry's key to its hot cell, for lookups that
	// take no lock. Written with mu held.
	index index

	mu       sync.Mutex // guards what follows
	closed   bool
	cuts     map[string]accountCut // signed-out accounts: fetches started before are not installed
	ticker   Timer                 // the pending tick, nil when idle
	lastTick time.Time             // wall clock of the last tick
	swept    time.Time             // wall clock of the last sweep
}

func newCache(s settings, fetch fetchFunc, storeKey func(string) string) *cache {
	ctx, cancel := context.WithCancel(context.Background())
	return &cache{
		clock:        s.clock,
		logger:       s.logger,
		fetchTimeout: s.fetchTimeout,
		storeTimeout: s.storeTimeout,
		maxEntries:   s.maxEntries,
		idleTTL:      s.idleTTL,
		fetchFn:      fetch,
		store:        s.store,
		storeKey:     storeKey,
		jitter:       rand.Float64,
		storeSlots:   make(chan struct{}, maxStoreCalls),
		ctx:          ctx,
		cancel:       cancel,
		sched:        scheduler{clock: s.clock},
	}
}

// lookup returns the entry for a normalized key, or nil. It takes no lock.
func (c *cache) lookup(key string) *entry {
	if h := c.lookupHot(key); h != nil {
		return h.e
	}
	return nil
}

// lookupHot returns the hot cell of the entry for a normalized key, or
// nil. It takes no lock.
func (c *cache) lookupHot(key string) *hotCell {
	return c.index.load(key)
}

// entry returns the live entry for set, creating it (and evicting the least
// recently used of a sample when the cache is full) when there is none.
// After Close it returns a closed entry, which answers ErrClosed.
func (c *cache) entry(set scopeSet) *entry {
	if e := c.lookup(set.key); e != nil && e.phase.Load() != phaseEvicted {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.lookup(set.key); e != nil {
		return e
	}
	now := c.clock.Now()
	e := newEntry(c, set, now)
	if c.closed {
		e.phase.Store(phaseClosed)
		return e
	}
	for c.index.len() >= c.maxEntries {
		c.evictOneLocked()
	}
	c.index.store(e.hot)
	c.startTickingLocked(now)
	return e
}

// live returns the entry that now stands for e's key: e, or the entry that
// replaced it after an eviction; nil when there is none.
func (c *cache) live(e *entry) *entry {
	if e.phase.Load() != phaseEvicted {
		return e
	}
	if l := c.lookup(e.set.key); l != nil && l.phase.Load() != phaseEvicted {
		return l
	}
	return nil
}

// evictOneLocked removes the least recently used of evictionSample
// entries picked at random, releasing its token and timer at once. An
// entry that remembers a failure (backoff or Retry-After) goes only if the
// whole sample does: evicting it would forget when Entra may be asked
// again. c.mu held.
func (c *cache) evictOneLocked() {
	var victim *entry
	pick := func(h *hotCell) {
		if victim == nil || evictsBefore(h.e, victim) {
			victim = h.e
		}
	}
	var looked []*hotCell
	look := func(h *hotCell) {
		pick(h)
		looked = append(looked, h)
	}
	if c.index.len() <= evictionSample {
		c.index.each(look) // a small cache: every entry
	} else {
		for range evictionSample {
			look(c.index.random())
		}
	}
	if victim != nil {
		c.removeLocked(victim)
	}
	// The survivors used their second chance: to keep winning they must
	// be used again before the next look.
	for _, h := range looked {
		h.used.Store(false)
	}
}

// evictsBefore reports whether a is a better eviction victim than b.
func evictsBefore(a, b *entry) bool {
	if fa, fb := a.remembersFailure(), b.remembersFailure(); fa != fb {
		return fb
	}
	// An entry served by the hot path since eviction last looked at it was
	// used later than its recency, which only the slow path updates, says.
	if ua, ub := a.hot.used.Load(), b.hot.used.Load(); ua != ub {
		return ub
	}
	return a.recency.Load() < b.recency.Load()
}

// removeLocked drops e from the index and retires it as
// evicted: a TokenSource still holding it forwards to the live entry.
// c.mu held.
func (c *cache) removeLocked(e *entry) {
	if c.index.load(e.set.key) == e.hot {
		c.index.delete(e.set.key)
	}
	e.mu.Lock()
	e.retire(phaseEvicted)
	e.mu.Unlock()
}

// removeAccount retires every entry of a user account (as evicted: a
// TokenSource holding one moves to a new entry, which asks again).
func (c *cache) removeAccount(account string) {
	if account == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var gone []*entry
	c.index.each(func(h *hotCell) {
		if h.e.set.account == account {
			gone = append(gone, h.e)
		}
	})
	for _, e := range gone {
		c.removeLocked(e)
	}
	// A fetch of the account already under way (a caller after the
	// sign-out may have joined it) must not install its token anywhere.
	now := c.clock.Now()
	if c.cuts == nil {
		c.cuts = map[string]accountCut{}
	}
	for a, cut := range c.cuts { // only fetches in flight can be older than a cut
		if now.Sub(cut.at) > 2*c.fetchTimeout {
			delete(c.cuts, a)
		}
	}
	c.cuts[account] = accountCut{seq: c.seq.Load(), at: now}
}

// accountCut is when an account signed out: the fetch order (seq) of the
// last fetch started before.
type accountCut struct {
	seq uint64
	at  time.Time
}

// signedOutSinceLocked reports whether account signed out after the fetch
// with order seq started. c.mu held.
func (c *cache) signedOutSinceLocked(account string, seq uint64) bool {
	cut, ok := c.cuts[account]
	return ok && seq <= cut.seq
}

// len returns the number of live entries.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.index.len()
}

// close retires every entry, stops the tick and cancels fetches in
// flight, then waits for background refreshes to end. Idempotent.
func (c *cache) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.index.each(func(h *hotCell) {
		h.e.mu.Lock()
		h.e.retire(phaseClosed)
		h.e.mu.Unlock()
	})
	if c.ticker != nil {
		c.ticker.Stop()
		c.ticker = nil
	}
	c.mu.Unlock()
	c.cancel()
	c.bg.Wait()
	// Saves of tokens just fetched run in the background: give them their
	// budget, so a program that exits after Close keeps its tokens.
	saved := make(chan struct{})
	go func() { c.storeCalls.Wait(); close(saved) }()
	t := time.NewTimer(c.storeTimeout)
	defer t.Stop()
	select {
	case <-saved:
	case <-t.C:
	}
}

// closedError is what a closed credential answers.
func closedError() *Error {
	return &Error{Op: "token", Code: "closed", Description: "the credential was closed",
		Hint: "make a new Credential, or stop using this one after Close", Err: ErrClosed}
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
