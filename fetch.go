package entra

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/oauth2"
)

// fetch gets a token for e and installs it. It runs inside the cache's
// singleflight, detached from the callers' cancellation (ctx supplies
// values only), bounded by the fetch timeout and by Close. blocking says
// whether callers wait (empty entry) or the entry still serves a token
// (background refresh). A plain fetch first looks at the entry (another
// fetch may have installed a token, or remembered a failure, since the
// caller looked) and at the Store; claims fetches always ask Entra. A
// failed plain fetch is remembered in the entry (backoff, Retry-After), as
// is a failed claims fetch that carries Entra's Retry-After.
func (c *cache) fetch(ctx context.Context, e *entry, claims string, blocking bool) (*snapshot, error) {
	e.fetching.Add(1)
	defer e.fetching.Add(-1)
	if claims == "" {
		// Another fetch ended between the caller's look and here: take its
		// token, or its remembered failure, rather than ask again.
		now := c.clock.Now()
		if s := e.cur.Load(); s != nil && (blocking || e.phase.Load() == phaseFresh) && s.usable(now.UnixNano()) {
			return s, nil
		}
		if l := c.live(e); l != nil {
			if err := l.remembered(now); err != nil {
				return nil, err
			}
		}
	}
	seq := c.seq.Add(1)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.fetchTimeout)
	defer cancel()
	defer context.AfterFunc(c.ctx, cancel)()
	if claims == "" {
		var newerThan time.Time // a background refresh takes only a newer token
		if s := e.cur.Load(); s != nil && !blocking {
			newerThan = s.token.Expiry
		}
		if r, ok := c.loadStored(fctx, e.set.key, newerThan, blocking); ok {
			s, _, err := c.install(e, seq, r, "", "store")
			return s, err
		}
	}
	start := c.clock.Now()
	r, err := c.fetchFn(fctx, e.set, claims)
	if err != nil {
		return nil, c.failed(e, err, blocking, claims != "")
	}
	s, installed, err := c.install(e, seq, r, claims, "entra")
	if err != nil {
		return nil, err
	}
	c.logger.Info("entra: token fetched", slog.String("scopes", e.set.logged()), slog.Bool("claims", claims != ""),
		slog.Time("expires_on", r.expiresOn), slog.Duration("took", c.clock.Now().Sub(start)))
	if installed && claims == "" { // the Store holds the entry's plain token, never an older one
		c.saveStored(ctx, e.set.key, r)
	}
	return s, nil
}

// install makes r the token of e's live entry unless a token from a newer
// fetch is installed already, and returns r's snapshot either way (the
// callers of this fetch get what they asked for), and whether it was
// installed. A token that is no
// longer usable when it arrives (the machine slept, or the clock jumped,
// during the request) is neither installed nor returned.
func (c *cache) install(e *entry, seq uint64, r tokenResult, claims, from string) (*snapshot, bool, error) {
	now := c.clock.Now()
	times := timesFor(now, r.expiresOn, r.refreshOn, c.jitter())
	s := &snapshot{
		token:       oauth2.Token{AccessToken: r.accessToken, TokenType: "Bearer", Expiry: r.expiresOn},
		refreshAt:   times.refreshAt.UnixNano(),
		usableUntil: times.usableUntil.UnixNano(),
	}
	if claims != "" {
		s.claims = &claims
	}
	if !s.usable(now.UnixNano()) {
		return nil, false, errStale
	}
	if e.set.account != "" {
		// A user's token: the sign-out check and the install are one step
		// (removeAccount holds c.mu too), so no token fetched before a
		// sign-out reaches an entry made after it.
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.signedOutSinceLocked(e.set.account, seq) {
			return nil, false, &Error{Op: "token", Code: "no_account", Description: "the account signed out while this token was being fetched",
				Hint: "sign the user in again", Err: ErrInteractionRequired}
		}
	}
	target := c.live(e)
	if target == nil {
		return s, false, nil
	}
	target.mu.Lock()
	installed := false
	if p := target.phase.Load(); seq > target.seq && p != phaseEvicted && p != phaseClosed {
		target.seq = seq
		target.cur.Store(s)
		target.forgetFailure(now.UnixNano())
		target.advance(now)
		installed = true
	}
	warn := installed && from == "entra" && c.inspect != nil && (target.rare == nil || !target.rare.warnedRoles)
	if warn {
		target.rareState().warnedRoles = true
	}
	target.mu.Unlock()
	if warn {
		if msg := c.inspect(e.set, r.accessToken); msg != "" {
			c.logger.Warn("entra: "+msg, slog.String("scopes", e.set.logged()))
		} else {
			target.mu.Lock()
			if r := target.rare; r != nil {
				r.warnedRoles = false // check the next token too
				target.tidy(c.clock.Now().UnixNano())
			}
			target.mu.Unlock()
		}
	}
	return s, installed, nil
}

