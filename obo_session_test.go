package entra

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// forged returns an unsigned JWT with header and claims: the guard reads,
// and does not verify, assertions.
func forged(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + ".c2ln"
}

// Assertions that cannot succeed fail at once, with ErrBadAssertion and a
// hint naming this API's scope, and no request to Entra.
func TestOnBehalfOfGuard(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	fc := newFakeClock(time.Now())
	cred := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Clock = fc })
	good := m.assertionFor(t, m.demo.User.Username, nil)
	graph, err := cred.Token(t.Context(), good, "User.Read") // a real Graph token
	if err != nil {
		t.Fatal(err)
	}
	apiTok, err := cred.Token(t.Context(), good, m.demo.API.Scope) // a real token for another API
	if err != nil {
		t.Fatal(err)
	}
	base := claims(t, good)
	edit := func(kv ...any) map[string]any {
		c := map[string]any{}
		for k, v := range base {
			c[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	rs := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k"}
	const other = "0f0f0f0f-0000-4000-8000-000000000000"
	tests := []struct {
		name, assertion, code string
	}{
		{"Graph token", graph.AccessToken, "assertion_for_graph"},
		{"Graph token, header nonce", forged(map[string]any{"alg": "RS256", "nonce": "abc"}, edit()), "assertion_for_graph"},
		{"Graph app ID audience", forged(rs, edit("aud", graphAppID)), "assertion_for_graph"},
		{"token for another API", apiTok.AccessToken, "assertion_wrong_audience"},
		{"id_token", forged(rs, edit("azp", nil, "appid", nil, "scp", nil, "nonce", "n")), "assertion_is_id_token"},
		{"another tenant", forged(rs, edit("tid", other, "iss", "https://login.microsoftonline.com/"+other+"/v2.0")), "assertion_other_tenant"},
		{"another cloud", forged(rs, edit("iss", China.IssuerV2(m.demo.TenantID))), "assertion_other_cloud"},
		{"app-only token", forged(rs, edit("scp", nil, "roles", []string{"x"}, "idtyp", "app")), "assertion_app_only"},
		{"expired", forged(rs, edit("exp", fc.Now().Add(-6*time.Minute).Unix())), "assertion_expired"},
		{"not a JWT", "abc.def", "assertion_not_jwt"},
		{"Bearer prefix", "Bearer " + good, "assertion_not_jwt"},
		{"oversized", strings.Repeat("a", 40<<10), "assertion_not_jwt"},
	}
	before := m.s.Count(entratest.EndpointToken)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, call := range []func() error{
				func() error { _, err := cred.Token(t.Context(), tt.assertion, m.demo.API.Scope); return err },
				func() error {
					_, err := cred.TokenSource(t.Context(), tt.assertion, m.demo.API.Scope).Token()
					return err
				},
				func() error { _, err := cred.StartSession(t.Context(), tt.assertion, m.demo.API.Scope); return err },
			} {
				err := call()
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrBadAssertion) || e.Code != tt.code {
					t.Fatalf("got %v, want %s (ErrBadAssertion)", err, tt.code)
				}
				if tt.code != "assertion_other_tenant" && tt.code != "assertion_app_only" && tt.code != "assertion_not_jwt" &&
					!strings.Contains(e.Hint, "api://"+m.demo.OBOAPI.ClientID+"/") {
					t.Errorf("hint %q does not name this API's scope", e.Hint)
				}
			}
		})
	}
	if got := m.s.Count(entratest.EndpointToken) - before; got != 0 {
		t.Errorf("requests to Entra for refused assertions: %d, want 0", got)
	}
	// A custom App ID URI is accepted when configured.
	custom := forged(rs, edit("aud", "https://contoso.com/orders"))
	if _, err := cred.Token(t.Context(), custom, m.demo.API.Scope); !errors.Is(err, ErrBadAssertion) {
		t.Errorf("custom App ID URI without AppIDURIs: got %v, want ErrBadAssertion", err)
	}
	withURI := m.oboCred(t, func(o *OnBehalfOfOptions) { o.AppIDURIs = []string{"https://contoso.com/orders/"} })
	if err := withURI.checkAssertion(custom, time.Now()); err != nil {
		t.Errorf("custom App ID URI with AppIDURIs: %v", err)
	}
}

