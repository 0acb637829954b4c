package entra

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra/flows"
)

// loadHookStore runs hook once, after the n-th Load of a user account key
// (counted across the store's callers), before returning what that Load
// read.
type loadHookStore struct {
	*memStore
	n     int
	loads int
	hook  func()
}

func (h *loadHookStore) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := h.memStore.Load(ctx, key)
	if strings.HasPrefix(key, "entra/v1/user/") {
		h.loads++ // accountBook.use holds the account's turn: Loads of this instance are sequential
		if h.loads == h.n && h.hook != nil {
			h.hook()
		}
	}
	return v, err
}

const testHomeID = "uid.tid"

func twoBooks(t *testing.T, storeA Store, storeB Store) (*accountBook, *accountBook) {
	t.Helper()
	book := func(st Store) *accountBook {
		s := (&Options{Store: st}).resolve()
		c := newCache(s, nil, func(string) string { return "" })
		t.Cleanup(c.close)
		return newAccountBook(s, c, "tid", "client")
	}
	return book(storeA), book(storeB)
}

func storedIsTombstone(t *testing.T, mem *memStore, prefix string) bool {
	t.Helper()
	var st storedAccount
	if err := json.Unmarshal(mem.get(prefix+testHomeID), &st); err != nil {
		t.Fatalf("stored value: %v", err)
	}
	return st.SignedOut
}

// TestSignOutElsewhereWinsWhateverTheClocks is a regression test (found by review). Before the fix:
// Instance B (its clock 2 s behind A's: ordinary skew between hosts) signs
// the account out while A's silent call is in flight. A's tombstone check
// compares B's wall clock with A's ("!st.Saved.Before(start)"), so it takes
// the tombstone for an old one and saves the redeemed refresh token over
// it: the account is signed in again everywhere.
func TestSignOutElsewhereWinsWhateverTheClocks(t *testing.T) {
	mem := &memStore{}
	a, _ := twoBooks(t, mem, mem)
	ctx := context.Background()
	if err := a.adopt(ctx, Account{HomeAccountID: testHomeID, Username: "u"}, []byte(`{"RefreshToken":{"rt":"1"}}`)); err != nil {
		t.Fatal(err)
	}
	err := a.use(ctx, testHomeID, func(ac flows.AccountCache) error {
		// B's SignOut lands now; B's time.Now() reads 2 s behind A's.
		tomb, _ := json.Marshal(storedAccount{Account: Account{HomeAccountID: testHomeID}, Saved: time.Now().Add(-2 * time.Second), SignedOut: true})
		mem.put(a.prefix+testHomeID, tomb)
		time.Sleep(10 * time.Millisecond) // the request to Entra
		return ac.Save(ctx, []byte(`{"RefreshToken":{"rt":"2"}}`))
	})
	if !errors.Is(err, flows.ErrNoAccount) {
		t.Errorf("A's call during the sign-out: err %v, want ErrNoAccount", err)
	}
	if !storedIsTombstone(t, mem, a.prefix) {
		t.Errorf("after B signed the account out, the Store holds the account again: %s", mem.get(a.prefix+testHomeID))
	}
}

// B's SignOut lands between A's tombstone check (a Load) and A's save: B
// writes the tombstone and reads it back; then A saves the redeemed
// refresh token over it. The Store has no compare-and-set, so SignOut
// reads again a moment later (signOutRecheck) and writes the tombstone
// again: the sign-out stands.
func TestSignOutStandsAgainstASaveRightAfterIt(t *testing.T) {
	mem := &memStore{}
	hs := &loadHookStore{memStore: mem, n: 2} // A's Loads: 1 refresh at the start of use, 2 the tombstone check
	a, b := twoBooks(t, hs, mem)
	ctx := context.Background()
	if err := a.adopt(ctx, Account{HomeAccountID: testHomeID, Username: "u"}, []byte(`{"RefreshToken":{"rt":"1"}}`)); err != nil {
		t.Fatal(err)
	}
	var signOutErr error
	signedOut := make(chan struct{})
	// B's sign-out starts between A's check and A's save and runs beside
	// them, as two instances do.
	hs.hook = func() {
		go func() { signOutErr = b.remove(ctx, testHomeID); close(signedOut) }()
		time.Sleep(5 * time.Millisecond) // B's tombstone lands first
	}
	err := a.use(ctx, testHomeID, func(ac flows.AccountCache) error {
		return ac.Save(ctx, []byte(`{"RefreshToken":{"rt":"2"}}`))
	})
	<-signedOut
	if signOutErr != nil {
		t.Fatalf("B's SignOut: %v", signOutErr)
	}
	t.Logf("A's call: %v; B's SignOut: nil", err)
	if !storedIsTombstone(t, mem, a.prefix) {
		t.Errorf("SignOut returned nil, but the Store now holds the account's refresh token again: %s", mem.get(a.prefix+testHomeID))
	}
}
