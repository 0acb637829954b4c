package entra

import (
	"sync"
	"time"
)

// scheduler is a cache's one timer for all its entries: a min-heap of the
// entries that have a next action time (entry.timerAt, wall-clock unix
// nanoseconds) and one Clock.AfterFunc timer armed at the earliest. It
// only calls an entry's onTimer at that time: the entry's advance alone
// decides what the time is and what happens then (see entry.go). One
// runtime timer and closure per entry cost about 160 bytes each; a heap
// slot costs 8.
//
// Lock order: entry.mu before scheduler.mu. fire pops the due entries
// under mu, releases it, then calls each one's onTimer (which takes
// entry.mu). Safe for concurrent use.
type scheduler struct {
	clock Clock

	mu      sync.Mutex // guards what follows, and every entry's heapIdx
	heap    []*entry   // ordered by timerAt
	timer   Timer      // the armed timer, or nil
	timerAt int64      // what timer is armed for
	gen     uint64     // counts arms: a timer that fires after being replaced is not the armed one
}

// set makes the scheduler call e.onTimer at next (unix ns; 0: never),
// replacing what e had. now is the wall clock in unix ns. e.mu held.
func (s *scheduler) set(e *entry, next, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next == 0 {
		s.removeLocked(e)
		return
	}
	if e.heapIdx >= 0 && e.timerAt == next {
		return
	}
	e.timerAt = next
	if e.heapIdx < 0 {
		e.heapIdx = int32(len(s.heap))
		s.heap = append(s.heap, e)
		s.up(int(e.heapIdx))
	} else if i := int(e.heapIdx); !s.up(i) {
		s.down(i)
	}
	s.armLocked(now, false)
}

// remove cancels e's pending call, if any. e.mu held.
func (s *scheduler) remove(e *entry) {
	s.mu.Lock()
	s.removeLocked(e)
	s.mu.Unlock()
}

func (s *scheduler) removeLocked(e *entry) {
	i := int(e.heapIdx)
	if i < 0 {
		return
	}
	last := len(s.heap) - 1
	if i != last {
		s.swap(i, last)
	}
	s.heap[last] = nil
	s.heap = s.heap[:last]
	e.heapIdx = -1
	if i != last && !s.up(i) {
		s.down(i)
	}
	if len(s.heap) == 0 {
		s.stopLocked()
	}
}

// rearm replaces the armed timer even if it is set for the right time:
// timers run on the monotonic clock, so after a suspend it would fire late.
// now is the wall clock in unix ns.
func (s *scheduler) rearm(now int64) {
	s.mu.Lock()
	s.armLocked(now, true)
	s.mu.Unlock()
}

// armLocked arms the timer for the earliest entry unless it is armed for
// that time or earlier already (a timer firing early finds nothing due and
// arms again), or disarms it when no entry waits. s.mu held.
func (s *scheduler) armLocked(now int64, force bool) {
	if len(s.heap) == 0 {
		s.stopLocked()
		return
	}
	at := s.heap[0].timerAt
	if s.timer != nil && s.timerAt <= at && !force {
		return
	}
	s.stopLocked()
	s.gen++
	gen := s.gen
	s.timerAt = at
	s.timer = s.clock.AfterFunc(time.Duration(at-now), func() { s.fire(gen) })
}

func (s *scheduler) stopLocked() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// fire calls onTimer of every entry whose time has come by the wall clock
// and arms the timer for the next one.
func (s *scheduler) fire(gen uint64) {
	now := s.clock.Now().UnixNano()
	var due []*entry
	s.mu.Lock()
	if gen == s.gen {
		s.timer = nil // fired: nothing to stop
	}
	for len(s.heap) > 0 && s.heap[0].timerAt <= now {
		e := s.heap[0]
		s.removeLocked(e)
		due = append(due, e)
	}
	s.armLocked(now, false)
	s.mu.Unlock()
	for _, e := range due {
		e.onTimer()
	}
}

// up moves heap[i] towards the root while it is due before its parent;
// it reports whether it moved.
func (s *scheduler) up(i int) bool {
	moved := false
	for i > 0 {
		p := (i - 1) / 2
		if s.heap[p].timerAt <= s.heap[i].timerAt {
			break
		}
		s.swap(i, p)
		i, moved = p, true
	}
	return moved
}

// down moves heap[i] away from the root while a child is due before it.
func (s *scheduler) down(i int) {
	n := len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.heap[r].timerAt < s.heap[l].timerAt {
			m = r
		}
		if s.heap[i].timerAt <= s.heap[m].timerAt {
			return
		}
		s.swap(i, m)
		i = m
	}
}

func (s *scheduler) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.heap[i].heapIdx = int32(i)
	s.heap[j].heapIdx = int32(j)
}
