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

// RetryAfter reads how long the server asked the client to wait: the
// "Retry-After-Ms" / "X-Ms-Retry-After-Ms" headers (milliseconds) or
// "Retry-After" (seconds or an HTTP date, measured from now). ok is false
// when no usable value is present. Every form is treated alike: a delay
// above an hour (an overflowing number included) comes back as just over
// an hour, which no retry budget allows, so the caller stops retrying; a
// negative or malformed value is ignored. Safe for concurrent use.
func RetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if d, ok := parseDelay(h.Get(name), time.Millisecond); ok {
			return d, true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if d, ok := parseDelay(v, time.Second); ok {
		return d, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		if d > maxRetryAfter {
			d = tooLong
		}
		return d, true
	}
	return 0, false
}

// tooLong is what RetryAfter returns for any delay beyond maxRetryAfter.
const tooLong = maxRetryAfter + time.Second

// parseDelay reads v as a decimal count of unit (digits only). A count
// beyond maxRetryAfter, however many digits it has, is tooLong.
func parseDelay(v string, unit time.Duration) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	v = strings.TrimLeft(v, "0")
	if v == "" {
		return 0, true
	}
	if len(v) > 18 {
		return tooLong, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	if n > int64(maxRetryAfter/unit) {
		return tooLong, true
	}
	return time.Duration(n) * unit, true
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