// A session outlives the user's token: many refreshes with strict
// rotation, each redeeming the newest refresh token; EndSession ends it.
func TestOnBehalfOfSessionRotation(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{StrictRefreshTokens: true, TokenLifetime: time.Hour})
	fc := newFakeClock(time.Now())
	cred := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Clock = fc })
	key, err := cred.StartSession(t.Context(), m.assertionFor(t, m.demo.User.Username, nil), m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) < 40 || strings.Contains(key, ".") {
		t.Errorf("session key %q: want an opaque random string", key)
	}
	first, err := cred.SessionToken(t.Context(), key, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	before := m.s.GrantCount("refresh_token")
	last := first
	for i := range 12 {
		fc.Advance(2 * time.Hour) // the user's token and the last one expired long ago
		tok, err := cred.SessionToken(t.Context(), key, m.demo.API.Scope)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if tok.AccessToken == last.AccessToken {
			t.Fatalf("refresh %d: the expired token again", i)
		}
		if c := claims(t, tok.AccessToken); c["oid"] != m.demo.User.ObjectID || c["aud"] != m.demo.API.ClientID {
			t.Fatalf("refresh %d: oid %v aud %v", i, c["oid"], c["aud"])
		}
		last = tok
	}
	if _, err := cred.SessionToken(t.Context(), key, "User.Read"); err != nil { // another API from the same session
		t.Fatal(err)
	}
	if got := m.s.GrantCount("refresh_token") - before; got != 13 {
		t.Errorf("refresh requests: got %d, want 13", got)
	}
	if err := cred.EndSession(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	before = m.s.Count(entratest.EndpointToken)
	for _, scope := range []string{m.demo.API.Scope, "User.Read"} {
		if _, err := cred.SessionToken(t.Context(), key, scope); !errors.Is(err, ErrInteractionRequired) {
			t.Errorf("%s after EndSession: got %v, want ErrInteractionRequired", scope, err)
		}
	}
	if got := m.s.Count(entratest.EndpointToken) - before; got != 0 {
		t.Errorf("requests after EndSession: %d", got)
	}
}

// An idle session ends; a revoked refresh token ends the session once,
// with no retry loop.
func TestOnBehalfOfSessionIdleAndRevoked(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{TokenLifetime: time.Hour})
	fc := newFakeClock(time.Now())
	cred := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Clock = fc; o.SessionIdleTimeout = 3 * time.Hour })
	assertion := m.assertionFor(t, m.demo.User.Username, nil)
	idle, err := cred.StartSession(t.Context(), assertion, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	fc.Advance(4 * time.Hour)
	if _, err := cred.SessionToken(t.Context(), idle, m.demo.API.Scope); !errors.Is(err, ErrInteractionRequired) {
		t.Errorf("idle session: got %v, want ErrInteractionRequired", err)
	}
	fc = newFakeClock(time.Now())
	cred = m.oboCred(t, func(o *OnBehalfOfOptions) { o.Clock = fc })
	revoked, err := cred.StartSession(t.Context(), m.assertionFor(t, m.demo.User.Username, nil), m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	m.s.RevokeRefreshTokens(m.demo.User.Username)
	fc.Advance(2 * time.Hour)
	before := m.s.Count(entratest.EndpointToken)
	for range 3 {
		if _, err := cred.SessionToken(t.Context(), revoked, m.demo.API.Scope); !errors.Is(err, ErrInteractionRequired) {
			t.Fatalf("revoked session: got %v, want ErrInteractionRequired", err)
		}
	}
	if got := m.s.Count(entratest.EndpointToken) - before; got != 1 {
		t.Errorf("requests for a revoked session over 3 calls: %d, want 1", got)
	}
}

// Two credentials sharing a Store share sessions: each redeems the newest
// refresh token, whichever rotated it last.
func TestOnBehalfOfSessionStore(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{StrictRefreshTokens: true, TokenLifetime: time.Hour})
	fc := newFakeClock(time.Now())
	store := &memStore{}
	a := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Clock = fc; o.Store = store })
	b := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Clock = fc; o.Store = store })
	key, err := a.StartSession(t.Context(), m.assertionFor(t, m.demo.User.Username, nil), m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	for k := range store.m {
		if strings.Contains(k, key) {
			t.Errorf("store key %q holds the session key", k)
		}
	}
	store.mu.Unlock()
	for i := range 6 {
		fc.Advance(2 * time.Hour)
		for name, cred := range map[string]*OnBehalfOfCredential{"a": a, "b": b} {
			if _, err := cred.SessionToken(t.Context(), key, m.demo.API.Scope); err != nil {
				t.Fatalf("round %d, credential %s: %v", i, name, err)
			}
		}
	}
	if err := b.EndSession(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	fc.Advance(2 * time.Hour)
	if _, err := a.SessionToken(t.Context(), key, m.demo.API.Scope); !errors.Is(err, ErrInteractionRequired) {
		t.Errorf("after EndSession elsewhere: got %v, want ErrInteractionRequired", err)
	}
}

// A Store that loses a session (an outage, a flush) does not end it: the
// instance holding it goes on with its own refresh token; only an
// EndSession (a tombstone) ends it everywhere.
func TestOnBehalfOfSessionSurvivesALostStore(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{StrictRefreshTokens: true, TokenLifetime: time.Hour})
	fc := newFakeClock(time.Now())
	store := &memStore{}
	a := m.oboCred(t, func(o *OnBehalfOfOptions) { o.Clock = fc; o.Store = store })
	key, err := a.StartSession(t.Context(), m.assertionFor(t, m.demo.User.Username, nil), m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	for i, lose := range []func(){
		func() { store.mu.Lock(); store.m = nil; store.mu.Unlock() },                         // flushed
		func() { store.mu.Lock(); store.fail = errors.New("store down"); store.mu.Unlock() }, // down
	} {
		lose()
		fc.Advance(2 * time.Hour)
		if _, err := a.SessionToken(t.Context(), key, m.demo.API.Scope); err != nil {
			t.Fatalf("case %d: the session ended with the Store's loss: %v", i, err)
		}
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	if err := a.EndSession(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	fc.Advance(2 * time.Hour)
	if _, err := a.SessionToken(t.Context(), key, m.demo.API.Scope); !errors.Is(err, ErrInteractionRequired) {
		t.Errorf("after EndSession: got %v, want ErrInteractionRequired", err)
	}
}
