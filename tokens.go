package entra

import (
	"context"
	"sync/atomic"

	"golang.org/x/oauth2"
)

// entryFor returns the hot cell of the cache entry for scopes, validating
// them first. A single scope already in normal form is found without
// allocating.
func (c *Credential) entryFor(scopes []string) (*hotCell, error) {
	if len(scopes) == 1 {
		if h := c.cache.lookupHot(scopes[0]); h != nil {
			return h, nil
		}
	}
	set, err := appScopes(c.s.cloud, scopes)
	if err != nil {
		return nil, err
	}
	return c.cache.entry(set).hot, nil
}

// Token returns a valid access token for scopes (exactly one
// "<resource>/.default" scope for app-only tokens). Scopes are validated
// before any network call.
//
// ctx bounds only how long this call waits: if ctx ends first, Token
// returns an error for which errors.Is(err, context.Canceled) (or
// DeadlineExceeded) holds, while the fetch itself goes on, bounded by
// Options.FetchTimeout, and fills the cache for later callers. ctx values
// reach the fetch. After a failed fetch, calls within the retry time get
// the same error at once (its RetryAfter says when entra asks Entra
// again), so an outage or a throttled client does not turn every call
// into a request. The returned token is shared: do not modify it. Safe for
// concurrent use.
func (c *Credential) Token(ctx context.Context, scopes ...string) (*oauth2.Token, error) {
	h, err := c.entryFor(scopes)
	if err != nil {
		return nil, err
	}
	if t := h.token.Load(); t != nil {
		h.touch()
		return t, nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	t, _, err := h.e.slow(ctx)
	return t, err
}

// TokenSource returns an oauth2.TokenSource for scopes, bound to its cache
// entry: at steady state its Token is two atomic loads, with no lock, map
// lookup, clock read or allocation. Inside the refresh window it returns
// the current token at once while one background refresh runs; only an
// empty or expired entry makes it wait. If the entry is evicted (see
// Options.MaxCacheEntries), the TokenSource moves to the live entry for
// its scopes, so there is never more than one entry, one schedule and one
// fetch per scope set.
//
// oauth2.TokenSource.Token takes no ctx, so ctx here supplies values only
// (context.WithoutCancel): cancelling it has no effect, and each fetch is
// bounded by Options.FetchTimeout instead. Invalid scopes are reported by
// every call of Token, as an *Error. The returned tokens are shared: do not
// modify them. Safe for concurrent use.
func (c *Credential) TokenSource(ctx context.Context, scopes ...string) oauth2.TokenSource {
	set, err := appScopes(c.s.cloud, scopes)
	return c.source(ctx, set, err)
}

// source returns the TokenSource of a validated scope set, or one that
// reports err.
func (c *Credential) source(ctx context.Context, set scopeSet, err error) *tokenSource {
	return newSource(c.cache, ctx, set, err)
}

// newSource returns the TokenSource of set's entry in c, or one that
// reports err.
func newSource(c *cache, ctx context.Context, set scopeSet, err error) *tokenSource {
	if err != nil {
		return &tokenSource{err: err}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ts := &tokenSource{ctx: context.WithoutCancel(ctx)}
	ts.h.Store(c.entry(set).hot)
	return ts
}

// tokenSource is the oauth2.TokenSource of one cache entry.
type tokenSource struct {
	h   atomic.Pointer[hotCell] // of its entry; moves to the live entry after an eviction
	ctx context.Context         // values only
	err error                   // invalid scopes
}

// entry returns the entry the source stands for now, or nil for invalid
// scopes.
func (ts *tokenSource) entry() *entry {
	if h := ts.h.Load(); h != nil {
		return h.e
	}
	return nil
}

// Token returns the entry's token; see Credential.TokenSource.
func (ts *tokenSource) Token() (*oauth2.Token, error) {
	h := ts.h.Load()
	if h == nil {
		return nil, ts.err
	}
	if t := h.token.Load(); t != nil {
		h.touch()
		return t, nil
	}
	return ts.slow(ts.ctx, h.e)
}

// tokenCtx is Token with ctx bounding the wait (ctx's values are used, the
// source's are not): Credential.Client uses the request's context.
func (ts *tokenSource) tokenCtx(ctx context.Context) (*oauth2.Token, error) {
	h := ts.h.Load()
	if h == nil {
		return nil, ts.err
	}
	if t := h.token.Load(); t != nil {
		h.touch()
		return t, nil
	}
	return ts.slow(ctx, h.e)
}

func (ts *tokenSource) slow(ctx context.Context, e *entry) (*oauth2.Token, error) {
	t, live, err := e.slow(ctx)
	if live != e {
		ts.h.CompareAndSwap(e.hot, live.hot)
	}
	return t, err
}
