package entrahttp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	baseDelay = 500 * time.Millisecond // first backoff ceiling
	maxDelay  = 8 * time.Second        // backoff ceiling
	// maxRetryAfter bounds a Retry-After we are willing to parse; longer
	// values are treated as "do not retry".
	maxRetryAfter = time.Hour
)

// retryableStatus reports whether an HTTP status is worth another attempt.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableErr reports whether a transport error is transient: the
// connection was reset, closed early or refused, or timed out on its own
// (not because the caller's ctx ended).
func retryableErr(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary || dnsErr.IsTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// net/http reports a server that closed a kept-alive connection this way.
	return strings.Contains(err.Error(), "server closed idle connection") ||
		strings.Contains(err.Error(), "connection reset by peer")
}

// backoff returns the full-jitter delay before retry number n (1-based):
// a random duration in [0, min(maxDelay, baseDelay*2^(n-1))).
func backoff(n int, rand func() float64) time.Duration {
	ceiling := baseDelay
	for i := 1; i < n && ceiling < maxDelay; i++ {
		ceiling *= 2
	}
	if ceiling > maxDelay {
		ceiling = maxDelay
	}
	f := rand()
	if f < 0 || f >= 1 {
		f = 0
	}
	return time.Duration(f * float64(ceiling))
}

// retryAfter reads how long the server asked us to wait: the
// "retry-after-ms" / "x-ms-retry-after-ms" headers (milliseconds) or
// "Retry-After" (seconds or an HTTP date). ok is false when no usable
// value is present. A value above maxRetryAfter is returned as is: the
// caller compares it with its budget.
func retryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := strings.TrimSpace(h.Get(name)); v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 && ms <= int64(maxRetryAfter/time.Millisecond) {
				return time.Duration(ms) * time.Millisecond, true
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter + time.Second, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		if d > maxRetryAfter {
			d = maxRetryAfter + time.Second
		}
		return d, true
	}
	return 0, false
}

// sleepCtx waits for d or until ctx is done, returning ctx.Err() then.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
