package entra

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
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
	// ErrUntrustedHost: a request (typically to a token endpoint named by
	// the authority's metadata) would have gone to a host outside the
	// cloud's authority hosts; nothing was sent.
	ErrUntrustedHost = errors.New("entra: request to a host outside the cloud's authority hosts not sent")
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
	// RetryAfter is how long to wait before entra (or the caller) should
	// ask Entra again for this token: from a 429 or 503 answer's
	// Retry-After (or Retry-After-Ms) header, or what remains of the wait
	// when the request was not sent because of it; at most 10 minutes. 0
	// when unknown.
	RetryAfter time.Duration
	// Claims is the claims challenge to satisfy when the user must sign
	// in again with more (MFA, a Conditional Access policy, a resource's
	// CAE challenge): a JSON object from Entra or the resource. Pass it to
	// UserCredential.SignInWithClaims or SignInOptions.Claims. "" when
	// none was given.
	Claims string
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
			if i == maxCodes {
				b.WriteString(", …")
				break
			}
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
	if e.RetryAfter > 0 {
		b.WriteString(" (retry in ")
		b.WriteString(roundWait(e.RetryAfter))
		b.WriteByte(')')
	}
	if e.Hint != "" {
		b.WriteString(" — hint: ")
		b.WriteString(oneLine(e.Hint, 2*maxDescription))
	}
	return b.String()
}

// roundWait formats a wait: whole seconds from one second up,
// milliseconds below ("2m0s", "250ms").
func roundWait(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

// GoString makes %#v print e's fields with the cause shown by type only:
// the fields are cleaned when e is built, and a cause's own fields are
// never printed.
func (e *Error) GoString() string {
	if e == nil {
		return "(*entra.Error)(nil)"
	}
	cause := "nil"
	if e.Err != nil {
		cause = fmt.Sprintf("%T", e.Err)
	}
	return fmt.Sprintf("&entra.Error{Op:%q, StatusCode:%d, Code:%q, AADSTS:%#v, Description:%q, TraceID:%q, "+
		"CorrelationID:%q, Timestamp:%q, Hint:%q, RetryAfter:%d, Err:%s}",
		e.Op, e.StatusCode, e.Code, e.AADSTS, e.Description, e.TraceID,
		e.CorrelationID, e.Timestamp, e.Hint, e.RetryAfter, cause)
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

// minOpaque is the length from which a random-looking word of token
// characters is treated as a credential.
const minOpaque = 32

// redactOpaque replaces every word that looks like a credential with
// "[redacted]": a JWT, or a run of at least minOpaque token characters
// (base64, base64url, hex, JWT and percent-escape alphabets) that looks
// random. GUIDs (whole or cut), words, hosts, URLs and scopes are kept.
// Server-supplied text is untrusted: it may echo a token or assertion
// that redactSecrets was not told about.
func redactOpaque(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isTokenChar(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isTokenChar(s[j]) {
			j++
		}
		if looksOpaque(s[i:j]) {
			b.WriteString(s[last:i])
			b.WriteString(redactedMark)
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~+/=%\\", c) >= 0
}

// looksOpaque reports whether a run of token characters is a JWT or has,
// outside GUIDs, a piece of minOpaque or more characters that is all hex
// or whose letters and digits change class (upper, lower, digit) at 30%
// or more of adjacent pairs: random base64 does so at about 60%, words,
// host names and paths far less.
func looksOpaque(w string) bool {
	if looksLikeJWT(w) {
		return true
	}
	if len(w) < minOpaque {
		return false
	}
	start := 0
	for i := 0; i <= len(w); {
		end := i
		if i < len(w) {
			end = guidAt(w, i)
		}
		if i == len(w) || end > i {
			if piece := w[start:i]; len(piece) >= minOpaque && randomLooking(piece) {
				return true
			}
			if i == len(w) {
				break
			}
			i, start = end, end
			continue
		}
		i++
	}
	return false
}

// randomLooking scores the letters and digits of piece (see looksOpaque).
func randomLooking(piece string) bool {
	class := func(c byte) int {
		switch {
		case 'a' <= c && c <= 'z':
			return 1
		case 'A' <= c && c <= 'Z':
			return 2
		case '0' <= c && c <= '9':
			return 3
		}
		return 0
	}
	alnum, changes, prev, hex := 0, 0, 0, true
	for i := 0; i < len(piece); i++ {
		c := piece[i]
		k := class(c)
		if k == 0 {
			continue
		}
		hex = hex && isHex(c)
		if prev != 0 && k != prev {
			changes++
		}
		prev = k
		alnum++
	}
	if alnum < minOpaque*3/4 {
		return false
	}
	return hex && alnum >= minOpaque || 10*changes >= 3*(alnum-1)
}

// guidAt returns the end of a GUID (8-4-4-4-12 hex digits, the last group
// possibly cut short) starting at w[i], or i.
func guidAt(w string, i int) int {
	j := i
	for g, n := range []int{8, 4, 4, 4, 12} {
		if g > 0 {
			if j >= len(w) || w[j] != '-' {
				return i
			}
			j++
		}
		k := 0
		for k < n && j < len(w) {
			if !isHex(w[j]) {
				break
			}
			j, k = j+1, k+1
		}
		if k < n && (g < 4 || k == 0) {
			return i
		}
	}
	return j
}

func isHex(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }

// looksLikeJWT reports whether w contains a compact JWS/JWE ("eyJ...").
func looksLikeJWT(w string) bool {
	i := strings.Index(w, "eyJ")
	return i >= 0 && strings.Count(w[i:], ".") >= 1 && len(w)-i > 20
}
