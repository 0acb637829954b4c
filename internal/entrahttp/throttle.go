package entrahttp

import (
	"sync"
	"time"
)

// MaxThrottle bounds how long a host stays throttled after it asked us to
// wait (429, or 503 with Retry-After): Entra's client-credentials throttle
// says "Retry-After: 60", so 10 minutes leaves room for a longer ask while
// a hostile or broken header ("Retry-After: 99999999") cannot lock a
// process out of Entra for good. A longer Retry-After is cut to this.
const MaxThrottle = 10 * time.Minute

// hold is one host's throttle: no request before until; status is the
// HTTP status of the answer that asked for the wait.
type hold struct {
	until  time.Time
	status int
}

// throttle remembers, per host, until when no request may be sent because
// the host asked us to wait. Safe for concurrent use; the lock is never
// held across I/O.
type throttle struct {
	mu    sync.Mutex
	holds map[string]hold
}

// remaining returns how long host is still throttled at now (0 if not)
// and the status that started the throttle.
func (t *throttle) remaining(host string, now time.Time) (time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.holds[host]
	if !ok {
		return 0, 0
	}
	if !h.until.After(now) {
		delete(t.holds, host)
		return 0, 0
	}
	return h.until.Sub(now), h.status
}

// set throttles host for min(d, MaxThrottle) from now because it answered
// status; it never shortens an existing throttle. Expired entries are
// pruned so the map stays small.
func (t *throttle) set(host string, d time.Duration, status int, now time.Time) {
	if d > MaxThrottle {
		d = MaxThrottle
	}
	if d <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.holds == nil {
		t.holds = make(map[string]hold)
	}
	for h, v := range t.holds {
		if !v.until.After(now) {
			delete(t.holds, h)
		}
	}
	if u := now.Add(d); u.After(t.holds[host].until) {
		t.holds[host] = hold{until: u, status: status}
	}
}

// clear ends any throttle of host (it answered successfully).
func (t *throttle) clear(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.holds, host)
}
