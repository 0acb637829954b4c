package entra

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hookClock is the real clock, but the first Now() called from onClock
// inside userTokens.fetch (once armed) runs hook first: the moment after
// a silent request released the account's turn and before its token is
// installed in the cache.
type hookClock struct {
	realClock
	armed atomic.Bool
	fired atomic.Bool
	hook  func()
}

func (c *hookClock) Now() time.Time {
	if c.armed.Load() {
		pcs := make([]uintptr, 16)
		n := runtime.Callers(2, pcs)
		frames := runtime.CallersFrames(pcs[:n])
		var inOnClock bool
		for {
			f, more := frames.Next()
			if strings.HasSuffix(f.Function, ".onClock") {
				inOnClock = true
			}
			if inOnClock && strings.HasSuffix(f.Function, ".(*userTokens).fetch") {
				if c.fired.CompareAndSwap(false, true) { // once, and re-entrant: the hook reads the clock too
					c.hook()
				}
				break
			}
			if !more {
				break
			}
		}
	}
	return time.Now()
}

// TestSignOutStopsAFetchInFlight is a regression test (found by review). Before the fix:
// SignOut in the same process does not stop a token fetch
// already past the account's turn. A Token call made after SignOut
// started joins that fetch (the singleflight is keyed by the entry key,
// not the entry), gets the signed-out user's token, and the token is
// installed in the new entry: every later Token call for the account
// serves it from the hot path until it expires, though SignOut returned.
func TestSignOutStopsAFetchInFlight(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, shortLived)
	clk := &hookClock{}
	w := newWebEnvOn(t, m, func(o *Options) { o.Clock = clk })
	acct, err := w.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	signedOut := make(chan struct{})
	clk.hook = func() {
		if err := w.app.SignOut(ctx, acct); err != nil {
			t.Errorf("SignOut: %v", err)
		}
		close(signedOut)
		// A request of the same user arriving right after the sign-out.
		go w.app.Token(ctx, acct, "User.Read")
		time.Sleep(200 * time.Millisecond)
	}
	clk.armed.Store(true)
	w.app.Token(ctx, acct, "User.Read") // the request in flight when the user signs out
	<-signedOut
	time.Sleep(100 * time.Millisecond)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if tok, err := w.app.Token(tctx, acct, "User.Read"); err == nil {
		t.Errorf("Token after SignOut returned: served the signed-out user's token (oid %v) from the cache; want ErrInteractionRequired",
			claims(t, tok.AccessToken)["oid"])
	}
	if got, _ := w.app.Accounts(ctx); len(got) != 0 {
		t.Errorf("Accounts after SignOut: %v", got)
	}
}
