package entra

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/entrakit/entra/flows"
)

// accountTTL is how long a stored account is kept after its last save:
// Entra's refresh tokens live up to 90 days from their last use.
const accountTTL = 90 * 24 * time.Hour

// maxAccountBlob bounds a stored account value (MSAL's cache of one
// account: its record, id token, refresh token and access tokens).
const maxAccountBlob = 256 << 10

// accountBook keeps the accounts signed in through a user credential: per
// account, MSAL's serialized cache of that account (record, id token,
// refresh token, access tokens), in memory and, with Options.Store, in the
// Store under the account's own key. Every use of an account's refresh
// token (a silent request, a sign-in's save, a sign-out) takes the
// account's turn: the newest refresh token is always the one redeemed and
// the one saved, and a refresh in flight cannot bring a signed-out account
// back. Safe for concurrent use.
type accountBook struct {
	s        settings
	tenantID string
	prefix   string // Store key prefix: "entra/v1/user/<host>/<tenant>/<client>/"
	cache    *cache // its storeWait bounds every Store call

	mu     sync.Mutex
	accts  map[string]*accountRecord // home account ID ->
	signed map[string]Account        // the accounts signed in here, for list (written under their turn)
}

// accountRecord is one account. turn (capacity 1) guards every field but
// itself.
type accountRecord struct {
	turn    chan struct{}
	acct    Account
	blob    []byte    // MSAL's cache of the account; nil: not signed in here
	saved   time.Time // when blob was made (wall clock)
	unsaved bool      // the Store did not take blob
}

// storedAccount is the JSON an account is persisted as. A signed-out
// account stays as a tombstone (SignedOut, no MSAL cache), so instances
// holding a copy in memory drop it instead of bringing it back.
type storedAccount struct {
	Account   Account         `json:"account"`
	Saved     time.Time       `json:"saved"`
	MSAL      json.RawMessage `json:"msal,omitempty"`
	SignedOut bool            `json:"signed_out,omitempty"`
}

// signOutRecheck is how long after writing a tombstone SignOut reads it
// again: a refresh elsewhere that checked for it just before it landed
// saves within this time.
const signOutRecheck = 100 * time.Millisecond

// maxRotationRetries bounds the retries of one call with refresh tokens
// other instances saved.
const maxRotationRetries = 5

// rotationWaits are the pauses before re-reading the Store when Entra
// refused a refresh token that another instance may have just redeemed
// (its save can land a moment after Entra answered us).
// Instances redeeming at the same moment take turns: at most
// maxRotationRetries retries per call.
var rotationWaits = []time.Duration{10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}

func newAccountBook(s settings, c *cache, tenantID, clientID string) *accountBook {
	return &accountBook{s: s, cache: c, tenantID: tenantID, prefix: "entra/v1/user/" + s.cloud.AuthorityHost() + "/" + tenantID + "/" + clientID + "/",
		accts: map[string]*accountRecord{}, signed: map[string]Account{}}
}

// record returns the record of homeID, made on first use.
func (b *accountBook) record(homeID string) *accountRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.accts[homeID]
	if r == nil {
		r = &accountRecord{turn: make(chan struct{}, 1)}
		b.accts[homeID] = r
	}
	return r
}

// take waits for r's turn; ctx bounds the wait.
func take(ctx context.Context, r *accountRecord) (func(), error) {
	select {
	case r.turn <- struct{}{}:
		return func() { <-r.turn }, nil
	case <-ctx.Done():
		return nil, ctxError(ctx.Err())
	}
}

// view is the flows.AccountCache of one call, under the account's turn.
type view struct {
	r     *accountRecord
	dirty bool
}

func (v *view) Load(context.Context) ([]byte, error) { return v.r.blob, nil }

func (v *view) Save(_ context.Context, blob []byte) error {
	v.r.blob = append([]byte(nil), blob...)
	v.dirty = true
	return nil
}

