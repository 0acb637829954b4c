// Package jwks verifies the signatures of tokens issued by an OpenID
// provider (Microsoft Entra ID) against its published key set.
//
// A Set discovers jwks_uri from the provider's metadata document on first
// use, keeps the keys in memory, refreshes them periodically in the
// background and refetches them when a token names an unknown kid, at most
// once per UnknownKeyInterval. A request never waits on that limit: inside
// the window an unknown kid fails at once. Concurrent loads share one fetch,
// each waiter on its own ctx; a failed refresh keeps the last good keys.
//
// Signatures are verified by github.com/go-jose/go-jose/v4; this package
// adds what Entra needs around it: the RS256-only allow-list checked before
// any key lookup, size caps before decoding, the per-key "issuer" of Entra's
// key sets with its "{tenantid}" template, and the fetch policy.
package jwks

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/entrakit/entra/internal/entrahttp"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// Defaults and fixed bounds.
const (
	DefaultRefreshInterval    = 24 * time.Hour
	DefaultUnknownKeyInterval = 5 * time.Minute
	// fetchTimeout bounds one shared fetch (metadata and key set).
	fetchTimeout = 30 * time.Second
	// maxBody caps each response body read.
	maxBody = 1 << 20
	// retryAfterFailure is how long after a failed load (no keys held) or a
	// failed periodic refresh the next load or refresh may start.
	retryAfterFailure = 5 * time.Second
	// tenantTemplate is the placeholder Entra's multi-tenant issuers carry.
	tenantTemplate = "{tenantid}"
)

// Options configures a Set. The zero value works.
type Options struct {
	// HTTPClient supplies the transport (TLS trust, proxy); nil means
	// http.DefaultTransport. Redirects are never followed, bodies are capped
	// at 1 MiB, and requests go only to the metadata URL's host.
	HTTPClient *http.Client
	// Logger receives fetch events (never a token); nil discards.
	Logger *slog.Logger
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// RefreshInterval is the age after which the keys are refreshed in the
	// background (the stale keys keep serving meanwhile); default 24h.
	RefreshInterval time.Duration
	// UnknownKeyInterval is the least time between two refetches triggered
	// by unknown kids; default 5m.
	UnknownKeyInterval time.Duration
}

// Set is the key set of one OpenID provider. It is safe for concurrent use.
type Set struct {
	metadataURL string
	shownURL    string
	client      *entrahttp.Client
	log         *slog.Logger
	now         func() time.Time
	refresh     time.Duration
	unknownGap  time.Duration

	state       atomic.Pointer[keySet]
	group       singleflight.Group
	lastUnknown atomic.Int64 // unix ns of the last unknown-kid refetch; 0 = never
	retryAt     atomic.Int64 // unix ns before which no load/refresh starts after a failure
	refreshing  atomic.Bool  // a background refresh is running
}

// New returns the key set of an OpenID provider, discovered lazily from
// metadataURL (e.g. "https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration"):
// jwks_uri is read from it. Nothing is fetched until the first Verify.
func New(metadataURL string, opts Options) *Set {
	s := &Set{
		metadataURL: metadataURL,
		shownURL:    cleanURLString(metadataURL),
		log:         opts.Logger,
		now:         opts.Clock,
		refresh:     opts.RefreshInterval,
		unknownGap:  opts.UnknownKeyInterval,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.refresh <= 0 {
		s.refresh = DefaultRefreshInterval
	}
	if s.unknownGap <= 0 {
		s.unknownGap = DefaultUnknownKeyInterval
	}
	var trusted []string
	if u, err := url.Parse(metadataURL); err == nil && u.Host != "" {
		trusted = []string{u.Host}
	}
	s.client = entrahttp.New(entrahttp.Options{
		Base: opts.HTTPClient, MaxBody: maxBody, MaxAttempts: 2, MaxElapsed: fetchTimeout,
		Logger: s.log, TrustedHosts: trusted,
	})
	return s
}

// Verified is a token whose signature verified.
type Verified struct {
	KeyID   string // the kid of the key that verified it
	Header  Header
	Payload []byte // the verified JSON claims
}

// Verify checks the compact JWS raw: alg must be RS256 (none, HS* and
// everything else are rejected before any key lookup), the header must name
// a kid, the key with that kid verifies the signature, and, when the key
// carries an issuer (Entra's do; "{tenantid}" is replaced by the token's
// tid), that issuer must equal the token's iss or, for a v1 token (ver
// "1.0", whose v1 issuer v2 keys never name), the metadata's issuer for its
// tid; tid must appear inside iss.
//
// Claims other than iss and tid (aud, exp, nbf, ...) are the caller's to
// check. ctx bounds the wait for a key-set fetch; a fetch shared with other
// callers is not cancelled by it. Errors wrap one of the package's sentinel
// errors and never contain the token. Safe for concurrent use.
func (s *Set) Verify(ctx context.Context, raw string) (*Verified, error) {
	parts, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	h := parts.Header
	if h.Alg != "RS256" {
		return nil, fmt.Errorf("%w: alg %q", ErrAlgorithm, shorten(h.Alg))
	}
	if h.KeyID == "" {
		return nil, fmt.Errorf("%w: header has no kid", ErrMalformed)
	}
	ks, err := s.current(ctx)
	if err != nil {
		return nil, err
	}
	k := ks.keys[h.KeyID]
	if k == nil {
		if k, err = s.unknownKey(ctx, h.KeyID); err != nil {
			return nil, err
		}
		ks = s.state.Load()
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("%w: not a JWS", ErrMalformed)
	}
	payload, err := jws.Verify(k.pub)
	if err != nil {
		return nil, fmt.Errorf("%w: kid %q", ErrSignature, shorten(h.KeyID))
	}
	if err := checkKeyIssuer(k.issuer, ks.metaIssuer, payload); err != nil {
		return nil, err
	}
	return &Verified{KeyID: h.KeyID, Header: h, Payload: payload}, nil
}

// HasKey reports whether the currently held key set has kid. It never
// fetches. Safe for concurrent use.
func (s *Set) HasKey(kid string) bool {
	ks := s.state.Load()
	return ks != nil && ks.keys[kid] != nil
}

// current returns the held keys, loading them on first use (shared with
// concurrent callers) and starting a background refresh when they are old.
func (s *Set) current(ctx context.Context) (*keySet, error) {
	ks := s.state.Load()
	now := s.now().UnixNano()
	if ks != nil {
		// A wall clock that stepped back (now before the fetch) counts as
		// due, so a backward step never freezes the keys for hours.
		age := now - ks.fetchedAt
		if (age >= int64(s.refresh) || age < 0) && !s.waiting(now, s.retryAt.Load()) && s.refreshing.CompareAndSwap(false, true) {
			go func() {
				defer s.refreshing.Store(false)
				_, _ = s.load(context.Background())
			}()
		}
		return ks, nil
	}
	if ra := s.retryAt.Load(); s.waiting(now, ra) {
		return nil, fmt.Errorf("%w: the last load from %s failed; next attempt in %s",
			ErrKeysUnavailable, s.shownURL, time.Duration(ra-now).Round(time.Second))
	}
	ks, err := s.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	return ks, nil
}

// unknownKey refetches the keys for an unknown kid if the limiter allows
// it now; otherwise it fails at once.
func (s *Set) unknownKey(ctx context.Context, kid string) (*key, error) {
	now := s.now().UnixNano()
	last := s.lastUnknown.Load()
	if last != 0 && now >= last && now-last < int64(s.unknownGap) {
		return nil, fmt.Errorf("%w: kid %q (key set refetched %s ago; next refetch allowed in %s)", ErrUnknownKey,
			shorten(kid), time.Duration(now-last).Round(time.Second), time.Duration(last+int64(s.unknownGap)-now).Round(time.Second))
	}
	if !s.lastUnknown.CompareAndSwap(last, now) {
		return nil, fmt.Errorf("%w: kid %q (a refetch just started)", ErrUnknownKey, shorten(kid))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "entra: jwks: unknown kid, refetching the key set",
		slog.String("kid", shorten(kid)), slog.String("metadata", s.shownURL))
	ks, err := s.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: kid %q (refetch failed: %w)", ErrUnknownKey, shorten(kid), err)
	}
	if k := ks.keys[kid]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %q is not in the provider's key set", ErrUnknownKey, shorten(kid))
}

