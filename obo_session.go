package entra

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// Long-running on-behalf-of sessions, for work that goes on after the
// user's token to this API has expired (Microsoft.Identity.Web's
// long-running web API sessions). StartSession exchanges the user's token
// once, with offline_access, and keeps the refresh token Entra returns;
// SessionToken then gets tokens with the session key alone. Every
// redemption returns a new refresh token, which replaces the old one in
// memory and in the Store (the newest always wins; redemptions of one
// session are serialised). A session ends with EndSession, after
// SessionIdleTimeout without use, or when Entra refuses its refresh token
// (revoked, expired, password changed): then errors.Is(err,
// ErrInteractionRequired) holds and the user must call the API again so a
// new session can start. There is no retry loop.

// session is one long-running session in memory.
type session struct {
	turn chan struct{} // capacity 1: whose turn it is to redeem the refresh token

	// guarded by OnBehalfOfCredential.sessionsMu
	rt       string
	lastUsed time.Time
}

// storedSession is the JSON a session is persisted as. It holds a refresh
// token: a Store must protect it as it protects access tokens.
type storedSession struct {
	RefreshToken string    `json:"refresh_token,omitempty"`
	LastUsed     time.Time `json:"last_used"`
	// Ended marks a session ended by EndSession (a tombstone): a Store
	// that misses a session (an outage, a flush) does not end it, only
	// this does.
	Ended bool `json:"ended,omitempty"`
}

// errSessionEnded reports a session tombstone in the Store.
var errSessionEnded = errors.New("entra: the session was ended")

// noSession is the error for an unknown, ended or idle session.
func noSession(why string) *Error {
	return &Error{Op: "token", Code: "no_session", Description: why,
		Hint: "start a new session (StartSession) the next time the user calls this API with a fresh token", Err: ErrInteractionRequired}
}