// failed records a failed fetch in e's live entry: no new request to
// Entra until the backoff (or Entra's Retry-After, capped) has passed;
// blocking callers get the remembered error until then, and a valid token
// keeps being served. Claims fetches and fetches cancelled by Close are
// not remembered. It returns err as an *Error.
func (c *cache) failed(e *entry, err error, blocking, claims bool) error {
	var ee *Error
	if !errors.As(err, &ee) {
		ee = &Error{Op: "token", Code: "fetch_failed", Description: "the token fetch failed", Err: err}
	}
	if c.ctx.Err() != nil {
		return closedError()
	}
	if claims && ee.RetryAfter <= 0 {
		return ee
	}
	target := c.live(e)
	if target == nil {
		return ee
	}
	now := c.clock.Now()
	target.mu.Lock()
	rs := target.rareState()
	rs.failures++
	failures := rs.failures
	serving := target.cur.Load() != nil
	d := backoff(failures, blockingRetryBase, blockingRetryMax, c.jitter())
	if serving {
		d = backoff(failures, refreshRetryBase, refreshRetryMax, c.jitter())
	}
	if ee.RetryAfter > d {
		d = min(ee.RetryAfter, maxServerDelay)
	}
	rs.retryAt = now.UnixNano() + int64(d)
	rs.lastErr = ee
	target.advance(now)
	target.mu.Unlock()
	// Each caller gets its own copy, saying when entra asks again (not for
	// an error only a new sign-in cures); the entry keeps the original for
	// callers until then.
	cp := *ee
	if !errors.Is(ee, ErrInteractionRequired) {
		cp.RetryAfter = d
	}
	if serving {
		c.logger.Warn("entra: background token refresh failed; serving the current token until it expires",
			slog.String("scopes", e.set.logged()), slog.Int("failures", failures), slog.Duration("retry_in", d),
			slog.String("error", ee.Error()))
	} else {
		c.logger.Warn("entra: token fetch failed; later calls get this error until the retry time",
			slog.String("scopes", e.set.logged()), slog.Int("failures", failures), slog.Duration("retry_in", d),
			slog.String("error", ee.Error()))
	}
	return &cp
}

// Claims challenges. A resource answering 401 with a claims challenge
// wants a token carrying those claims. Amplification is bounded per entry:
// one fetch per (entry, claims) at a time (concurrent challenges share
// it); a request whose token already carried these claims gets no new
// fetch (the resource is not satisfied by such a token); at most one
// challenge-driven fetch per claimsInterval, and none while a failure is
// remembered (backoff or Retry-After).
const claimsInterval = 10 * time.Second

// Reasons a challenge is left unanswered; the Transport hands the 401 to
// the caller.
var (
	errClaimsUnsatisfied = errors.New("entra: the token sent already carried the challenge's claims")
	errClaimsRateLimited = errors.New("entra: a challenge-driven fetch for this token ran moments ago")
)

// claimsToken returns a token carrying claims for a request that was
// challenged after sending sent. ctx bounds the wait.
func (e *entry) claimsToken(ctx context.Context, sent *oauth2.Token, claims string) (*oauth2.Token, error) {
	return e.c.await(ctx, e.c.sf.DoChan(e.set.key+"\x00claims\x00"+claims, func() (any, error) {
		if s := e.cur.Load(); s != nil && s.claimsOf() == claims {
			if &s.token != sent {
				return s, nil // fetched since this request was sent
			}
			return nil, errClaimsUnsatisfied
		}
		if err := e.remembered(e.c.clock.Now()); err != nil {
			return nil, err // Entra asked us to wait (or is failing): no challenge-driven request either
		}
		now := e.c.clock.Now().UnixNano()
		e.mu.Lock()
		at := int64(0)
		if e.rare != nil {
			at = e.rare.claimsAt
		}
		recent := at != 0 && now-at < int64(claimsInterval)
		if !recent {
			e.rareState().claimsAt = now
		}
		e.mu.Unlock()
		if recent {
			return nil, errClaimsRateLimited
		}
		return e.c.fetch(ctx, e, claims, true)
	}))
}
