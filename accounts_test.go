package entra

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// shortLived makes the emulator issue 4-minute access tokens: MSAL treats
// a token with less than 5 minutes left as expired, so every silent
// request of the account redeems its refresh token.
var shortLived = &entratest.Options{StrictRefreshTokens: true, TokenLifetime: 4 * time.Minute}

// forceRefresh asks acct's credential for a token for scope past its
// in-memory cache: with shortLived, a refresh token redemption.
func forceRefresh(ctx context.Context, u *userTokens, acct Account, scope string) error {
	set, err := userScopes(u.s.cloud, acct.HomeAccountID, []string{scope})
	if err != nil {
		return err
	}
	_, err = u.fetch(ctx, set, "")
	return err
}

func TestAccountsPersistThroughTheStore(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	store := &memStore{}
	a := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	acct, err := a.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	keys := store.keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "entra/v1/user/") || !strings.HasSuffix(keys[0], "/"+acct.HomeAccountID) {
		t.Fatalf("store keys %q, want one user key per account", keys)
	}
	// Another instance (or a restart) serves the user without a sign-in:
	// the access token of the sign-in comes from the stored MSAL cache.
	b := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	refreshes := m.s.GrantCount("refresh_token")
	ctx := context.Background()
	tok, err := b.app.Token(ctx, acct, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if claims(t, tok.AccessToken)["oid"] != m.demo.User.ObjectID {
		t.Fatal("token of another user")
	}
	if got := m.s.GrantCount("refresh_token") - refreshes; got != 0 {
		t.Errorf("second instance: %d refresh requests for the stored token, want 0", got)
	}
	if _, err := b.app.Token(ctx, acct, "User.Read"); err != nil {
		t.Fatal(err)
	}
	if got := m.s.GrantCount("refresh_token") - refreshes; got != 1 {
		t.Errorf("second instance, Graph: %d refresh requests, want 1", got)
	}
	// Sign-out in one instance: the Store keeps only a tombstone, and the
	// other instance can no longer refresh the account.
	if err := a.app.SignOut(ctx, acct); err != nil {
		t.Fatal(err)
	}
	for _, v := range store.values() {
		if strings.Contains(string(v), "refresh") || strings.Contains(string(v), "secret") {
			t.Fatalf("a token is left in the store after sign-out: %.80s", v)
		}
	}
	if err := forceRefresh(ctx, &b.app.userTokens, acct, "User.Read"); !errors.Is(err, ErrInteractionRequired) {
		t.Fatalf("other instance after sign-out: %v, want ErrInteractionRequired", err)
	}
	if got, _ := b.app.Accounts(ctx); len(got) != 0 {
		t.Errorf("other instance still lists %v", got)
	}
}

func TestRotationAcrossInstancesSharingAStore(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, shortLived)
	store := &memStore{}
	a := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	b := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	acct, err := a.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := m.s.GrantCount("refresh_token")
	// In turn: each refresh redeems the newest token, whoever saved it.
	for i := 0; i < 100; i++ {
		for _, w := range []*webEnv{a, b} {
			if err := forceRefresh(ctx, &w.app.userTokens, acct, m.demo.API.Scope); err != nil {
				t.Fatalf("refresh %d: %v", i, err)
			}
		}
	}
	if got := m.s.GrantCount("refresh_token") - before; got != 200 {
		t.Errorf("%d refresh requests for 200 refreshes", got)
	}
}

func TestConcurrentRefreshAcrossInstancesSharingAStore(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{StrictRefreshTokens: true})
	store := &memStore{}
	a := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	b := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	ctx := context.Background()
	// Each round: a fresh sign-in, then both instances need a Graph token
	// at the same moment. Both redeem the stored refresh token; Entra
	// (strict) takes the first, refuses the second; the loser picks up the
	// winner's saved cache, whose Graph token it then serves.
	for round := 0; round < 20; round++ {
		acct, err := a.signIn(t, "")
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for _, w := range []*webEnv{a, b} {
			go func() {
				<-start
				errs <- forceRefresh(ctx, &w.app.userTokens, acct, "User.Read")
			}()
		}
		close(start)
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

func TestStrictRotationHundredRefreshesInMemory(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, shortLived)
	w := newWebEnvOn(t, m, nil)
	acct, err := w.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if err := forceRefresh(context.Background(), &w.app.userTokens, acct, "User.Read"); err != nil {
					mu.Lock()
					failures++
					mu.Unlock()
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if failures != 0 {
		t.Fatalf("%d of 100 refreshes failed", failures)
	}
}

func TestAccountStoreFailuresKeepTheAccountWorking(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, shortLived)
	store := &memStore{fail: errors.New("store down")}
	w := newWebEnvOn(t, m, func(o *Options) { o.Store = store })
	acct, err := w.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := forceRefresh(context.Background(), &w.app.userTokens, acct, "User.Read"); err != nil {
			t.Fatalf("refresh %d with the store down: %v", i, err)
		}
	}
}

func TestStoredAccountsAreValidated(t *testing.T) {
	id := "uid.utid"
	for name, v := range map[string]string{
		"not json":        "{",
		"other account":   `{"account":{"HomeAccountID":"x.y"},"saved":"2026-01-01T00:00:00Z","msal":{}}`,
		"msal not object": `{"account":{"HomeAccountID":"uid.utid"},"saved":"2026-01-01T00:00:00Z","msal":"x"}`,
		"no saved time":   `{"account":{"HomeAccountID":"uid.utid"},"msal":{}}`,
		"null msal":       `{"account":{"HomeAccountID":"uid.utid"},"saved":"2026-01-01T00:00:00Z","msal":null}`,
		"too large":       `{"account":{"HomeAccountID":"uid.utid"},"saved":"2026-01-01T00:00:00Z","msal":{"a":"` + strings.Repeat("x", maxAccountBlob) + `"}}`,
	} {
		if _, err := decodeAccount([]byte(v), id); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := decodeAccount([]byte(`{"account":{"HomeAccountID":"uid.utid"},"saved":"2026-01-01T00:00:00Z","msal":{}}`), id); err != nil {
		t.Errorf("valid value refused: %v", err)
	}
}

func FuzzDecodeAccount(f *testing.F) {
	f.Add([]byte(`{"account":{"HomeAccountID":"uid.utid"},"saved":"2026-01-01T00:00:00Z","msal":{}}`))
	f.Add([]byte(`{"account":{"HomeAccountID":"uid.utid"},"saved":"2026-01-01T00:00:00Z","signed_out":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := decodeAccount(b, "uid.utid")
		if err == nil && st.Account.HomeAccountID != "uid.utid" {
			t.Fatalf("accepted a value for %q", st.Account.HomeAccountID)
		}
	})
}

func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		out = append(out, k)
	}
	return out
}

func (s *memStore) values() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, v := range s.m {
		out = append(out, v)
	}
	return out
}