// use runs call with homeID's cache, under the account's turn. It first
// takes a newer copy from the Store (another instance may have rotated
// the refresh token); when Entra refuses a refresh token (invalid_grant)
// and the Store meanwhile holds another one, call runs once more with it.
// A changed cache is saved before the turn ends.
func (b *accountBook) use(ctx context.Context, homeID string, call func(flows.AccountCache) error) error {
	r := b.record(homeID)
	done, err := take(ctx, r)
	if err != nil {
		return err
	}
	defer done()
	b.refresh(ctx, homeID, r)
	if r.blob == nil {
		b.forget(homeID, r) // no record kept for IDs never signed in here
		return flows.ErrNoAccount
	}
	v := &view{r: r}
	err = call(v)
	for retry := 0; retry < maxRotationRetries && err != nil && b.s.store != nil && isInvalidGrant(err); retry++ {
		if !b.newerStored(ctx, homeID, r) {
			break
		}
		b.s.logger.Info("entra: the refresh token was rotated by another instance; retrying with the stored one")
		err = call(v)
	}
	if v.dirty {
		// Another instance may have signed the account out during the
		// call: its tombstone wins over what this call redeemed.
		// (No clock comparison: the instances' clocks differ. The call
		// started from a signed-in account, so any tombstone is newer,
		// unless this copy is a sign-in the Store never took.)
		if st, ok := b.load(ctx, homeID); ok && st.SignedOut && !(r.unsaved && r.saved.After(st.Saved)) {
			r.acct, r.blob, r.saved, r.unsaved = Account{}, nil, st.Saved, false
			b.forget(homeID, r)
			return flows.ErrNoAccount
		}
		r.saved = time.Now()
		b.save(ctx, homeID, r)
	}
	b.show(homeID, r)
	return err
}

// forget drops r, homeID's record, from the book (if it still is).
func (b *accountBook) forget(homeID string, r *accountRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.accts[homeID] == r {
		delete(b.accts, homeID)
	}
	delete(b.signed, homeID)
}

// show records whether r, homeID's record, is signed in, for list. The
// caller holds r's turn.
func (b *accountBook) show(homeID string, r *accountRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.blob != nil {
		b.signed[homeID] = r.acct
	} else {
		delete(b.signed, homeID)
	}
}

// newerStored waits a moment (rotationWaits) for the Store to hold
// another copy of r than the one just refused, and takes it.
func (b *accountBook) newerStored(ctx context.Context, homeID string, r *accountRecord) bool {
	before := r.blob
	for _, d := range rotationWaits {
		// Jittered, so two instances that keep colliding stop doing so.
		if !pause(ctx, d/2+time.Duration(rand.Int64N(int64(d/2)+1))) {
			return false
		}
		b.refresh(ctx, homeID, r)
		if string(before) != string(r.blob) {
			return r.blob != nil
		}
	}
	return false
}

// adopt makes blob, from a sign-in, the account's cache.
func (b *accountBook) adopt(ctx context.Context, acct Account, blob []byte) error {
	r := b.record(acct.HomeAccountID)
	done, err := take(ctx, r)
	if err != nil {
		return err
	}
	defer done()
	r.acct, r.blob, r.saved = acct, blob, time.Now()
	b.save(ctx, acct.HomeAccountID, r)
	b.show(acct.HomeAccountID, r)
	return nil
}

// remove forgets homeID here and in the Store, where a tombstone replaces
// it.
func (b *accountBook) remove(ctx context.Context, homeID string) error {
	r := b.record(homeID)
	done, err := take(ctx, r)
	if err != nil {
		return err
	}
	defer done()
	r.blob, r.acct, r.unsaved = nil, Account{}, false
	b.forget(homeID, r)
	if b.s.store == nil {
		return nil
	}
	tomb, _ := json.Marshal(storedAccount{Account: Account{HomeAccountID: homeID}, Saved: time.Now(), SignedOut: true})
	derr := b.saveValue(ctx, homeID, tomb)
	// A store may take a write it cannot keep (Redis during a failover
	// answers as if it had): only the tombstone read back proves it. And
	// the Store has no compare-and-set: a refresh in another instance that
	// checked for a tombstone just before this one landed may still save
	// the account over it; read again a moment later and write the
	// tombstone again if so.
	for i := 0; i < 2 && derr == nil; i++ {
		if i == 1 && !pause(ctx, signOutRecheck) {
			break
		}
		st, ok := b.load(ctx, homeID)
		if ok && st.SignedOut {
			continue
		}
		if i == 0 || !ok {
			derr = errors.New("the sign-out did not reach the store (reading it back did not find it)")
			break
		}
		// Overwritten by a refresh elsewhere: sign out again, once.
		derr = b.saveValue(ctx, homeID, tomb)
		if st, ok := b.load(ctx, homeID); derr == nil && (!ok || !st.SignedOut) {
			derr = errors.New("the account was saved again by another instance during the sign-out")
		}
	}
	if derr != nil {
		return &Error{Op: "sign-out", Code: "store_delete_failed",
			Description: "the account was signed out here, but deleting it from the Store failed: " + oneLine(derr.Error(), 200),
			Hint:        "call SignOut again when the Store is reachable, or the account comes back in other instances"}
	}
	return nil
}

