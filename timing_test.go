package entra

import (
	"testing"
	"time"
)

func TestTimesFor(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		lifetime    time.Duration
		refreshIn   time.Duration // 0: none
		wantRefresh time.Duration
		wantUsable  time.Duration
	}{
		{"half of lifetime", time.Hour, 0, 30 * time.Minute, time.Hour - 30*time.Second},
		{"refresh_in honoured", 2 * time.Hour, 40 * time.Minute, 40 * time.Minute, 2*time.Hour - 30*time.Second},
		{"refresh_in clamped to expiry-5m", time.Hour, 58 * time.Minute, 55 * time.Minute, time.Hour - 30*time.Second},
		{"8 minutes: half", 8 * time.Minute, 0, 4 * time.Minute, 8*time.Minute - 30*time.Second},
		{"4 minutes ignores a late refresh_in", 4 * time.Minute, 3 * time.Minute, 2 * time.Minute, 4*time.Minute - 24*time.Second},
		{"refresh_in in the past", time.Hour, -time.Minute, 0, time.Hour - 30*time.Second},
		{"20 seconds is usable", 20 * time.Second, 0, 10 * time.Second, 18 * time.Second},
		{"1 second is usable", time.Second, 0, 500 * time.Millisecond, 900 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r time.Time
			if tt.refreshIn != 0 {
				r = now.Add(tt.refreshIn)
			}
			got := timesFor(now, now.Add(tt.lifetime), r, 0)
			if d := got.refreshAt.Sub(now); d != tt.wantRefresh {
				t.Errorf("refresh after %v, want %v", d, tt.wantRefresh)
			}
			if d := got.usableUntil.Sub(now); d != tt.wantUsable {
				t.Errorf("usable for %v, want %v", d, tt.wantUsable)
			}
		})
	}
}

// The margins are continuous in the lifetime: a lifetime one second longer
// never moves the refresh or the end of use by more than a second, nor
// earlier (the old rule refreshed a 5 min token after 2m30s and a 5 min 1 s
// token after 1 s), whether or not Entra sends refresh_in.
func TestTimesForContinuous(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, withRefreshIn := range []bool{false, true} {
		prev := timesFor(now, now.Add(time.Second), time.Time{}, 0)
		for life := 2 * time.Second; life <= 3*time.Hour; life += time.Second {
			var r time.Time
			if withRefreshIn {
				r = now.Add(life / 2)
			}
			got := timesFor(now, now.Add(life), r, 0)
			for _, c := range []struct {
				what     string
				old, new time.Time
			}{{"refresh", prev.refreshAt, got.refreshAt}, {"usable", prev.usableUntil, got.usableUntil}} {
				if d := c.new.Sub(c.old); d < 0 || d > time.Second {
					t.Fatalf("refresh_in=%v, lifetime %v: %s time moved by %v from lifetime-1s, want within [0, 1s]",
						withRefreshIn, life, c.what, d)
				}
			}
			if !got.refreshAt.After(now) || !got.usableUntil.After(got.refreshAt) {
				t.Fatalf("lifetime %v: refresh %v, usable %v: want now < refresh < usable", life, got.refreshAt.Sub(now), got.usableUntil.Sub(now))
			}
			prev = got
		}
	}
}

func TestTimesForJitter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := timesFor(now, now.Add(time.Hour), time.Time{}, 0)
	most := timesFor(now, now.Add(time.Hour), time.Time{}, 0.999999)
	if got, want := base.refreshAt.Sub(most.refreshAt), 3*time.Minute; got <= 0 || got > want {
		t.Errorf("jitter moved the refresh earlier by %v, want (0, %v]", got, want)
	}
	if !most.usableUntil.Equal(base.usableUntil) {
		t.Error("jitter moved the end of use")
	}
}

func TestBackoff(t *testing.T) {
	for failures := 1; failures <= 40; failures++ {
		want := min(refreshRetryBase<<min(failures-1, 20), refreshRetryMax)
		for _, j := range []float64{0, 0.5, 0.999999} {
			if got := backoff(failures, refreshRetryBase, refreshRetryMax, j); got < want/2 || got > want {
				t.Fatalf("failure %d: backoff %v, want in [%v, %v]", failures, got, want/2, want)
			}
		}
	}
}
