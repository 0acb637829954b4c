// Package entrahttp is the hardened HTTP client entra gives MSAL Go for
// every call to Microsoft Entra ID: it never follows redirects, caps
// response bodies, retries transient failures within the caller's deadline,
// throttles a host that asked it to wait (429, or 503 with Retry-After),
// sends nothing to hosts outside Options.TrustedHosts and validates token
// responses, as MSAL will read them, before MSAL parses them.
package entrahttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for Options.
const (
	DefaultMaxBody     = 1 << 20
	DefaultMaxAttempts = 4
	DefaultMaxElapsed  = 30 * time.Second
	// defaultThrottle is how long a host is throttled after a 429 without
	// Retry-After (or with a shorter one).
	defaultThrottle = time.Second
)

// Options configures a Client. The zero value works.
type Options struct {
	// Base supplies the transport (TLS trust, proxy). Its CheckRedirect,
	// Jar and Timeout are ignored. nil means http.DefaultTransport.
	Base *http.Client
	// MaxBody caps every response body in bytes (default 1 MiB).
	MaxBody int64
	// MaxAttempts bounds tries per request, the first included (default 4).
	MaxAttempts int
	// MaxElapsed bounds the total time spent across retries of one request
	// (default 30s); the request ctx deadline always applies too.
	MaxElapsed time.Duration
	// Logger receives retry and refusal events (no bodies, no queries).
	// nil discards.
	Logger *slog.Logger
	// TrustedHosts, when non-empty, are the only hosts a request may go
	// to, over https only: "host" or "host:port", compared
	// case-insensitively, port 443 the same as none. A request to any
	// other host (for example a token_endpoint that OIDC metadata moved
	// off the authority) is refused before anything is sent, with a
	// KindUntrustedHost error. Give the authority host and the cloud's
	// aliases. Empty means any host.
	TrustedHosts []string

	// Now, Sleep and Rand are for tests: the clock, the wait between
	// attempts (must return ctx.Err() when ctx ends first) and a source of
	// uniform floats in [0, 1) for jitter. nil means the real ones.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

// Client sends requests to Entra. It implements MSAL Go's HTTP client
// interface (Do and CloseIdleConnections). Safe for concurrent use; the
// request's ctx governs each Do call, retries and waits included.
type Client struct {
	hc          *http.Client
	maxBody     int64
	maxAttempts int
	maxElapsed  time.Duration
	log         *slog.Logger
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
	rand        func() float64
	trusted     []string // normalized TrustedHosts
	throttle    throttle
	pacer       devicePacer
	metadata    metadataCache
}

// New returns a Client configured by o.
func New(o Options) *Client {
	var rt http.RoundTripper = http.DefaultTransport
	if o.Base != nil && o.Base.Transport != nil {
		rt = o.Base.Transport
	}
	c := &Client{
		hc: &http.Client{
			Transport: rt,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		maxBody:     o.MaxBody,
		maxAttempts: o.MaxAttempts,
		maxElapsed:  o.MaxElapsed,
		log:         o.Logger,
		now:         o.Now,
		sleep:       o.Sleep,
		rand:        o.Rand,
		trusted:     normHosts(o.TrustedHosts),
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBody
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.maxElapsed <= 0 {
		c.maxElapsed = DefaultMaxElapsed
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.rand == nil {
		c.rand = rand.Float64
	}
	return c
}

// CloseIdleConnections closes idle connections of the underlying transport.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Do sends req, retrying transient failures, and returns a response whose
// body is fully buffered (at most MaxBody bytes). Refused responses come
// back as *ResponseError; ctx errors are returned so errors.Is(err,
// context.Canceled) holds. Non-2xx answers that are not retried (or whose
// retries ran out) are returned as responses, for the caller to read.
//
// The authority's metadata answers (OpenID configuration, instance
// discovery) are reused for an hour: see metadataCache.
//
// Device-code polls are paced as RFC 8628 asks, whatever the caller's own
// loop does: see devicePacer.
//
// A host that answers 429 (Retry-After, at least one second) or 503 with
// Retry-After is not asked again by this Client until that delay (at most
// MaxThrottle) has passed: meanwhile Do fails at once with a
// KindThrottled error carrying the remembered status and RetryAfter.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	where := cleanURL(req.URL)
	if !c.trusts(req.URL) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "entrahttp: host not trusted, request not sent",
			slog.String("url", where))
		return nil, &ResponseError{Kind: KindUntrustedHost, URL: where,
			Detail: "only https requests to Options.TrustedHosts are sent"}
	}
	metadata := isMetadataRequest(req)
	if metadata {
		if resp := c.metadata.get(req, c.now()); resp != nil {
			return resp, nil
		}
	}
	// A device-code poll first waits its turn; the throttle and the retry
	// budget count from after that wait.
	form := requestForm(req)
	pollWait, pollKey, devicePoll := c.pacer.pollWait(form, c.now())
	if devicePoll && pollWait > 0 {
		if err := c.sleep(ctx, pollWait); err != nil {
			return nil, err
		}
	}
	host := normHost(req.URL.Host)
	start := c.now()
	if d, status := c.throttle.remaining(host, start); d > 0 {
		c.log.LogAttrs(ctx, slog.LevelWarn, "entrahttp: throttled, request not sent",
			slog.String("url", where), slog.Int("status", status), slog.Duration("remaining", d))
		return nil, &ResponseError{Kind: KindThrottled, StatusCode: status, URL: where, RetryAfter: d,
			Detail: "host answered HTTP " + strconv.Itoa(status) + " asking to wait; retry in " + roundWait(d)}
	}
	deadline := start.Add(c.maxElapsed)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	tokenReq := isTokenRequest(req, form)

	var lastResp *http.Response
	var lastErr error
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				break
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, body, err := c.once(r)
		if err != nil {
			var re *ResponseError
			if errors.As(err, &re) || !retryableErr(ctx, err) {
				return nil, err
			}
			lastResp, lastErr = nil, err
		} else if retryableStatus(resp.StatusCode) {
			lastResp, lastErr = resp, nil
			ra, ok := RetryAfter(resp.Header, c.now())
			switch {
			case resp.StatusCode == http.StatusTooManyRequests: // at least defaultThrottle: no hot loop
				c.throttle.set(host, max(ra, defaultThrottle), resp.StatusCode, c.now())
			case resp.StatusCode == http.StatusServiceUnavailable && ok:
				c.throttle.set(host, ra, resp.StatusCode, c.now())
			}
		} else {
			if devicePoll {
				c.pacer.answered(pollKey, resp.StatusCode, body, c.now())
			} else if resp.StatusCode == http.StatusOK && isDeviceCodeRequest(r) {
				c.pacer.issued(body, c.now())
			}
			if resp.StatusCode/100 == 2 {
				c.throttle.clear(host)
				if resp.StatusCode == http.StatusOK && metadata {
					c.metadata.put(req, resp, body, c.now())
				}
				if (resp.StatusCode == 200 || resp.StatusCode == 201) && tokenReq {
					if p := validateToken(resp.Header.Get("Content-Type"), body, c.now()); p != nil {
						c.log.LogAttrs(ctx, slog.LevelWarn, "entrahttp: refused token response",
							slog.String("url", where), slog.String("problem", p.detail))
						return nil, &ResponseError{Kind: p.kind, StatusCode: resp.StatusCode, URL: where, Detail: p.detail}
					}
				}
			}
			return resp, nil
		}

		// Decide whether to try again.
		if attempt >= c.maxAttempts || !replayable {
			break
		}
		wait := backoff(attempt, c.rand)
		if lastResp != nil {
			if ra, ok := RetryAfter(lastResp.Header, c.now()); ok {
				wait = ra
			}
			if lastResp.StatusCode == http.StatusTooManyRequests {
				wait = max(wait, defaultThrottle) // no hot loop on "Retry-After: 0"
			}
		}
		if c.now().Add(wait).After(deadline) {
			break
		}
		status := 0
		if lastResp != nil {
			status = lastResp.StatusCode
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "entrahttp: retrying",
			slog.String("url", where), slog.Int("attempt", attempt), slog.Int("status", status),
			slog.Duration("wait", wait))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	if lastResp != nil {
		return lastResp, nil
	}
	return nil, &ResponseError{Kind: KindRetriesExhausted, URL: where,
		Detail: "network error on every attempt", Err: scrubURLError(lastErr)}
}

// once sends one request and buffers its body. A 3xx answer becomes a
// KindRedirect error; an oversized body KindBodyTooLarge.
func (c *Client) once(r *http.Request) (*http.Response, []byte, error) {
	resp, err := c.hc.Do(r)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, &ResponseError{Kind: KindRedirect, StatusCode: resp.StatusCode, URL: cleanURL(r.URL),
			Detail: "redirect to " + redirectTarget(resp.Header.Get("Location")) + " not followed"}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > c.maxBody {
		return nil, nil, &ResponseError{Kind: KindBodyTooLarge, StatusCode: resp.StatusCode, URL: cleanURL(r.URL),
			Detail: "body exceeds " + strconv.FormatInt(c.maxBody, 10) + " bytes"}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, body, nil
}

// roundWait formats a wait for a message: whole seconds from one second
// up, milliseconds below.
func roundWait(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

// redirectTarget shows where a redirect pointed: scheme and host only.
func redirectTarget(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "a relative or invalid location"
	}
	if len(u.Host) > 100 || strings.Trim(strings.ToLower(u.Host), "abcdefghijklmnopqrstuvwxyz0123456789.-:[]") != "" ||
		!(u.Scheme == "https" || u.Scheme == "http") {
		return "an odd location"
	}
	return u.Scheme + "://" + u.Host
}

// scrubURLError drops the query from a *url.Error's URL.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		if u, perr := url.Parse(ue.URL); perr == nil {
			cp.URL = cleanURL(u)
		} else {
			cp.URL = ""
		}
		return &cp
	}
	return err
}