// load runs one shared fetch (or joins the running one) and waits for it
// on ctx. The fetch itself runs under its own timeout.
func (s *Set) load(ctx context.Context) (*keySet, error) {
	ch := s.group.DoChan("keys", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		ks, err := s.fetch(fctx)
		if err != nil {
			wait := retryAfterFailure
			if s.state.Load() != nil {
				wait = s.unknownGap // the stale keys keep serving: no hurry
			}
			s.retryAt.Store(s.now().Add(wait).UnixNano())
			s.log.LogAttrs(ctx, slog.LevelWarn, "entra: jwks: key set fetch failed; keeping the last good keys",
				slog.String("metadata", s.shownURL), slog.String("error", err.Error()))
			return nil, err
		}
		ks.fetchedAt = s.now().UnixNano()
		s.state.Store(ks)
		s.log.LogAttrs(ctx, slog.LevelDebug, "entra: jwks: key set loaded",
			slog.String("metadata", s.shownURL), slog.Int("keys", len(ks.keys)))
		return ks, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*keySet), nil
	}
}

// checkKeyIssuer applies the key's issuer binding (see Verify).
func checkKeyIssuer(keyIssuer, metaIssuer string, payload []byte) error {
	if keyIssuer == "" {
		return nil
	}
	var c struct {
		Iss any `json:"iss"`
		Tid any `json:"tid"`
		Ver any `json:"ver"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	iss, _ := c.Iss.(string)
	tid, _ := c.Tid.(string)
	ver, _ := c.Ver.(string)
	if iss == "" {
		return fmt.Errorf("%w: token has no iss", ErrKeyIssuer)
	}
	if strings.Contains(keyIssuer, tenantTemplate) || strings.Contains(metaIssuer, tenantTemplate) {
		if tid == "" || strings.Contains(tid, "{") || !strings.Contains(iss, tid) {
			return fmt.Errorf("%w: token's tid is missing or not part of its iss", ErrKeyIssuer)
		}
	}
	eff := strings.ReplaceAll(keyIssuer, tenantTemplate, tid)
	// A v1 token carries a v1 issuer that v2 keys never name: it is bound
	// to the key through the metadata's issuer for its tid instead.
	if eff == iss || (ver == "1.0" && metaIssuer != "" && eff == strings.ReplaceAll(metaIssuer, tenantTemplate, tid)) {
		return nil
	}
	return fmt.Errorf("%w: key issuer %q, token iss %q", ErrKeyIssuer, shorten(eff), shorten(iss))
}

// shorten caps an attacker-controlled string shown in an error or log.
func shorten(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// waiting reports whether now is before until, the end of a pause after a
// failure; a pause longer than the longest one set (the wall clock stepped
// back since it was set) is over.
func (s *Set) waiting(now, until int64) bool {
	return now < until && until-now <= int64(max(retryAfterFailure, s.unknownGap))
}
