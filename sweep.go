package entra

import "time"

// The cache ticks while it holds entries. Each tick compares the wall
// clock with the time it expected: timers run on the monotonic clock,
// which stops while a machine is suspended (laptop lid, paused VM), so a
// jump of the wall clock means every entry must catch up at once. Every
// sweepInterval a tick also sweeps: it asks each entry to advance to the
// wall clock's phase, takes fresh tokens off the hot path to learn which
// entries are still used, and removes entries that have no token and
// were not used for the idle TTL.
const (
	tickInterval = time.Second
	// suspendSlack: a tick later than this past its due time means the
	// machine slept (or the wall clock jumped).
	suspendSlack = 2 * time.Second
	// maxSweepInterval bounds the sweep interval (idleTTL/2 otherwise).
	maxSweepInterval = 30 * time.Second
)

func (c *cache) sweepInterval() time.Duration {
	return min(max(c.idleTTL/2, time.Second), maxSweepInterval)
}

// startTickingLocked schedules the tick if it is not running. c.mu held.
func (c *cache) startTickingLocked(now time.Time) {
	if c.ticker != nil || c.closed {
		return
	}
	c.lastTick = now.Round(0)
	if c.swept.IsZero() {
		c.swept = c.lastTick
	}
	c.ticker = c.clock.AfterFunc(tickInterval, c.tick)
}

// tick catches every entry up after a suspend, sweeps when due, and
// schedules the next tick while the cache holds entries.
func (c *cache) tick() {
	now := c.clock.Now()
	wall := now.Round(0)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	// A jump forward (a suspend) or back (the wall clock was set back):
	// every entry catches up with the wall clock now.
	jumped := wall.Sub(c.lastTick) > tickInterval+suspendSlack || c.lastTick.Sub(wall) > suspendSlack
	sweep := jumped || wall.Sub(c.swept) >= c.sweepInterval()
	c.lastTick = wall
	if sweep {
		c.swept = wall
	}
	c.mu.Unlock()

	if sweep {
		c.sweep(now, jumped)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.ticker = nil
	if c.index.len() > 0 && !c.closed {
		c.ticker = c.clock.AfterFunc(tickInterval, c.tick)
	}
}

// sweep advances every entry to the wall clock's phase (after a suspend,
// resumed, also replacing the scheduler's timer, which would fire late),
// disarms the hot path of fresh entries (the next caller re-arms it and
// records the use), and removes entries without a token that were idle
// for idleTTL. It holds no cache-wide lock while it walks the entries.
func (c *cache) sweep(now time.Time, resumed bool) {
	var idle []*entry
	c.index.each(func(h *hotCell) {
		e := h.e
		e.mu.Lock()
		e.advance(now)
		e.hot.token.Store(nil)
		if c.idleEmpty(e, now) {
			idle = append(idle, e)
		}
		e.mu.Unlock()
	})
	if resumed {
		c.sched.rearm(now.UnixNano())
	}
	if len(idle) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range idle {
		e.mu.Lock()
		still := c.idleEmpty(e, now)
		e.mu.Unlock()
		if still {
			c.removeLocked(e)
		}
	}
}

// idleEmpty reports whether e has no token, no remembered failure, no
// fetch in flight, and was not used for idleTTL. e.mu held.
func (c *cache) idleEmpty(e *entry, now time.Time) bool {
	if e.phase.Load() != phaseEmpty || e.refreshing.Load() || e.fetching.Load() > 0 {
		return false
	}
	idle := now.Round(0).Sub(time.Unix(0, e.lastUsed.Load()))
	if idle < 0 { // used "in the future": the wall clock stepped back since
		e.lastUsed.Store(now.UnixNano())
	}
	return idle >= c.idleTTL
}
