package jwks_test

import (
	"context"
	"testing"
	"time"

	"github.com/entrakit/entra/internal/jwks"
)

// TestUnknownKidRefetchAfterTheClockStepsBack is a regression test (found by review). Before the fix:
// the unknown-kid limiter (and the refresh and retry times)
// compare wall-clock Unix nanoseconds. After the wall clock steps back
// (NTP correcting a fast clock, a VM restored from a snapshot), "now -
// last refetch" is negative, so no refetch is allowed until the clock
// has caught up with the old reading plus UnknownKeyInterval: here, for
// two hours, every token signed with a key Entra rolled out meanwhile is
// refused with ErrUnknownKey.
func TestUnknownKidRefetchAfterTheClockStepsBack(t *testing.T) {
	p := newProvider(t)
	clk := newFakeClock()
	s := jwks.New(p.metadataURL(), jwks.Options{HTTPClient: p.srv.Client(), Clock: clk.Now})
	ctx := context.Background()
	if _, err := s.Verify(ctx, sign(t, rsaKey(t, 0), "k1", claims())); err != nil {
		t.Fatal(err)
	}
	// A forged token with an unknown kid spends the refetch allowance.
	if _, err := s.Verify(ctx, sign(t, rsaKey(t, 2), "nope", claims())); err == nil {
		t.Fatal("unknown kid verified")
	}
	clk.Advance(-2 * time.Hour) // the wall clock is corrected
	p.set(func(p *provider) {   // Entra rolls out a new key
		p.keys = append(p.keys, testKey{kid: "k2", priv: rsaKey(t, 1), issuer: testIssuerTemplate})
	})
	clk.Advance(10 * time.Minute) // well past UnknownKeyInterval (5m) of real time
	if _, err := s.Verify(ctx, sign(t, rsaKey(t, 1), "k2", claims())); err != nil {
		t.Errorf("10 minutes after the last refetch (real time), a token of the new key: %v", err)
	}
}
