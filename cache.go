package entra

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// fetchFunc gets a fresh token from Entra. ctx carries the fetch timeout;
// claims (a JSON claims request) may be empty. Errors are *Error.
type fetchFunc func(ctx context.Context, scopes []string, claims string) (tokenResult, error)

// evictionSample is how many entries are compared to pick the least
// recently used one when the cache is full.
const evictionSample = 8

// cache is one Credential's L1 token cache: one entry per normalized scope
// set. Lookups are a map read; a TokenSource skips even that by holding its
// entry. Safe for concurrent use; mu is never held across I/O.
type cache struct {
	clock        Clock
	logger       *slog.Logger
	fetchTimeout time.Duration
	maxEntries   int
	idleTTL      time.Duration
	fetchFn      fetchFunc
	store        Store
	storeKey     func(scopesKey string) string

	sf singleflight.Group // one fetch per key at a time

	// index mirrors entries for lookups that take no lock: under parallel
	// load even a read lock's shared counter costs more than the lookup.
	index sync.Map // string -> *entry

	mu       sync.Mutex // guards entries and sweeping; writers update index too
	entries  map[string]*entry
	sweeping bool // an idle sweep is scheduled
}

func newCache(s settings, fetch fetchFunc, storeKey func(string) string) *cache {
	return &cache{
		clock:        s.clock,
		logger:       s.logger,
		fetchTimeout: s.fetchTimeout,
		maxEntries:   s.maxEntries,
		idleTTL:      s.idleTTL,
		fetchFn:      fetch,
		store:        s.store,
		storeKey:     storeKey,
		entries:      make(map[string]*entry),
	}
}

// lookup returns the entry for a normalized key, or nil. It takes no lock.
func (c *cache) lookup(key string) *entry {
	if e, ok := c.index.Load(key); ok {
		return e.(*entry)
	}
	return nil
}

