package entra

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. Test for them with errors.Is; they are reachable through
// every *Error whose cause they are.
var (
	// ErrMultipleResources: the scopes name more than one resource; one token
	// covers exactly one resource (AADSTS28000 / 70011).
	ErrMultipleResources = errors.New("entra: scopes name more than one resource")
	// ErrNeedDefaultScope: an app-only (client credentials) request needs
	// "<resource>/.default" (AADSTS1002012).
	ErrNeedDefaultScope = errors.New("entra: client credentials need a <resource>/.default scope")
	// ErrNoScopes: no scope was given.
	ErrNoScopes = errors.New("entra: no scopes")
	// ErrInvalidResponse: Entra (or something pretending to be it) answered
	// with a response that cannot be trusted: malformed JSON, HTML, a body
	// that is too large, a missing access token or an absurd expires_in.
	ErrInvalidResponse = errors.New("entra: invalid response from the token endpoint")
	// ErrRedirect: the token endpoint answered with a redirect. entra never
	// follows it, so the client credential is never sent to another URL.
	ErrRedirect = errors.New("entra: token endpoint answered with a redirect")
	// ErrConfig: the configuration given to entra is invalid.
	ErrConfig = errors.New("entra: invalid configuration")
)

// maxDescription caps Error.Description (in bytes) so that an oversized or
// hostile error_description cannot flood logs.
const maxDescription = 300

// Error is the one error type returned by entra. Its fields are the
// contract; the text of Error() is for humans and may change.
//
// Error() is a single line that never contains a secret, token, client
// assertion or response body. An *Error is immutable once returned and safe
// for concurrent use.
type Error struct {
	// Op is the operation that failed: "token", "scope", "config",
	// "transport" or "certificate".
	Op string
	// StatusCode is the HTTP status Entra answered with (0 if none).
	StatusCode int
	// Code is the OAuth "error" value (e.g. "invalid_client") or one of
	// entra's own kinds ("invalid_scope", "invalid_response", "redirect", ...).
	Code string
	// AADSTS holds Entra's error_codes; for scope rules detected before any
	// request it holds the code Entra would have answered with.
	AADSTS []int
	// Description is the first line of Entra's error_description, without the
	// trace, correlation and timestamp lines, capped to a few hundred bytes.
	Description string
	// TraceID, CorrelationID and Timestamp identify the failed request for
	// Microsoft support.
	TraceID       string
	CorrelationID string
	Timestamp     string
	// Hint says what to do next, when the failure is a known one.
	Hint string
	// Err is the cause: a sentinel of this package, a context error, an
	// *entrahttp.ResponseError, a network error, or nil.
	Err error
}

// Error returns a one-line summary:
// "entra: <op>: <code> (AADSTS<n>): <description> — hint: <hint>".
func (e *Error) Error() string {
	if e == nil {
		return "entra: <nil>"
	}
	var b strings.Builder
	b.WriteString("entra: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	head := e.Code
	if head == "" && e.StatusCode != 0 {
		head = "HTTP " + strconv.Itoa(e.StatusCode)
	}
	wrote := head != ""
	b.WriteString(head)
	if len(e.AADSTS) > 0 {
		if wrote {
			b.WriteByte(' ')
		}
		b.WriteByte('(')
		for i, c := range e.AADSTS {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("AADSTS")
			b.WriteString(strconv.Itoa(c))
		}
		b.WriteByte(')')
		wrote = true
	}
	msg := e.Description
	if c, rest, ok := leadingAADSTS(msg); ok && e.HasCode(c) {
		// "(AADSTS7000215): AADSTS7000215: Invalid..." would read twice.
		msg = strings.TrimSpace(strings.TrimPrefix(rest, ":"))
	}
	if msg == "" && e.Err != nil {
		msg = causeText(e.Err)
	}
	if msg != "" {
		if wrote {
			b.WriteString(": ")
		}
		b.WriteString(oneLine(msg, maxDescription))
	} else if !wrote {
		b.WriteString("failed")
	}
	if e.Hint != "" {
		b.WriteString(" — hint: ")
		b.WriteString(oneLine(e.Hint, 2*maxDescription))
	}
	return b.String()
}

// causeText is the text of a cause, with a redundant "entra: " prefix of
// our own sentinels removed.
func causeText(err error) string {
	return strings.TrimPrefix(err.Error(), "entra: ")
}

// Unwrap returns the cause, so errors.Is(err, context.Canceled) and
// errors.Is(err, ErrInvalidResponse) work through an *Error.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// HasCode reports whether Entra's answer carried AADSTS code.
func (e *Error) HasCode(code int) bool {
	if e == nil {
		return false
	}
	for _, c := range e.AADSTS {
		if c == code {
			return true
		}
	}
	return false
}

// scopeError builds an Op "scope" error for a scope rule detected before any
// request is sent. sentinel is one of ErrMultipleResources,
// ErrNeedDefaultScope, ErrNoScopes; codes are the AADSTS codes Entra would
// answer with (they select the hint).
func scopeError(sentinel error, codes []int, format string, args ...any) *Error {
	e := &Error{
		Op:          "scope",
		Code:        "invalid_scope",
		AADSTS:      append([]int(nil), codes...),
		Description: oneLine(fmt.Sprintf(format, args...), maxDescription),
		Hint:        hintFor(codes),
		Err:         sentinel,
	}
	return e
}

// firstLine returns s up to its first line break, trimmed, capped to max
// bytes (on a rune boundary, with "…" when cut).
func firstLine(s string, max int) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return oneLine(s, max)
}

// oneLine replaces control characters with spaces, trims, and caps s to max
// bytes on a rune boundary.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}