// StartSession starts a long-running session for the user of
// userAssertion and the downstream scopes: one on-behalf-of request with
// offline_access. It returns the session key: random and opaque, holding
// no token, safe to keep in a job queue or a database; only this app's
// credential (and its Store) can use it. The session's first token is
// cached. ctx bounds the request. The assertion is refused before any
// request as Token refuses it. Safe for concurrent use.
func (c *OnBehalfOfCredential) StartSession(ctx context.Context, userAssertion string, scopes ...string) (string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if c.cache.ctx.Err() != nil {
		return "", closedError()
	}
	set, err := userScopes(c.s.cloud, "", scopes)
	if err != nil {
		return "", err
	}
	if err := c.checkAssertion(userAssertion, c.s.clock.Now()); err != nil {
		return "", err
	}
	rec := &assertionRecord{}
	fctx, cancel := context.WithTimeout(context.WithValue(ctx, assertionRecordKey{}, rec), c.s.fetchTimeout)
	defer cancel()
	r, err := c.app.StartSession(fctx, userAssertion, set.scopes)
	if err != nil {
		return "", c.flowError(rec, err, userAssertion)
	}
	if r.RefreshToken == "" {
		return "", &Error{Op: "token", Code: "no_refresh_token", Description: "Entra returned no refresh token for the session",
			Hint: "the app registration must allow offline_access (it is requested by StartSession)"}
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	key := base64.RawURLEncoding.EncodeToString(raw[:])
	acct := c.account('s', key)
	now := c.s.clock.Now()
	s := &session{turn: make(chan struct{}, 1), rt: r.RefreshToken, lastUsed: now}
	c.sessionsMu.Lock()
	c.purgeSessionsLocked(now)
	c.sessions[string(acct[:])] = s
	c.sessionsMu.Unlock()
	sctx := context.WithValue(ctx, sessionCtxKey{}, key)
	c.saveSession(sctx, key, storedSession{RefreshToken: r.RefreshToken, LastUsed: now})
	set, _ = userScopes(c.s.cloud, string(acct[:]), scopes)
	tr := onClock(c.s.clock, r.Result)
	if _, installed, err := c.cache.install(c.cache.entry(set), c.cache.seq.Add(1), tr, "", "entra"); err == nil && installed {
		c.cache.saveStored(sctx, set.key, tr)
	}
	if c.cache.ctx.Err() != nil {
		return "", closedError()
	}
	return key, nil
}

// SessionToken returns a valid access token for the downstream scopes in
// the session of sessionKey, from the cache or by redeeming the session's
// refresh token; the user's own token is not needed. ctx bounds only the
// wait, as for Credential.Token. For an unknown, ended or idle session, or
// a refresh token Entra refused, errors.Is(err, ErrInteractionRequired)
// holds. Safe for concurrent use.
func (c *OnBehalfOfCredential) SessionToken(ctx context.Context, sessionKey string, scopes ...string) (*oauth2.Token, error) {
	acct := c.account('s', sessionKey)
	if len(scopes) == 1 && sessionKey != "" {
		if h := c.lookupHot(acct, scopes[0]); h != nil {
			if t := h.token.Load(); t != nil {
				h.touch()
				return t, nil
			}
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	sctx, set, err := c.sessionSet(ctx, acct, sessionKey, scopes)
	if err != nil {
		return nil, err
	}
	t, _, err := c.cache.entry(set).slow(sctx)
	return t, err
}

// SessionTokenSource returns an oauth2.TokenSource for the downstream
// scopes in the session of sessionKey, bound to their cache entry, with
// the hot path of Credential.TokenSource. ctx supplies values only. An
// unknown or ended session is reported by every call of Token (its
// entry's token, while valid, is still served after the session ended
// through another credential sharing the Store). Safe for concurrent use.
func (c *OnBehalfOfCredential) SessionTokenSource(ctx context.Context, sessionKey string, scopes ...string) oauth2.TokenSource {
	if ctx == nil {
		ctx = context.Background()
	}
	sctx, set, err := c.sessionSet(ctx, c.account('s', sessionKey), sessionKey, scopes)
	return newSource(c.cache, sctx, set, err)
}

// sessionSet validates the scopes, finds the session (in memory or the
// Store), records the use and returns the entry's key and a ctx carrying
// the session key for its fetches.
func (c *OnBehalfOfCredential) sessionSet(ctx context.Context, acct [accountLen]byte, key string, scopes []string) (context.Context, scopeSet, error) {
	set, err := userScopes(c.s.cloud, string(acct[:]), scopes)
	if err != nil {
		return nil, scopeSet{}, err
	}
	if c.cache.ctx.Err() != nil {
		return nil, scopeSet{}, closedError()
	}
	sctx := context.WithValue(ctx, sessionCtxKey{}, key)
	if _, err := c.session(sctx, key, acct, true); err != nil {
		return nil, scopeSet{}, err
	}
	return sctx, set, nil
}

// session returns the live session of key: from memory, or else from the
// Store. A session idle for SessionIdleTimeout is ended. With touch, the
// use is recorded.
func (c *OnBehalfOfCredential) session(ctx context.Context, key string, acct [accountLen]byte, touch bool) (*session, error) {
	if key == "" {
		return nil, noSession("no session key given")
	}
	now := c.s.clock.Now()
	c.sessionsMu.Lock()
	s := c.sessions[string(acct[:])]
	if s != nil && now.Sub(s.lastUsed) >= c.sessionIdle {
		delete(c.sessions, string(acct[:]))
		c.sessionsMu.Unlock()
		c.deleteSession(ctx, key)
		return nil, noSession("the session ended: it was idle for longer than SessionIdleTimeout")
	}
	if s != nil && touch {
		s.lastUsed = now
	}
	c.sessionsMu.Unlock()
	if s != nil {
		return s, nil
	}
	st, err := c.loadSession(ctx, key)
	if err != nil {
		return nil, noSession("no such session: it ended, was idle too long, or was started by a credential without a shared Store")
	}
	if now.Sub(st.LastUsed) >= c.sessionIdle {
		c.deleteSession(ctx, key)
		return nil, noSession("the session ended: it was idle for longer than SessionIdleTimeout")
	}
	c.sessionsMu.Lock()
	defer c.sessionsMu.Unlock()
	if s = c.sessions[string(acct[:])]; s == nil { // another caller may have loaded it meanwhile
		s = &session{turn: make(chan struct{}, 1), rt: st.RefreshToken, lastUsed: now}
		c.purgeSessionsLocked(now)
		c.sessions[string(acct[:])] = s
	}
	return s, nil
}

// sessionFetch is the fetch of a session entry: it redeems the session's
// refresh token, in the session's turn, and keeps the new one.
func (c *OnBehalfOfCredential) sessionFetch(ctx context.Context, set scopeSet) (tokenResult, error) {
	key, _ := ctx.Value(sessionCtxKey{}).(string)
	acct := c.account('s', key)
	if key == "" || string(acct[:]) != set.account {
		return tokenResult{}, noSession("the session key of this entry is not at hand")
	}
	s, err := c.session(ctx, key, acct, false)
	if err != nil {
		return tokenResult{}, err
	}
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return tokenResult{}, ctxError(ctx.Err())
	}
	c.sessionsMu.Lock()
	rt := s.rt
	c.sessionsMu.Unlock()
	end := func() {
		c.sessionsMu.Lock()
		if c.sessions[set.account] == s {
			delete(c.sessions, set.account)
		}
		c.sessionsMu.Unlock()
	}
	if c.s.store != nil {
		// Another instance sharing the Store may have rotated the refresh
		// token (take the newest) or ended the session.
		// A miss (an outage, a flush) keeps the session going on the
		// refresh token held here.
		st, err := c.loadSession(ctx, key)
		switch {
		case errors.Is(err, errSessionEnded):
			end()
			return tokenResult{}, noSession("the session ended (EndSession) in another instance sharing the Store")
		case err == nil:
			rt = st.RefreshToken
		}
	}
	r, err := c.redeem(ctx, rt, set.scopes)
	if errors.Is(err, ErrInteractionRequired) {
		end()
		c.deleteSession(ctx, key)
		c.s.logger.Warn("entra: on-behalf-of session ended: Entra refused its refresh token", slog.String("scopes", set.logged()))
	}
	if err != nil {
		return tokenResult{}, err
	}
	now := c.s.clock.Now()
	if r.RefreshToken != "" {
		rt = r.RefreshToken
	}
	c.sessionsMu.Lock()
	s.rt, s.lastUsed = rt, now
	c.sessionsMu.Unlock()
	c.saveSession(ctx, key, storedSession{RefreshToken: rt, LastUsed: now})
	return onClock(c.s.clock, r.Result), nil
}

// redeem redeems a refresh token; errors are *Error, classified as user
// errors (invalid_grant: ErrInteractionRequired).
func (c *OnBehalfOfCredential) redeem(ctx context.Context, rt string, scopes []string) (flows.SessionResult, error) {
	rec := &assertionRecord{}
	r, err := c.app.RefreshSession(context.WithValue(ctx, assertionRecordKey{}, rec), rt, scopes)
	if err != nil {
		return flows.SessionResult{}, classifyUserError(c.flowError(rec, err, rt))
	}
	return r, nil
}

// EndSession ends the session of sessionKey: its refresh token is
// forgotten (in memory and in the Store) and its cached tokens dropped.
// It waits for a redemption in flight, bounded by ctx. Ending an unknown
// session is not an error; a Store that fails the deletion is (Code
// "store_delete_failed": call it again). Safe for concurrent use.
func (c *OnBehalfOfCredential) EndSession(ctx context.Context, sessionKey string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	acct := c.account('s', sessionKey)
	c.sessionsMu.Lock()
	s := c.sessions[string(acct[:])]
	delete(c.sessions, string(acct[:]))
	c.sessionsMu.Unlock()
	if s != nil {
		select {
		case s.turn <- struct{}{}: // after any redemption in flight
			<-s.turn
		case <-ctx.Done():
			return ctxError(ctx.Err())
		}
	}
	c.cache.removeAccount(string(acct[:]))
	if err := c.deleteSession(context.WithValue(ctx, sessionCtxKey{}, sessionKey), sessionKey); err != nil && !errors.Is(err, ErrNotFound) {
		return &Error{Op: "session", Code: "store_delete_failed",
			Description: "the session ended here, but deleting its refresh token from the Store failed: " + oneLine(err.Error(), 200),
			Hint:        "call EndSession again when the Store is reachable, or other instances can still use the session", Err: err}
	}
	return nil
}

// purgeSessionsLocked drops idle sessions from memory (their Store copies
// expire by TTL) and, when MaxCacheEntries sessions are held, the least
// recently used one. sessionsMu held.
func (c *OnBehalfOfCredential) purgeSessionsLocked(now time.Time) {
	if len(c.sessions) < c.s.maxEntries {
		return
	}
	var lru string
	var lruAt time.Time
	for k, s := range c.sessions {
		if now.Sub(s.lastUsed) >= c.sessionIdle {
			delete(c.sessions, k)
			continue
		}
		if lru == "" || s.lastUsed.Before(lruAt) {
			lru, lruAt = k, s.lastUsed
		}
	}
	if len(c.sessions) >= c.s.maxEntries && lru != "" {
		delete(c.sessions, lru)
		c.s.logger.Warn("entra: on-behalf-of session dropped from memory: MaxCacheEntries sessions held")
	}
}

// loadSession reads a session from the Store: an error wrapping
// ErrNotFound when the Store holds none (or an unusable value), another
// error when the Store failed or there is none.
func (c *OnBehalfOfCredential) loadSession(ctx context.Context, key string) (storedSession, error) {
	var b []byte
	err := c.storeSync(ctx, "load", func(ctx context.Context) error {
		var err error
		b, err = c.s.store.Load(ctx, c.sessionStoreKey(key))
		return err
	})
	if err != nil {
		return storedSession{}, err
	}
	var st storedSession
	if json.Unmarshal(b, &st) == nil && st.Ended {
		return storedSession{}, errSessionEnded
	}
	if json.Unmarshal(b, &st) != nil || st.RefreshToken == "" || !entrahttp.IsB64Token(st.RefreshToken) {
		c.s.logger.Warn("entra: stored on-behalf-of session is unusable")
		return storedSession{}, ErrNotFound
	}
	return st, nil
}

// saveSession writes a session to the Store, waiting for the write (so
// the newest refresh token is the one stored), bounded by StoreTimeout.
func (c *OnBehalfOfCredential) saveSession(ctx context.Context, key string, st storedSession) {
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	_ = c.storeSync(ctx, "save", func(ctx context.Context) error {
		return c.s.store.Save(ctx, c.sessionStoreKey(key), b, c.sessionIdle)
	})
}

// deleteSession replaces a session in the Store by a tombstone (kept as
// long as the session could have lived), so instances holding it in
// memory end it too.
func (c *OnBehalfOfCredential) deleteSession(ctx context.Context, key string) error {
	b, err := json.Marshal(storedSession{LastUsed: c.s.clock.Now(), Ended: true})
	if err != nil {
		return err
	}
	return c.storeSync(ctx, "end", func(ctx context.Context) error {
		return c.s.store.Save(ctx, c.sessionStoreKey(key), b, c.sessionIdle)
	})
}

// storeSync runs f through the cache's bounded Store calls and waits for
// it at most StoreTimeout. Failures other than ErrNotFound are logged.
func (c *OnBehalfOfCredential) storeSync(ctx context.Context, op string, f func(context.Context) error) error {
	if c.s.store == nil {
		return ErrNotFound
	}
	err := c.cache.storeWait(ctx, op, "session", f)
	if err != nil && !errors.Is(err, ErrNotFound) {
		c.s.logger.Warn("entra: store "+op+" of an on-behalf-of session failed", slog.String("error", err.Error()))
	}
	return err
}
