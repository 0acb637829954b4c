package entrahttp

import (
	"net/url"
	"strconv"
)

// Kind classifies a ResponseError.
type Kind int

// The kinds of ResponseError.
const (
	KindRedirect         Kind = iota + 1 // the server answered 3xx; the redirect was not followed
	KindBodyTooLarge                     // the response body exceeded Options.MaxBody
	KindMalformed                        // a token response that is not a JSON object (or not JSON at all)
	KindExpiresIn                        // expires_in (or expires_on, ext_expires_in, refresh_in) missing or absurd
	KindMissingToken                     // a token response without an access_token
	KindTokenType                        // token_type is not Bearer
	KindThrottled                        // no request sent: the host answered 429 moments ago
	KindRetriesExhausted                 // every attempt failed with a network error
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
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ResponseError reports a response (or the lack of one) that the Client
// refused to hand to its caller. Its text never contains the response
// body, a token or a query string.
type ResponseError struct {
	Kind       Kind
	StatusCode int    // HTTP status of the refused response, 0 if none
	URL        string // request URL without query or fragment
	Detail     string // what was wrong, never body text
	Err        error  // cause, e.g. the last network error
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
