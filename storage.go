package entra

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// A Store never fails a call or noticeably delays it: each Store call has
// its own short budget (Options.StoreTimeout), separate from the fetch
// timeout; a Load that misses its budget counts as a miss; saves run in the
// background, so no caller waits for them; and at most maxStoreCalls calls
// are in flight per Credential, so a Store that hangs (even one that
// ignores its ctx) cannot pile up goroutines: further calls are skipped.
const maxStoreCalls = 16

// loadStored returns the Store's token for key when it is usable now: not
// expired, and for a background refresh (blocking false) newer than
// newerThan (the expiry of the token being refreshed) and not due for
// refresh itself. Store failures, timeouts and bad values are logged and
// count as a miss.
func (c *cache) loadStored(ctx context.Context, key string, newerThan time.Time, blocking bool) (tokenResult, bool) {
	if c.store == nil {
		return tokenResult{}, false
	}
	type loaded struct {
		b   []byte
		err error
	}
	ch := make(chan loaded, 1)
	if !c.storeCall(ctx, "load", key, func(ctx context.Context) {
		b, err := c.store.Load(ctx, c.storeKeyOf(ctx, key))
		ch <- loaded{b, err}
	}) {
		return tokenResult{}, false
	}
	timer := time.NewTimer(c.storeTimeout)
	defer timer.Stop()
	var got loaded
	select {
	case got = <-ch:
	case <-timer.C:
		c.logger.Warn("entra: store load timed out; asking Entra", slog.String("scopes", key), slog.Duration("budget", c.storeTimeout))
		return tokenResult{}, false
	case <-ctx.Done():
		return tokenResult{}, false
	}
	if got.err != nil {
		if !errors.Is(got.err, ErrNotFound) {
			c.logger.Warn("entra: store load failed; asking Entra", slog.String("scopes", key), slog.String("error", got.err.Error()))
		}
		return tokenResult{}, false
	}
	st, err := decodeStored(got.b, c.clock.Now())
	if err != nil {
		// Not deleted: the save of the token about to be fetched replaces
		// it (a delete running beside that save could remove the new value).
		c.logger.Warn("entra: store value unusable; asking Entra, the new token will replace it",
			slog.String("scopes", key), slog.String("error", err.Error()))
		return tokenResult{}, false
	}
	now := c.clock.Now()
	t := timesFor(now, st.ExpiresOn, st.RefreshOn, 0)
	if !now.Round(0).Before(t.usableUntil) ||
		!blocking && (!now.Round(0).Before(t.refreshAt) || !st.ExpiresOn.After(newerThan)) {
		return tokenResult{}, false
	}
	c.logger.Debug("entra: token loaded from store", slog.String("scopes", key), slog.Time("expires_on", st.ExpiresOn))
	return tokenResult{accessToken: st.AccessToken, expiresOn: st.ExpiresOn, refreshOn: st.RefreshOn}, true
}

// saveStored writes a freshly fetched token to the Store in the
// background, with its refresh time (unjittered: each instance that loads
// it adds its own jitter), so another instance refreshes it on the same
// schedule. Failures are logged only.
func (c *cache) saveStored(ctx context.Context, key string, r tokenResult) {
	if c.store == nil {
		return
	}
	ttl := r.expiresOn.Sub(c.clock.Now())
	if ttl <= 0 {
		return
	}
	refreshAt := timesFor(c.clock.Now(), r.expiresOn, r.refreshOn, 0).refreshAt
	b, err := encodeStored(storedToken{AccessToken: r.accessToken, ExpiresOn: r.expiresOn, RefreshOn: refreshAt})
	if err != nil {
		return
	}
	c.storeCall(ctx, "save", key, func(ctx context.Context) {
		if err := c.store.Save(ctx, c.storeKeyOf(ctx, key), b, ttl); err != nil {
			c.logger.Warn("entra: store save failed; the token stays in memory only", slog.String("scopes", key), slog.String("error", err.Error()))
		}
	})
}

// storeCall runs f in its own goroutine with a ctx bounded by the store
// budget (ctx supplies values only), unless maxStoreCalls calls are in
// flight; it reports whether f was started.
func (c *cache) storeCall(ctx context.Context, op, key string, f func(context.Context)) bool {
	select {
	case c.storeSlots <- struct{}{}:
	default:
		c.logger.Warn("entra: store is not answering; skipping a store "+op, slog.String("scopes", key))
		return false
	}
	c.storeCalls.Add(1)
	go func() {
		defer c.storeCalls.Done()
		defer func() { <-c.storeSlots }()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.storeTimeout)
		defer cancel()
		f(sctx)
	}()
	return true
}

// errStoreBusy: maxStoreCalls Store calls hang, so a call was skipped.
var errStoreBusy = errors.New("entra: store busy: earlier calls have not returned")

// storeWait runs f as storeCall does and waits for it at most the store
// budget: f's error, errStoreBusy when it could not start, or
// context.DeadlineExceeded when it did not finish in time. For Store
// calls whose answer the caller needs (accounts, sessions).
func (c *cache) storeWait(ctx context.Context, op, key string, f func(context.Context) error) error {
	done := make(chan error, 1)
	if !c.storeCall(ctx, op, key, func(ctx context.Context) { done <- f(ctx) }) {
		return errStoreBusy
	}
	t := time.NewTimer(c.storeTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return context.DeadlineExceeded
	}
}
