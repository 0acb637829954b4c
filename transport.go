package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// maxClaims caps the size of a claims challenge entra acts on.
const maxClaims = 16 << 10

// Transport is an http.RoundTripper that adds "Authorization: Bearer" from
// Source, in the spirit of oauth2.Transport, with two differences:
//
//   - It attaches the token only to https requests whose host is in
//     AllowedHosts ("host", or "host:port" for a port other than 443).
//     Requests to any other host, including redirects, are sent unchanged
//     and without the token, so a wrong URL never leaks it.
//   - On a 401 carrying a claims challenge (WWW-Authenticate: Bearer
//     error="insufficient_claims", claims="<base64 JSON>"), it asks Claims
//     for a token satisfying it and retries the request once, if the
//     request body can be replayed (http.Request.GetBody). It never loops.
//
// The request given to RoundTrip is never modified. Credential.Client
// builds a Transport with these fields set from the credential. A
// Transport's fields must not change once it is in use; it is then safe
// for concurrent use. The request's context governs the claims fetch.
type Transport struct {
	// Source supplies the token. Required.
	Source oauth2.TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// AllowedHosts lists the hosts that may receive the token. Empty means
	// none: every request then fails, so a misconfiguration is loud.
	AllowedHosts []string
	// Claims, if set, returns a fresh token carrying the claims request
	// (JSON, decoded from the challenge). nil disables challenge handling.
	// If it fails, RoundTrip returns an *Error (Code
	// "claims_challenge_failed") wrapping its error.
	Claims func(ctx context.Context, claims string) (*oauth2.Token, error)

	// Set by Credential.Client.
	err       error                                                                               // invalid scopes or hosts
	token     func(ctx context.Context) (*oauth2.Token, error)                                    // Source.Token bounded by the request's ctx
	challenge func(ctx context.Context, sent *oauth2.Token, claims string) (*oauth2.Token, error) // deduplicated, bounded claims fetches
	logger    *slog.Logger
	cloud     Cloud // the credential's, for Explain
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		closeBody(req)
		return nil, t.err
	}
	if len(t.AllowedHosts) == 0 || t.Source == nil {
		closeBody(req)
		return nil, configErrorHint("set Transport.Source (e.g. cred.TokenSource(ctx, scope)) and Transport.AllowedHosts, or use Credential.Client, which fills both", "entra.Transport needs a Source and AllowedHosts")
	}
	if !hostAllowed(req.URL, t.AllowedHosts) {
		logWithheld(t.logger, req, t.AllowedHosts)
		return t.base().RoundTrip(req)
	}
	ctx := req.Context()
	tok, err := t.sourceToken(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base().RoundTrip(withToken(req, tok))
	if err == nil {
		explain(resp, req, tok.AccessToken, t.cloud, t.logger)
	}
	if err != nil || resp.StatusCode != http.StatusUnauthorized || (t.Claims == nil && t.challenge == nil) {
		return resp, err
	}
	claims, ok := claimsChallenge(resp.Header.Values("WWW-Authenticate"))
	if !ok || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
		return resp, nil
	}
	if t.challenge != nil {
		tok, err = t.challenge(ctx, tok, claims)
	} else {
		tok, err = t.Claims(ctx, claims)
	}
	if errors.Is(err, errClaimsUnsatisfied) || errors.Is(err, errClaimsRateLimited) {
		if t.logger != nil {
			t.logger.LogAttrs(ctx, slog.LevelDebug, "entra: claims challenge not answered", slog.String("host", req.URL.Host), slog.String("reason", err.Error()))
		}
		return resp, nil // the caller sees the challenge
	}
	drain(resp)
	if err != nil {
		return nil, claimsFailed(err)
	}
	retry := withToken(req, tok)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, &Error{Op: "transport", Code: "claims_challenge_failed", StatusCode: http.StatusUnauthorized,
				Description: "the request body could not be replayed for the retry after a claims challenge", Err: err}
		}
		retry.Body = body
	}
	resp, err = t.base().RoundTrip(retry)
	if err == nil {
		explain(resp, req, tok.AccessToken, t.cloud, t.logger)
	}
	return resp, err
}

// sourceToken gets the token, bounded by the request's ctx when the
// source supports it.
func (t *Transport) sourceToken(ctx context.Context) (*oauth2.Token, error) {
	if t.token != nil {
		return t.token(ctx)
	}
	return t.Source.Token()
}

// claimsFailed reports a failed claims fetch: the resource's 401 stands,
// and the cause (Entra's answer) is wrapped and summarized.
func claimsFailed(err error) *Error {
	e := &Error{Op: "transport", Code: "claims_challenge_failed", StatusCode: http.StatusUnauthorized,
		Description: "the resource answered 401 with a claims challenge, and getting a token with those claims failed",
		Err:         err}
	var cause *Error
	if errors.As(err, &cause) {
		e.Description += ": " + strings.TrimSpace(cause.Code+" "+cause.Description)
		e.AADSTS, e.Hint, e.RetryAfter, e.Claims = cause.AADSTS, cause.Hint, cause.RetryAfter, cause.Claims
	}
	e.Description = oneLine(e.Description, 2*maxDescription)
	return e
}

// drain reads a little of a response body that is being replaced, so its
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// withToken returns a clone of req carrying tok.
func withToken(req *http.Request, tok *oauth2.Token) *http.Request {
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	return r
}

// closeBody closes a request body RoundTrip will not pass on, as the
// http.RoundTripper contract requires.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// hostAllowed reports whether u is an https URL whose host is allowed.
// Hosts compare case-insensitively; port 443 is the same as no port.
func hostAllowed(u *url.URL, allowed []string) bool {
	if u == nil || !strings.EqualFold(u.Scheme, "https") || u.User != nil {
		return false
	}
	want := canonicalHost(u.Host)
	if want == "" {
		return false
	}
	for _, a := range allowed {
		if canonicalHost(a) == want {
			return true
		}
	}
	return false
}

// canonicalHost lowercases a "host[:port]" and drops port 443.
func canonicalHost(h string) string {
	u := url.URL{Host: strings.ToLower(strings.TrimSpace(h))}
	name, port := u.Hostname(), u.Port()
	if name == "" {
		return ""
	}
	if strings.Contains(name, ":") {
		name = "[" + name + "]"
	}
	if port == "" || port == "443" {
		return name
	}
	return name + ":" + port
}

// claimsChallenge finds a Bearer challenge with error="insufficient_claims"
// and returns its claims, decoded from base64 (standard, as Entra and
// resources send it; URL-safe and unpadded accepted too). The claims must
// be JSON.
func claimsChallenge(values []string) (string, bool) {
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
			continue
		}
		p := authParams(v[7:])
		if p["error"] != "insufficient_claims" || p["claims"] == "" || len(p["claims"]) > maxClaims {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(p["claims"]); err == nil && json.Valid(b) {
				return string(b), true
			}
		}
	}
	return "", false
}

// authParams parses the auth-params of one challenge (RFC 9110 §11.2):
// key=token or key="quoted string", separated by commas. It stops at the
// next challenge's scheme or at malformed input.
func authParams(s string) map[string]string {
	p := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		i := strings.IndexAny(s, "= \t,")
		if i <= 0 || s[i] != '=' {
			return p
		}
		key := strings.ToLower(s[:i])
		s = strings.TrimLeft(s[i+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			j := 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return p // unterminated
			}
			val, s = b.String(), s[j+1:]
		} else {
			j := strings.IndexAny(s, ", \t")
			if j < 0 {
				j = len(s)
			}
			val, s = s[:j], s[j:]
		}
		p[key] = val
	}
}
