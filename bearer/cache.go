package bearer

import (
	"hash/maphash"
	"sync"
	"time"
)

// cache remembers validated tokens until they expire. It is keyed by the
// full token string (the map compares whole keys), so no collision can
// ever return another token's claims. It holds at most size entries:
// each shard evicts expired entries, then arbitrary ones, when full.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	per    int // entries per shard
}

const (
	cacheShards = 16
	// sweepEvery is the least time between two sweeps of a full shard.
	sweepEvery = int64(time.Minute)
)

type cacheShard struct {
	mu        sync.RWMutex
	m         map[string]*cacheEntry
	lastSweep int64
}

type cacheEntry struct {
	claims  *Claims
	expires int64 // unix ns: exp plus the skew
}

func newCache(size int) *cache {
	c := &cache{seed: maphash.MakeSeed(), per: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*cacheEntry)
	}
	return c
}

func (c *cache) shard(raw string) *cacheShard {
	// The shard comes from the token's tail (its signature bytes), which
	// differ between tokens; hashing 64 bytes instead of all keeps it cheap.
	tail := raw
	if len(tail) > 64 {
		tail = tail[len(tail)-64:]
	}
	return &c.shards[maphash.String(c.seed, tail)%cacheShards]
}

// get returns the cached claims of raw if it is still valid at now and its
// signing key is still in the key set; otherwise it drops the entry.
func (c *cache) get(raw string, now int64, hasKey func(string) bool) *Claims {
	s := c.shard(raw)
	s.mu.RLock()
	e := s.m[raw]
	s.mu.RUnlock()
	if e == nil {
		return nil
	}
	if now < e.expires && hasKey(e.claims.KeyID) {
		return e.claims
	}
	s.mu.Lock()
	if s.m[raw] == e {
		delete(s.m, raw)
	}
	s.mu.Unlock()
	return nil
}

// put caches claims for raw until expires.
func (c *cache) put(raw string, claims *Claims, expires, now int64) {
	s := c.shard(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[raw]; !ok && len(s.m) >= c.per {
		if now-s.lastSweep >= sweepEvery {
			s.lastSweep = now
			for k, e := range s.m {
				if now >= e.expires {
					delete(s.m, k)
				}
			}
		}
		for k := range s.m {
			if len(s.m) < c.per {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[raw] = &cacheEntry{claims: claims, expires: expires}
}

// len returns the number of cached entries.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
