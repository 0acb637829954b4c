package entrahttp

import (
	"bytes"
	"encoding/json"
	"mime"
	"strconv"
	"strings"
	"time"
)

// maxLifetime bounds expires_in / refresh_in: Entra's longest lifetimes are
// about a day (CAE sessions 28 h); anything beyond 400 days is a broken or
// hostile server (MSAL Go would overflow 99999999999999 into 6.35 years).
const maxLifetime = 400 * 24 * time.Hour

// tokenProblem describes why a 200 answer from a token endpoint is refused.
type tokenProblem struct {
	kind   Kind
	detail string
}

// validateToken checks a 200 answer from a token endpoint before MSAL sees
// it. It returns nil when the answer is acceptable. Details never quote the
// body.
func validateToken(contentType string, body []byte, now time.Time) *tokenProblem {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return &tokenProblem{KindMalformed, "content type is not JSON (" + shortType(contentType) + ")"}
		}
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return &tokenProblem{KindMalformed, "body is not a JSON object"}
	}
	if dec.More() {
		return &tokenProblem{KindMalformed, "trailing data after the JSON object"}
	}
	var at string
	if raw, ok := fields["access_token"]; !ok || json.Unmarshal(raw, &at) != nil || strings.TrimSpace(at) == "" {
		return &tokenProblem{KindMissingToken, "access_token is missing or empty"}
	}
	if raw, ok := fields["token_type"]; ok && !isNull(raw) {
		var tt string
		if json.Unmarshal(raw, &tt) != nil || !strings.EqualFold(tt, "Bearer") {
			return &tokenProblem{KindTokenType, "token_type is not Bearer"}
		}
	}
	// MSAL lets expires_on win over expires_in, so both are checked.
	_, hasIn := fields["expires_in"]
	_, hasOn := fields["expires_on"]
	if !hasIn && !hasOn {
		return &tokenProblem{KindExpiresIn, "expires_in is missing"}
	}
	if hasIn {
		if p := checkSeconds("expires_in", fields["expires_in"], false); p != nil {
			return p
		}
	}
	if hasOn {
		n, ok := parseInt(fields["expires_on"])
		if !ok {
			return &tokenProblem{KindExpiresIn, "expires_on is not an integer epoch time"}
		}
		at := time.Unix(n, 0)
		if !at.After(now) || at.Sub(now) > maxLifetime {
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

// checkSeconds accepts an integer or a quoted integer with
// 0 < n <= maxLifetime (0 allowed when zeroOK).
func checkSeconds(name string, raw json.RawMessage, zeroOK bool) *tokenProblem {
	n, ok := parseInt(raw)
	if !ok {
		return &tokenProblem{KindExpiresIn, name + " is not an integer number of seconds"}
	}
	if n < 0 || (n == 0 && !zeroOK) {
		return &tokenProblem{KindExpiresIn, name + " is not positive"}
	}
	if n > int64(maxLifetime/time.Second) {
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

// shortType returns a content type safe to show: printable, capped.
func shortType(ct string) string {
	ct = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, ct)
	if len(ct) > 64 {
		ct = ct[:64] + "..."
	}
	return ct
}
