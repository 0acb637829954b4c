package entrahttp

import (
	"sync"
	"time"
)

// maxThrottle bounds how long a host stays throttled after a 429.
const maxThrottle = 5 * time.Second

// throttle remembers, per host, until when no request may be sent because
// the host answered 429. Safe for concurrent use; the lock is never held
// across I/O.
type throttle struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// remaining returns how long host is still throttled at now (0 if not).
func (t *throttle) remaining(host string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, ok := t.until[host]
	if !ok {
		return 0
	}
	if !u.After(now) {
		delete(t.until, host)
		return 0
	}
	return u.Sub(now)
}

// set throttles host for min(d, maxThrottle) from now; it never shortens
// an existing throttle. Expired entries are pruned so the map stays small.
func (t *throttle) set(host string, d time.Duration, now time.Time) {
	if d > maxThrottle {
		d = maxThrottle
	}
	if d <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.until == nil {
		t.until = make(map[string]time.Time)
	}
	for h, u := range t.until {
		if !u.After(now) {
			delete(t.until, h)
		}
	}
	if u := now.Add(d); u.After(t.until[host]) {
		t.until[host] = u
	}
}

// clear ends any throttle of host (it answered successfully).
func (t *throttle) clear(host string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.until, host)
}
