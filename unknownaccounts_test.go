package entra

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestUnknownAccountsKeepNoRecord is a regression test (found by review). Before the fix:
// every token call for an account ID this app never signed in
// leaves an accountRecord in the account book for good, whatever
// MaxCacheEntries says. An app that takes the account ID from a session
// (a cookie, a header) lets a client grow the process's memory without
// bound; the cache entries beside them are evicted, the records are not.
func TestUnknownAccountsKeepNoRecord(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	w := newWebEnvOn(t, m, func(o *Options) { o.MaxCacheEntries = 100 })
	ctx := context.Background()
	const n = 20000
	for i := range n {
		_, err := w.app.Token(ctx, Account{HomeAccountID: fmt.Sprintf("attacker-%d.tenant", i)}, m.demo.API.Scope)
		if !errors.Is(err, ErrInteractionRequired) {
			t.Fatalf("call %d: %v, want ErrInteractionRequired", i, err)
		}
	}
	w.app.book.mu.Lock()
	records := len(w.app.book.accts)
	w.app.book.mu.Unlock()
	if entries := w.app.cache.len(); entries > 100 {
		t.Errorf("cache entries %d > MaxCacheEntries", entries)
	}
	if records > 100 {
		t.Errorf("%d account records held after %d calls for unknown accounts (MaxCacheEntries 100, signed-in accounts 0)", records, n)
	}
}
