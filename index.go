package entra

import (
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
)

// index maps the key of each live entry to the entry's hot cell. Lookups
// take no lock and do not allocate: an open-addressed table (linear
// probing) of atomic pointers, published whole through an atomic pointer.
// Writers hold cache.mu; they insert and delete in place, and grow (or
// clean out deleted slots) by publishing a new table, which a reader still
// walking the old one does not notice: it may find an entry that was just
// removed, which answers as evicted (see entry.slow).
//
// It costs 8 bytes a slot at a load of 1/8 to 3/4 (3/8 to 3/4 while
// growing), 11 to 21 bytes an entry; a sync.Map (a hash trie of 48-byte nodes, each key boxed in an
// interface) cost about 80, and was consulted beside a plain map.
type index struct {
	tab  atomic.Pointer[indexTable]
	n    int // live cells; guarded by cache.mu
	used int // live and deleted slots; guarded by cache.mu
}

type indexTable struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Pointer[hotCell]
}

// deleted marks a slot whose cell was removed: a probe goes on past it.
var deleted = &hotCell{}

const minIndexSlots = 16

// load returns the cell for key, or nil. Safe for concurrent use.
func (x *index) load(key string) *hotCell {
	t := x.tab.Load()
	if t == nil {
		return nil
	}
	for i := maphash.String(t.seed, key) & t.mask; ; i = (i + 1) & t.mask {
		h := t.slots[i].Load()
		if h == nil {
			return nil
		}
		if h != deleted && h.key == key {
			return h
		}
	}
}

// store adds h under h.key, which must not be present. cache.mu held.
func (x *index) store(h *hotCell) {
	t := x.tab.Load()
	if t == nil || 4*(x.used+1) > 3*len(t.slots) {
		t = x.rebuild(x.n + 1)
	}
	i := x.find(t, h.key, true)
	if t.slots[i].Load() == nil {
		x.used++
	}
	t.slots[i].Store(h)
	x.n++
}

// delete removes the cell of key, if present. cache.mu held.
func (x *index) delete(key string) {
	t := x.tab.Load()
	if t == nil {
		return
	}
	i := x.find(t, key, false)
	if h := t.slots[i].Load(); h == nil || h == deleted {
		return
	}
	t.slots[i].Store(deleted)
	x.n--
	if x.n == 0 || 8*x.n < len(t.slots) && len(t.slots) > minIndexSlots {
		x.rebuild(x.n) // shrink: a table emptied by evictions does not stay large
	}
}

// find returns the slot of key in t or, when absent, the empty slot that
// ends its probe (with reuse, the first deleted slot on the way).
// cache.mu held.
func (x *index) find(t *indexTable, key string, reuse bool) uint64 {
	free, haveFree := uint64(0), false
	for i := maphash.String(t.seed, key) & t.mask; ; i = (i + 1) & t.mask {
		h := t.slots[i].Load()
		switch {
		case h == nil:
			if haveFree {
				return free
			}
			return i
		case h == deleted:
			if reuse && !haveFree {
				free, haveFree = i, true
			}
		case h.key == key:
			return i
		}
	}
}

// rebuild publishes a new table sized for n cells (at most half full)
// holding the live cells of the current one. cache.mu held.
func (x *index) rebuild(n int) *indexTable {
	size := minIndexSlots
	for 2*n > size {
		size *= 2
	}
	t := &indexTable{seed: maphash.MakeSeed(), mask: uint64(size - 1), slots: make([]atomic.Pointer[hotCell], size)}
	if old := x.tab.Load(); old != nil {
		for i := range old.slots {
			if h := old.slots[i].Load(); h != nil && h != deleted {
				t.slots[x.find(t, h.key, false)].Store(h)
			}
		}
	}
	x.used = x.n
	x.tab.Store(t)
	return t
}

// len returns the number of live cells. cache.mu held.
func (x *index) len() int { return x.n }

// random returns a live cell picked uniformly at random, or nil when there
// is none. The table is at least 1/8 full (delete shrinks it), so this
// takes a few probes. cache.mu held.
func (x *index) random() *hotCell {
	t := x.tab.Load()
	if t == nil || x.n == 0 {
		return nil
	}
	for {
		if h := t.slots[rand.Uint64()&t.mask].Load(); h != nil && h != deleted {
			return h
		}
	}
}

// each calls f with every live cell, taking no lock: cells stored or
// deleted meanwhile may or may not be seen.
func (x *index) each(f func(*hotCell)) {
	t := x.tab.Load()
	if t == nil {
		return
	}
	for i := range t.slots {
		if h := t.slots[i].Load(); h != nil && h != deleted {
			f(h)
		}
	}
}
