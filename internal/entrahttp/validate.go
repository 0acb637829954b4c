package entrahttp

import (
	"bytes"
	"encoding/json"
	"mime"
	"strconv"
	"strings"
	"time"
)

// MaxLifetime bounds expires_in / refresh_in: Entra's longest lifetimes are
// about a day (CAE sessions 28 h); anything beyond 400 days is a broken or
// hostile server (MSAL Go would overflow 99999999999999 into 6.35 years).
const MaxLifetime = 400 * 24 * time.Hour

// tokenProblem describes why a 200 answer from a token endpoint is refused.
type tokenProblem struct {
	kind   Kind
	detail string
}

// validateToken checks a 200 answer from a token endpoint before MSAL sees
// it, reading the body the way MSAL will (see msalFields): every key that
// encoding/json would bind to one of MSAL's fields, in any spelling, is
// checked, and two keys bound to one field are refused. It returns nil
// when the answer is acceptable. Details never quote the body.
func validateToken(contentType string, body []byte, now time.Time) *tokenProblem {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return &tokenProblem{KindMalformed, "content type is not JSON (" + safeMediaType(contentType) + ")"}
		}
	}
	fields, dup, err := msalFields(body)
	if err == errDuplicate {
		return &tokenProblem{KindMalformed, dup + " appears more than once (JSON keys match MSAL's fields case-insensitively)"}
	}
	if err != nil {
		return &tokenProblem{KindMalformed, "body is not one JSON object"}
	}
	for _, odd := range []string{"DeclinedScopes", "AdditionalFields"} {
		if _, ok := fields[odd]; ok {
			return &tokenProblem{KindMalformed, "the response sets MSAL's internal field " + odd}
		}
	}
	var at string
	if raw, ok := fields["access_token"]; !ok || json.Unmarshal(raw, &at) != nil || strings.TrimSpace(at) == "" {
		return &tokenProblem{KindMissingToken, "access_token is missing or empty"}
	}
	if !IsB64Token(at) {
		return &tokenProblem{KindInvalidToken, "access_token has characters a bearer token cannot carry (RFC 6750 b64token)"}
	}
	if raw, ok := fields["token_type"]; ok && !isNull(raw) {
		var tt string
		if json.Unmarshal(raw, &tt) != nil || !strings.EqualFold(tt, "Bearer") {
			return &tokenProblem{KindTokenType, "token_type is not Bearer"}
		}
	}
	// MSAL lets expires_on win over expires_in, so both are checked.
	rawIn, hasIn := fields["expires_in"]
	rawOn, hasOn := fields["expires_on"]
	if !hasIn && !hasOn {
		return &tokenProblem{KindExpiresIn, "expires_in is missing"}
	}
	if hasIn {
		if p := checkSeconds("expires_in", rawIn, false); p != nil {
			return p
		}
	}
	if hasOn {
		n, ok := parseInt(rawOn)
		if !ok {
			return &tokenProblem{KindExpiresIn, "expires_on is not an integer epoch time"}
		}
		at := time.Unix(n, 0)
		if !at.After(now) || at.Sub(now) > MaxLifetime {
			return &tokenProblem{KindExpiresIn, "expires_on is in the past or too far in the future"}
		}
	}
	for _, name := range []string{"ext_expires_in", "refresh_in"} {
		if raw, ok := fields[name]; ok {
			if p := checkSeconds(name, raw, true); p != nil {
				return p
			}
		}
	}
	return nil
}

// IsB64Token reports whether s is an RFC 6750 b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// Such a token can always be sent in an Authorization header; CR, LF,
// spaces, quotes and every other control or non-ASCII byte are refused.
func IsB64Token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

// checkSeconds accepts an integer or a quoted integer with
// 0 < n <= MaxLifetime (0 allowed when zeroOK).
func checkSeconds(name string, raw json.RawMessage, zeroOK bool) *tokenProblem {
	n, ok := parseInt(raw)
	if !ok {
		return &tokenProblem{KindExpiresIn, name + " is not an integer number of seconds"}
	}
	if n < 0 || (n == 0 && !zeroOK) {
		return &tokenProblem{KindExpiresIn, name + " is not positive"}
	}
	if n > int64(MaxLifetime/time.Second) {
		return &tokenProblem{KindExpiresIn, name + " exceeds 400 days"}
	}
	return nil
}

// parseInt accepts a JSON integer (no fraction or exponent) or a JSON string
// holding one, optionally signed.
func parseInt(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if len(s) >= 2 && s[0] == '"' {
		var q string
		if json.Unmarshal(raw, &q) != nil {
			return 0, false
		}
		s = q
	}
	if s == "" || strings.ContainsAny(s, ".eE+ ") {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// safeMediaType names a content type without quoting the header: a few
// well-known media types by name, anything else as "a non-JSON type" (a
// hostile server can put a token in the header).
func safeMediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "a non-JSON type"
	}
	switch mt {
	case "text/html", "text/plain", "text/xml", "application/xml", "application/xhtml+xml",
		"application/octet-stream", "application/x-www-form-urlencoded", "application/jwt",
		"application/javascript", "text/javascript", "text/css", "multipart/form-data":
		return mt
	}
	return "a non-JSON type"
}
