package entrahttp

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// deviceGrant is the grant_type of a device-code poll; the emulator
// counts polls under "device_code".
const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// waitFor polls cond; it bounds a wait and asserts nothing about time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startDeviceCode asks for a device code through MSAL Go's public client
// over c.
func startDeviceCode(t *testing.T, f *fixture, c *Client) public.DeviceCode {
	t.Helper()
	app, err := public.New(f.demo.PublicClient.ClientID, public.WithAuthority(f.srv.Authority(f.demo.TenantID)),
		public.WithHTTPClient(c), public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	dc, err := app.AcquireTokenByDeviceCode(t.Context(), []string{f.demo.API.Scope})
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// MSAL polls after 50 ms, 150 ms, 450 ms... and treats slow_down like
// authorization_pending; through this Client a code is polled only after
// its interval, and every slow_down adds 5 s to it (RFC 8628).
func TestDevicePollsPacedAsRFC8628(t *testing.T) {
	f := newFixture(t, Options{})
	dc := startDeviceCode(t, f, f.c)
	done := make(chan error, 1)
	go func() {
		_, err := dc.AuthenticationResult(t.Context())
		done <- err
	}()
	// MSAL's own timer drives the polls; the fake sleeps record the waits.
	waitFor(t, "three polls", func() bool { return f.srv.GrantCount("device_code") >= 3 })
	if err := f.srv.ApproveDeviceCode(dc.Result.UserCode, f.demo.User.Username); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	sleeps := f.clock.Sleeps()
	if len(sleeps) < 3 || sleeps[0] != 5*time.Second {
		t.Fatalf("waits before polls: %v, want the first to be the 5 s interval", sleeps)
	}
	// The emulator answers slow_down to MSAL's fast polls: each answer
	// makes the next wait 5 s longer.
	for i := 2; i < len(sleeps); i++ {
		if sleeps[i] != sleeps[i-1]+5*time.Second && sleeps[i] != sleeps[i-1] {
			t.Fatalf("waits %v: each must be the interval, grown by 5 s per slow_down", sleeps)
		}
		if sleeps[i] < sleeps[i-1] {
			t.Fatalf("waits %v shrink", sleeps)
		}
	}
	if sleeps[len(sleeps)-1] <= 5*time.Second {
		t.Errorf("waits %v: slow_down never lengthened the interval", sleeps)
	}
}

// With real time, the first poll of a code comes one interval after it was
// issued, so a client that honours the interval never sees slow_down.
func TestDevicePollWaitsTheInterval(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the 5 s interval")
	}
	f := newFixture(t, Options{Now: time.Now, Sleep: sleepCtx})
	dc := startDeviceCode(t, f, f.c)
	issued := time.Now()
	if err := f.srv.ApproveDeviceCode(dc.Result.UserCode, f.demo.User.Username); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.AuthenticationResult(t.Context()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(issued); took < 5*time.Second {
		t.Errorf("signed in after %v, want the first poll after the 5 s interval", took)
	}
	if got := f.srv.GrantCount("device_code"); got != 1 {
		t.Errorf("polls: got %d, want 1", got)
	}
}

// Cancelling the context stops a poll's wait at once.
func TestDevicePollWaitHonoursCancel(t *testing.T) {
	f := newFixture(t, Options{Now: time.Now, Sleep: sleepCtx})
	dc := startDeviceCode(t, f, f.c)
	ctx, cancel := context.WithCancel(t.Context())
	var cancelledAt atomic.Int64
	time.AfterFunc(200*time.Millisecond, func() { cancelledAt.Store(time.Now().UnixNano()); cancel() })
	_, err := dc.AuthenticationResult(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if late := time.Since(time.Unix(0, cancelledAt.Load())); late > 100*time.Millisecond {
		t.Errorf("returned %v after the cancel", late)
	}
	if got := f.srv.GrantCount("device_code"); got != 0 {
		t.Errorf("polls: got %d, want 0 (the first waits the interval)", got)
	}
}

// The pacer keeps no device code itself, bounds what it tracks and forgets
// a code once it is answered for good.
func TestDevicePacerBounds(t *testing.T) {
	var p devicePacer
	now := time.Now()
	for i := range maxPolledCodes + 100 {
		p.issued([]byte(`{"device_code":"code-`+string(rune('a'+i%26))+time.Duration(i).String()+`","interval":5,"expires_in":900}`), now)
	}
	if got := len(p.codes); got > maxPolledCodes {
		t.Errorf("codes tracked: got %d, want at most %d", got, maxPolledCodes)
	}
	p.issued([]byte(`{"device_code":"the-code","interval":5,"expires_in":900}`), now) // tracked whatever went before
	form := map[string][]string{"grant_type": {deviceGrant}, "device_code": {"the-code"}}
	wait, key, ok := p.pollWait(form, now)
	if !ok || wait != 5*time.Second {
		t.Fatalf("wait %v, ok %v; want 5s", wait, ok)
	}
	p.answered(key, 200, []byte(`{"access_token":"x"}`), now)
	if _, still := p.codes[key]; still {
		t.Error("an answered code is still tracked")
	}
	if _, _, ok := p.pollWait(map[string][]string{"grant_type": {"client_credentials"}}, now); ok {
		t.Error("a client-credentials request was paced")
	}
}
