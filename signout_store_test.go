package entra

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hookStore wraps a memStore; after the first Load of a user account key
// (once armed), it runs hook before returning what it loaded: the moment
// between "this instance read the account" and "this instance saved it".
type hookStore struct {
	*memStore
	armed atomic.Bool
	hook  func()
	once  sync.Once
}

func (h *hookStore) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := h.memStore.Load(ctx, key)
	if strings.HasPrefix(key, "entra/v1/user/") && h.armed.Load() {
		h.once.Do(h.hook)
	}
	return v, err
}

// TestSignOutIsNotUndoneByARefreshElsewhere is a regression test (found by review). Before the fix:
// a sign-out in one instance is undone by a refresh in
// flight in another instance sharing the Store. The other instance read
// the account just before the tombstone landed, redeemed the refresh
// token (SignOut does not revoke it at Entra), and then saved the account
// over the tombstone. Afterwards every instance (a new one included)
// serves the signed-out user again.
func TestSignOutIsNotUndoneByARefreshElsewhere(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, shortLived) // 4-minute tokens: each silent call redeems the refresh token
	store := &memStore{}
	a := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	hs := &hookStore{memStore: store}
	b := newWebEnvOn(t, m, func(o *Options) { o.Store = hs })
	acct, err := a.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var signOutErr error
	hs.hook = func() { signOutErr = a.app.SignOut(ctx, acct) } // lands while b's refresh is in flight
	hs.armed.Store(true)
	// b's refresh may have been answered, but its result must not outlive
	// the sign-out: it fails as a signed-out account does.
	if err := forceRefresh(ctx, &b.app.userTokens, acct, "User.Read"); err != nil && !errors.Is(err, ErrInteractionRequired) {
		t.Fatalf("b's refresh: %v, want success or ErrInteractionRequired", err)
	}
	if signOutErr != nil {
		t.Fatalf("SignOut: %v", signOutErr)
	}
	for _, v := range store.values() {
		if strings.Contains(string(v), "RefreshToken") || strings.Contains(string(v), "refresh_token") {
			t.Errorf("after SignOut returned nil, the Store holds the account's refresh token again (%d bytes): the tombstone was overwritten", len(v))
		}
	}
	// A fresh instance (a restart, another pod) serves the signed-out user.
	c := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if tok, err := c.app.Token(tctx, acct, m.demo.API.Scope); err == nil {
		t.Errorf("a new instance got a token (oid %v) for the account signed out before it started; want ErrInteractionRequired",
			claims(t, tok.AccessToken)["oid"])
	}
}
