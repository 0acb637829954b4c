package entrahttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		headers map[string]string
		want    time.Duration
		ok      bool
	}{
		{"none", nil, 0, false},
		{"seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, true},
		{"zero", map[string]string{"Retry-After": "0"}, 0, true},
		{"negative", map[string]string{"Retry-After": "-3"}, 0, false},
		{"garbage", map[string]string{"Retry-After": "soon"}, 0, false},
		{"date", map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second, true},
		{"past date", map[string]string{"Retry-After": now.Add(-time.Minute).Format(http.TimeFormat)}, 0, true},
		{"huge", map[string]string{"Retry-After": "999999999"}, maxRetryAfter + time.Second, true},
		{"ms wins", map[string]string{"Retry-After": "7", "retry-after-ms": "250"}, 250 * time.Millisecond, true},
		{"x-ms", map[string]string{"x-ms-retry-after-ms": "1500"}, 1500 * time.Millisecond, true},
		// An over-long delay reads the same in every header (defect 15).
		{"huge ms", map[string]string{"Retry-After-Ms": "99999999999"}, tooLong, true},
		{"huge x-ms", map[string]string{"x-ms-retry-after-ms": "3600001"}, tooLong, true},
		{"overflowing ms", map[string]string{"Retry-After-Ms": "99999999999999999999999"}, tooLong, true},
		{"overflowing seconds", map[string]string{"Retry-After": "99999999999999999999999"}, tooLong, true},
		{"huge ms beats small seconds", map[string]string{"Retry-After-Ms": "86400000", "Retry-After": "1"}, tooLong, true},
		{"one hour ms", map[string]string{"Retry-After-Ms": "3600000"}, time.Hour, true},
		{"leading zeros", map[string]string{"Retry-After": "0000000000000000000000007"}, 7 * time.Second, true},
		{"bad ms falls back", map[string]string{"Retry-After-Ms": "1.5", "Retry-After": "2"}, 2 * time.Second, true},
		{"negative ms", map[string]string{"Retry-After-Ms": "-5"}, 0, false},
		{"far date", map[string]string{"Retry-After": now.Add(48 * time.Hour).Format(http.TimeFormat)}, tooLong, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			got, ok := RetryAfter(h, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 5: 8 * time.Second, 50: 8 * time.Second} {
		// rand just below 1 gives (almost) the ceiling; 0 gives 0 (full jitter).
		got := backoff(n, func() float64 { return 0.999999 })
		if got > want || got < want*99/100 {
			t.Errorf("backoff(%d, ~1) = %v, want ~%v", n, got, want)
		}
		if got := backoff(n, func() float64 { return 0 }); got != 0 {
			t.Errorf("backoff(%d, 0) = %v, want 0", n, got)
		}
	}
	if got := backoff(1, func() float64 { return 7 }); got != 0 {
		t.Errorf("out-of-range rand: got %v, want 0", got)
	}
}

func TestRetryableErr(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"reset", live, &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, true},
		{"eof", live, &url.Error{Op: "Post", URL: "u", Err: io.EOF}, true},
		{"unexpected eof", live, fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true},
		{"refused", live, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"ctx canceled", done, &url.Error{Op: "Post", URL: "u", Err: context.Canceled}, false},
		{"ctx error in live ctx", live, context.DeadlineExceeded, false},
		{"tls", live, &url.Error{Op: "Post", URL: "u", Err: errors.New("tls: failed to verify certificate")}, false},
		{"dns not found", live, &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}, false},
		{"nil", live, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryableErr(tt.ctx, tt.err); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestThrottle(t *testing.T) {
	var th throttle
	now := time.Unix(1000, 0)
	if d, _ := th.remaining("h", now); d != 0 {
		t.Fatalf("fresh throttle: got %v, want 0", d)
	}
	th.set("h", time.Hour, 429, now) // capped at MaxThrottle
	if d, st := th.remaining("h", now); d != MaxThrottle || st != 429 {
		t.Errorf("got %v, %d; want %v, 429", d, st, MaxThrottle)
	}
	th.set("h", time.Second, 503, now) // never shortens
	if d, st := th.remaining("h", now.Add(time.Second)); d != MaxThrottle-time.Second || st != 429 {
		t.Errorf("got %v, %d; want %v, 429", d, st, MaxThrottle-time.Second)
	}
	if d, _ := th.remaining("other", now); d != 0 {
		t.Errorf("other host: got %v, want 0", d)
	}
	if d, _ := th.remaining("h", now.Add(MaxThrottle)); d != 0 {
		t.Errorf("after expiry: got %v, want 0", d)
	}
	th.set("h", time.Second, 429, now)
	th.clear("h")
	if d, _ := th.remaining("h", now); d != 0 {
		t.Errorf("after clear: got %v, want 0", d)
	}
}
