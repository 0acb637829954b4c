package entrahttp

import (
	"net/url"
	"strconv"
	"time"
)

// Kind classifies a ResponseError.
type Kind int

// The kinds of ResponseError.
const (
	KindRedirect         Kind = iota + 1 // the server answered 3xx; the redirect was not followed
	KindBodyTooLarge                     // the response body exceeded Options.MaxBody
	KindMalformed                        // a token response that is not one JSON object, or repeats a field MSAL reads
	KindExpiresIn                        // expires_in (or expires_on, ext_expires_in, refresh_in) missing or absurd
	KindMissingToken                     // a token response without an access_token
	KindTokenType                        // token_type is not Bearer
	KindThrottled                        // no request sent: the host asked us to wait (429, or 503 with Retry-After)
	KindRetriesExhausted                 // every attempt failed with a network error
	KindInvalidToken                     // access_token is not a bearer token (RFC 6750 b64token): it could never be sent
	KindUntrustedHost                    // no request sent: the host (or scheme) is not in Options.TrustedHosts
)

// String returns a short name for k, e.g. "redirect".
func (k Kind) String() string {
	switch k {
	case KindRedirect:
		return "redirect"
	case KindBodyTooLarge:
		return "body_too_large"
	case KindMalformed:
		return "malformed_response"
	case KindExpiresIn:
		return "invalid_expires_in"
	case KindMissingToken:
		return "missing_access_token"
	case KindTokenType:
		return "invalid_token_type"
	case KindThrottled:
		return "throttled"
	case KindRetriesExhausted:
		return "retries_exhausted"
	case KindInvalidToken:
		return "invalid_access_token"
	case KindUntrustedHost:
		return "untrusted_host"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ResponseError reports a response (or the lack of one) that the Client
// refused to hand to its caller. Its text never contains the response
// body, a token or a query string. Immutable once returned.
type ResponseError struct {
	Kind Kind
	// StatusCode is the HTTP status of the refused response, 0 if none.
	// For KindThrottled it is the status of the answer that started the
	// throttle (429, or 503 with Retry-After).
	StatusCode int
	URL        string // request URL without query or fragment
	Detail     string // what was wrong, never body text
	// RetryAfter is, for KindThrottled, how long until the host may be
	// asked again; 0 otherwise.
	RetryAfter time.Duration
	Err        error // cause, e.g. the last network error
}

// Error returns a one-line description starting with "entrahttp: ".
func (e *ResponseError) Error() string {
	s := "entrahttp: " + e.Kind.String()
	if e.StatusCode != 0 {
		s += " (HTTP " + strconv.Itoa(e.StatusCode) + ")"
	}
	if e.URL != "" {
		s += " from " + e.URL
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *ResponseError) Unwrap() error { return e.Err }

// cleanURL returns u without user info, query or fragment.
func cleanURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return c.String()
}
