package entra

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

const oboGrant = "on_behalf_of"

// assertionFor signs username in to the demo public client (device code)
// and returns its access token to the demo middle tier: the user assertion
// a client would send to the API.
func (m *userEmu) assertionFor(t *testing.T, username string, edit func(*Options)) string {
	t.Helper()
	cred, _ := m.deviceCred(t, username, edit)
	acct, err := cred.SignIn(t.Context(), m.demo.OBOAPI.Scope)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.Token(t.Context(), acct, m.demo.OBOAPI.Scope)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// oboCred returns the demo middle tier's OnBehalfOfCredential.
func (m *userEmu) oboCred(t testing.TB, edit func(*OnBehalfOfOptions)) *OnBehalfOfCredential {
	t.Helper()
	o := OnBehalfOfOptions{Options: m.opts}
	if edit != nil {
		edit(&o)
	}
	c, err := NewOnBehalfOfCredential(m.demo.TenantID, m.demo.OBOAPI.ClientID, ClientSecret(m.demo.OBOAPI.ClientSecret), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// addUser adds a second user to the demo tenant.
func (m *userEmu) addUser(t *testing.T, name, oid string) string {
	t.Helper()
	u, err := m.s.AddUser(m.demo.TenantID, entratest.User{Username: name + "@contoso.onmicrosoft.com", ObjectID: oid, DisplayName: name})
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func TestOnBehalfOfEndToEnd(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	assertion := m.assertionFor(t, m.demo.User.Username, nil)
	cred := m.oboCred(t, nil)
	before := m.s.GrantCount(oboGrant)
	tok, err := cred.Token(t.Context(), assertion, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	c := claims(t, tok.AccessToken)
	if c["aud"] != m.demo.API.ClientID || c["oid"] != m.demo.User.ObjectID || c["azp"] != m.demo.OBOAPI.ClientID {
		t.Errorf("got aud %v oid %v azp %v, want the API, the user and the middle tier", c["aud"], c["oid"], c["azp"])
	}
	for range 3 {
		again, err := cred.Token(t.Context(), assertion, m.demo.API.Scope)
		if err != nil || again != tok {
			t.Fatalf("cached call: got %v, %v; want the same token", again, err)
		}
	}
	ts := cred.TokenSource(t.Context(), assertion, m.demo.API.Scope)
	if got, err := ts.Token(); err != nil || got != tok {
		t.Fatalf("TokenSource: got %v, %v; want the cached token", got, err)
	}
	if got := m.s.GrantCount(oboGrant) - before; got != 1 {
		t.Errorf("OBO requests: got %d, want 1", got)
	}
	g, err := cred.Token(t.Context(), assertion, "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	if aud := claims(t, g.AccessToken)["aud"]; aud != m.s.GraphResource() {
		t.Errorf("Graph token aud: got %v, want %v", aud, m.s.GraphResource())
	}
}

// N concurrent cold callers for one user share one request; two users
// never see each other's tokens.
func TestOnBehalfOfSingleFlightAndUsers(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	bob := m.addUser(t, "bob", "1b2c3d4e-0005-4000-8000-0000000000b2")
	users := map[string]string{ // oid -> assertion
		m.demo.User.ObjectID:                   m.assertionFor(t, m.demo.User.Username, nil),
		"1b2c3d4e-0005-4000-8000-0000000000b2": m.assertionFor(t, bob, nil),
	}
	cred := m.oboCred(t, nil)
	before := m.s.GrantCount(oboGrant)
	var wg sync.WaitGroup
	for oid, a := range users {
		for range 50 {
			wg.Go(func() {
				tok, err := cred.Token(t.Context(), a, m.demo.API.Scope)
				if err != nil {
					t.Error(err)
					return
				}
				if got := claims(t, tok.AccessToken)["oid"]; got != oid {
					t.Errorf("token for user %s carries oid %v", oid, got)
				}
			})
		}
	}
	wg.Wait()
	if got := m.s.GrantCount(oboGrant) - before; got != 2 {
		t.Errorf("OBO requests for 100 callers of 2 users: got %d, want 2", got)
	}
}

// Entries are bounded by MaxCacheEntries and removed after the idle TTL.
func TestOnBehalfOfEviction(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{TokenLifetime: time.Hour})
	fc := newFakeClock(time.Now())
	cred := m.oboCred(t, func(o *OnBehalfOfOptions) { o.MaxCacheEntries = 3; o.IdleTTL = 10 * time.Minute; o.Clock = fc })
	var assertions []string
	for range 5 {
		assertions = append(assertions, m.assertionFor(t, m.demo.User.Username, nil))
	}
	for _, a := range assertions {
		if _, err := cred.Token(t.Context(), a, m.demo.API.Scope); err != nil {
			t.Fatal(err)
		}
		if n := cred.cache.len(); n > 3 {
			t.Fatalf("entries: %d, want at most 3", n)
		}
	}
	// The newest is still cached; an evicted one asks again.
	before := m.s.GrantCount(oboGrant)
	if _, err := cred.Token(t.Context(), assertions[4], m.demo.API.Scope); err != nil {
		t.Fatal(err)
	}
	if got := m.s.GrantCount(oboGrant) - before; got != 0 {
		t.Errorf("newest entry: %d requests, want 0", got)
	}
	// Tokens expire (1h), then idle entries go after the idle TTL.
	for range 8 {
		fc.Advance(10 * time.Minute)
	}
	if n := cred.cache.len(); n != 0 {
		t.Errorf("entries after expiry and idle TTL: %d, want 0", n)
	}
}

// A second credential sharing the Store serves the user's token without a
// request; the persisted key is SHA-256-based and holds no assertion.
func TestOnBehalfOfStore(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	assertion := m.assertionFor(t, m.demo.User.Username, nil)
	store := &memStore{}
	a := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Store = store })
	tok, err := a.Token(t.Context(), assertion, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	want := a.storePrefix + "a/" + sha256Key(assertion) + "/" + m.demo.API.Scope
	deadline := time.Now().Add(5 * time.Second)
	for store.get(want) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if store.get(want) == nil {
		t.Fatalf("nothing stored under %q", want)
	}
	store.mu.Lock()
	for k := range store.m {
		if strings.Contains(k, assertion[:40]) || strings.Contains(k, strings.Split(assertion, ".")[1][:20]) {
			t.Errorf("store key %q holds the assertion", k)
		}
	}
	store.mu.Unlock()
	b := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Store = store })
	before := m.s.GrantCount(oboGrant)
	got, err := b.Token(t.Context(), assertion, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessToken != tok.AccessToken {
		t.Error("second credential: a different token, want the stored one")
	}
	if n := m.s.GrantCount(oboGrant) - before; n != 0 {
		t.Errorf("second credential: %d requests, want 0", n)
	}
}

// logBuffer is a slog handler's output, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Neither errors nor logs ever hold an assertion, a refresh token or the
// secret, whatever fails.
func TestOnBehalfOfNeverLeaks(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	assertion := m.assertionFor(t, m.demo.User.Username, nil)
	var logs logBuffer
	store := &memStore{}
	cred := m.oboCred(t, func(o *OnBehalfOfOptions) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o.Store = store
	})
	var errs []error
	for _, scope := range []string{m.demo.API.Scope, "https://graph.microsoft.com/Mail.Read", "api://nobody/.default"} {
		_, err := cred.Token(t.Context(), assertion, scope)
		errs = append(errs, err)
	}
	if errs[1] == nil {
		t.Fatal("OBO without consent: no error")
	}
	key, err := cred.StartSession(t.Context(), assertion, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.SessionToken(t.Context(), key, "User.Read")
	errs = append(errs, err)
	m.s.RevokeRefreshTokens(m.demo.User.Username)
	_, err = cred.SessionToken(t.Context(), key, "https://graph.microsoft.com/User.Read")
	errs = append(errs, err)
	_, err = cred.Token(t.Context(), assertion[:len(assertion)-5]+"xxxxx", "User.Read") // a forged signature: Entra refuses it
	errs = append(errs, err)
	secrets := []string{assertion, strings.Split(assertion, ".")[2][:24], strings.Split(assertion, ".")[1][:24], m.demo.OBOAPI.ClientSecret, key}
	store.mu.Lock()
	for _, v := range store.m {
		if i := bytes.Index(v, []byte(`"refresh_token":"`)); i >= 0 {
			rt := string(v[i+17:])
			secrets = append(secrets, rt[:min(24, strings.IndexByte(rt, '"'))])
		}
	}
	store.mu.Unlock()
	for _, err := range errs {
		if err == nil {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q holds a secret", err)
			}
		}
	}
	out := logs.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("logs hold a secret (%d bytes)", len(s))
		}
	}
	if !errors.Is(errs[len(errs)-2], ErrInteractionRequired) {
		t.Errorf("revoked session: got %v, want ErrInteractionRequired", errs[len(errs)-2])
	}
}

func TestOnBehalfOfConfig(t *testing.T) {
	t.Parallel()
	for name, auth := range map[string]ClientAuth{
		"none":  {},
		"blank": ClientSecret("  "),
		"key":   ClientCertificate(nil, "not a key"),
	} {
		_, err := NewOnBehalfOfCredential("6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b", "1b2c3d4e-0004-4000-8000-00000000b001", auth, nil)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}
