package entrahttp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDoThrottleHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		first      answer
		wantHold   time.Duration // 0: no throttle
		wantStatus int
	}{
		{"429 Retry-After 120", answer{status: 429, headers: map[string]string{"Retry-After": "120"}}, 120 * time.Second, 429},
		{"429 Retry-After-Ms 120000", answer{status: 429, headers: map[string]string{"Retry-After-Ms": "120000"}}, 120 * time.Second, 429},
		{"429 Retry-After 1h capped", answer{status: 429, headers: map[string]string{"Retry-After": "3600"}}, MaxThrottle, 429},
		{"429 Retry-After huge capped", answer{status: 429, headers: map[string]string{"Retry-After": "99999999999999999999"}}, MaxThrottle, 429},
		{"429 without Retry-After", answer{status: 429, body: "Too Many Requests"}, defaultThrottle, 429},
		{"503 Retry-After 30", answer{status: 503, headers: map[string]string{"Retry-After": "30"}}, 30 * time.Second, 503},
		{"503 x-ms-retry-after-ms huge", answer{status: 503, headers: map[string]string{"x-ms-retry-after-ms": "99999999999"}}, MaxThrottle, 503},
		{"503 without Retry-After", answer{status: 503}, 0, 0},
		{"500 Retry-After ignored", answer{status: 500, headers: map[string]string{"Retry-After": "30"}}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.first, answer{})
			c, clock := newFakeClient(Options{MaxAttempts: 1}, srv)
			u := srv.URL + "/tenant/oauth2/v2.0/token"
			if resp, err := postToken(context.Background(), c, u, "s"); err != nil || resp.StatusCode != tt.first.status {
				t.Fatalf("first call: got %v, %v; want status %d", resp, err, tt.first.status)
			}
			if tt.wantHold == 0 {
				if _, err := postToken(context.Background(), c, u, "s"); err != nil {
					t.Fatalf("second call: got %v, want it sent", err)
				}
				if got := srv.hits.Load(); got != 2 {
					t.Errorf("got %d requests, want 2", got)
				}
				return
			}
			// Calls fail fast, each saying when to retry, until the hold ends.
			for _, after := range []time.Duration{0, tt.wantHold - time.Second} {
				clock.Sleep(context.Background(), after)
				_, err := postToken(context.Background(), c, u, "s")
				var re *ResponseError
				if !errors.As(err, &re) || re.Kind != KindThrottled {
					t.Fatalf("after %v: got %v, want KindThrottled", after, err)
				}
				if want := tt.wantHold - after; re.RetryAfter != want || re.StatusCode != tt.wantStatus {
					t.Errorf("after %v: got RetryAfter %v status %d, want %v %d", after, re.RetryAfter, re.StatusCode, want, tt.wantStatus)
				}
				tt.wantHold -= after
			}
			if got := srv.hits.Load(); got != 1 {
				t.Errorf("got %d requests during the hold, want 1", got)
			}
			clock.Sleep(context.Background(), time.Second)
			if resp, err := postToken(context.Background(), c, u, "s"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("after the hold: got %v, %v; want 200", resp, err)
			}
		})
	}
}

func TestDoThrottleMessage(t *testing.T) {
	srv := newFakeServer(t, answer{status: 429, headers: map[string]string{"Retry-After": "120"}})
	c, clock := newFakeClient(Options{MaxAttempts: 1}, srv)
	u := srv.URL + "/t/oauth2/v2.0/token"
	if _, err := postToken(context.Background(), c, u, "s"); err != nil {
		t.Fatal(err)
	}
	clock.Sleep(context.Background(), 2*time.Second)
	_, err := postToken(context.Background(), c, u, "s")
	if err == nil {
		t.Fatal("got nil error, want KindThrottled")
	}
	for _, want := range []string{"throttled", "HTTP 429", "retry in 1m58s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
}

// An over-long delay stops retrying whichever header carries it (defect 15).
func TestDoRetryAfterTooLong(t *testing.T) {
	for _, h := range []map[string]string{
		{"Retry-After": "7200"},
		{"Retry-After-Ms": "7200000"},
		{"x-ms-retry-after-ms": "7200000"},
		{"Retry-After-Ms": "99999999999"},
		{"x-ms-retry-after-ms": "99999999999999999999999999"},
	} {
		t.Run(strings.Join(keys(h), ","), func(t *testing.T) {
			srv := newFakeServer(t, answer{status: 503, headers: h, body: `{"error":"temporarily_unavailable"}`})
			c, clock := newFakeClient(Options{}, srv)
			resp, err := postToken(context.Background(), c, srv.URL+"/t/oauth2/v2.0/token", "s")
			if err != nil || resp.StatusCode != 503 {
				t.Fatalf("got %v, %v; want the 503 at once", resp, err)
			}
			if got := srv.hits.Load(); got != 1 {
				t.Errorf("got %d requests, want 1", got)
			}
			if s := clock.Sleeps(); len(s) != 0 {
				t.Errorf("slept %v, want no sleep", s)
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}