// list returns the accounts signed in here, without waiting for calls in
// flight.
func (b *accountBook) list() []Account {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Account, 0, len(b.signed))
	for _, a := range b.signed {
		out = append(out, a)
	}
	return out
}

// refresh replaces r's cache by the Store's when that one is newer (or r
// has none). Store failures and bad values are logged and ignored.
func (b *accountBook) refresh(ctx context.Context, homeID string, r *accountRecord) {
	st, ok := b.load(ctx, homeID)
	if !ok {
		return
	}
	if r.blob == nil || !(r.unsaved && r.saved.After(st.Saved)) {
		if st.SignedOut {
			r.acct, r.blob, r.saved, r.unsaved = Account{}, nil, st.Saved, false
			return
		}
		r.acct, r.blob, r.saved, r.unsaved = st.Account, st.MSAL, st.Saved, false
	}
}

// load returns homeID's stored account (or tombstone). Store failures,
// timeouts and bad values are logged and are a miss.
func (b *accountBook) load(ctx context.Context, homeID string) (storedAccount, bool) {
	if b.s.store == nil {
		return storedAccount{}, false
	}
	var raw []byte
	lerr := b.cache.storeWait(ctx, "load", "account", func(sctx context.Context) error {
		var err error
		raw, err = b.s.store.Load(sctx, b.prefix+homeID)
		return err
	})
	if lerr != nil {
		if !errors.Is(lerr, ErrNotFound) {
			b.s.logger.Warn("entra: store load of an account failed; using the account as held in memory", slog.String("error", lerr.Error()))
		}
		return storedAccount{}, false
	}
	st, err := decodeAccount(raw, homeID)
	if err != nil {
		b.s.logger.Warn("entra: stored account unusable; ignored", slog.String("error", err.Error()))
		return storedAccount{}, false
	}
	return st, true
}

// save writes r to the Store, within the store budget; a failure is
// logged and remembered, so the newer copy in memory is preferred.
func (b *accountBook) save(ctx context.Context, homeID string, r *accountRecord) {
	if b.s.store == nil {
		return
	}
	val, err := json.Marshal(storedAccount{Account: r.acct, Saved: r.saved, MSAL: r.blob})
	if err != nil {
		return
	}
	serr := b.saveValue(ctx, homeID, val)
	r.unsaved = serr != nil
	if serr != nil {
		b.s.logger.Warn("entra: store save of an account failed; it stays in memory only", slog.String("error", serr.Error()))
	}
}

// saveValue writes homeID's value, within the store budget.
func (b *accountBook) saveValue(ctx context.Context, homeID string, val []byte) error {
	return b.cache.storeWait(ctx, "save", "account", func(sctx context.Context) error {
		return b.s.store.Save(sctx, b.prefix+homeID, val, accountTTL)
	})
}

// decodeAccount parses a stored account, holding it to what a sign-in
// gives: the key's account, a JSON object from MSAL, a bounded size.
func decodeAccount(raw []byte, homeID string) (storedAccount, error) {
	if len(raw) > maxAccountBlob {
		return storedAccount{}, errors.New("entra: stored account is too large")
	}
	var st storedAccount
	if err := json.Unmarshal(raw, &st); err != nil {
		return storedAccount{}, errors.New("entra: stored value is not an account")
	}
	if st.SignedOut && st.Account.HomeAccountID == homeID && !st.Saved.IsZero() {
		return st, nil
	}
	var obj map[string]json.RawMessage
	if st.Account.HomeAccountID != homeID || json.Unmarshal(st.MSAL, &obj) != nil || obj == nil || st.Saved.IsZero() {
		return storedAccount{}, errors.New("entra: stored account is incomplete or for another account")
	}
	return st, nil
}

// isInvalidGrant reports whether err is Entra refusing a grant, such as a
// refresh token another instance already redeemed.
func isInvalidGrant(err error) bool {
	var e *Error
	if errors.As(fromFlowError("token", err), &e) {
		return e.Code == "invalid_grant"
	}
	return false
}

// pause waits d, or less when ctx ends first (then false).
func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