// entry returns the entry for set, creating it (and evicting one if the
// cache is full) when there is none.
func (c *cache) entry(set scopeSet) *entry {
	if e := c.lookup(set.key); e != nil {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[set.key]; e != nil {
		return e
	}
	e := newEntry(c, set, c.clock.Now())
	c.insertLocked(e)
	return e
}

// reattach puts an evicted entry back into the map, unless another entry
// took its key meanwhile; then e stays outside the map but still works: it
// shares fetches with that entry through the singleflight key.
func (c *cache) reattach(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, taken := c.entries[e.key]; taken {
		return
	}
	e.lastUsed.Store(c.clock.Now().UnixNano())
	c.insertLocked(e)
}

// insertLocked adds e, evicting the least recently used of a random sample
// when the cache is full, and makes sure an idle sweep is scheduled. c.mu
// held for writing.
func (c *cache) insertLocked(e *entry) {
	for len(c.entries) >= c.maxEntries {
		c.evictOneLocked()
	}
	e.evicted.Store(false)
	c.entries[e.key] = e
	c.index.Store(e.key, e)
	if !c.sweeping {
		c.sweeping = true
		c.clock.AfterFunc(c.sweepInterval(), c.sweep)
	}
}

// evictOneLocked removes the least recently used entry among a sample
// (Go's map iteration starts at a random place). An entry used since the
// last sweep counts as used now. c.mu held for writing.
func (c *cache) evictOneLocked() {
	var victim *entry
	var oldest int64
	now := c.clock.Now().UnixNano()
	n := 0
	for _, e := range c.entries {
		used := e.lastUsed.Load()
		if e.cur.Load().state.Load()&usedBit != 0 {
			used = now
		}
		if victim == nil || used < oldest {
			victim, oldest = e, used
		}
		if n++; n >= evictionSample {
			break
		}
	}
	if victim != nil {
		c.removeLocked(victim)
	}
}

// maxSweepInterval bounds how long a suspended machine (laptop lid, paused
// VM) can serve a token whose wall-clock expiry passed while it slept:
// timers run on the monotonic clock, which stops during suspend, so the
// sweep re-checks every entry against the wall clock this often.
const maxSweepInterval = 30 * time.Second

func (c *cache) sweepInterval() time.Duration {
	return min(max(c.idleTTL/2, time.Second), maxSweepInterval)
}

// sweep records which entries were used since the last sweep, catches up
// phases whose refresh or expiry time has passed on the wall clock, and
// removes entries whose token has expired and that nobody used for idleTTL.
// It reschedules itself while the cache holds entries.
func (c *cache) sweep() {
	now := c.clock.Now()
	var gone []*entry
	c.mu.Lock()
	for _, e := range c.entries {
		s := e.cur.Load()
		catchUp(s, now)
		st := s.state.Load()
		if st&usedBit != 0 {
			s.state.And(^usedBit)
			e.lastUsed.Store(now.UnixNano())
			continue
		}
		idle := now.Sub(time.Unix(0, e.lastUsed.Load()))
		if st&phaseMask == phaseExpired && idle >= c.idleTTL && !e.refreshing.Load() {
			c.removeLocked(e)
			gone = append(gone, e)
		}
	}
	if len(c.entries) > 0 {
		c.clock.AfterFunc(c.sweepInterval(), c.sweep)
	} else {
		c.sweeping = false
	}
	c.mu.Unlock()
	for _, e := range gone {
		e.mu.Lock()
		stopTimers(e.cur.Load())
		e.mu.Unlock()
	}
}

// catchUp moves s to the phase the wall clock says it is in, in case its
// timers are late because the machine was suspended.
func catchUp(s *snapshot, now time.Time) {
	if s.token == nil {
		return
	}
	wall := now.Round(0) // strip the monotonic reading: compare wall clocks
	switch {
	case !s.expiresOn.Add(-expirySkew).After(wall):
		s.setPhase(anyPhase, phaseExpired)
	case !s.refreshOn.After(wall):
		s.setPhase(phaseFresh, phaseRefresh)
	}
}

// removeLocked drops e from the map and the index and marks it evicted.
// c.mu held.
func (c *cache) removeLocked(e *entry) {
	delete(c.entries, e.key)
	c.index.Delete(e.key)
	e.evicted.Store(true)
}

// len returns the number of entries in the map.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// loadStored returns the Store's token for key when it is usable now: not
// expired, and for a background refresh (blocking false) not due for
// refresh either. Store failures are logged and count as a miss.
func (c *cache) loadStored(ctx context.Context, key string, blocking bool) (tokenResult, bool) {
	if c.store == nil {
		return tokenResult{}, false
	}
	b, err := c.store.Load(ctx, c.storeKey(key))
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			c.logger.Warn("entra: store load failed; asking Entra", slog.String("scopes", key), slog.String("error", err.Error()))
		}
		return tokenResult{}, false
	}
	st, err := decodeStored(b)
	if err != nil {
		c.logger.Warn("entra: store value unusable; deleting it and asking Entra", slog.String("scopes", key), slog.String("error", err.Error()))
		if err := c.store.Delete(ctx, c.storeKey(key)); err != nil {
			c.logger.Warn("entra: store delete failed", slog.String("scopes", key), slog.String("error", err.Error()))
		}
		return tokenResult{}, false
	}
	now := c.clock.Now()
	if !st.ExpiresOn.Add(-expirySkew).After(now) {
		return tokenResult{}, false
	}
	if !blocking && !refreshTime(now, st.ExpiresOn, st.RefreshOn).After(now) {
		return tokenResult{}, false
	}
	c.logger.Debug("entra: token loaded from store", slog.String("scopes", key), slog.Time("expires_on", st.ExpiresOn))
	return tokenResult{accessToken: st.AccessToken, expiresOn: st.ExpiresOn, refreshOn: st.RefreshOn}, true
}

// saveStored writes a freshly fetched token to the Store, with the
// snapshot's refresh time so other processes refresh at the same point.
// Failures are logged only.
func (c *cache) saveStored(ctx context.Context, key string, t tokenResult, s *snapshot) {
	if c.store == nil {
		return
	}
	ttl := s.expiresOn.Sub(c.clock.Now())
	if ttl <= 0 {
		return
	}
	b, err := encodeStored(storedToken{AccessToken: t.accessToken, ExpiresOn: s.expiresOn, RefreshOn: s.refreshOn})
	if err == nil {
		err = c.store.Save(ctx, c.storeKey(key), b, ttl)
	}
	if err != nil {
		c.logger.Warn("entra: store save failed; the token stays in memory only", slog.String("scopes", key), slog.String("error", err.Error()))
	}
}
