package entrahttp

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzValidateToken: no panic, details never quote the body, and whatever
// is accepted decodes (as encoding/json binds MSAL's fields) to a
// sendable access token and sane lifetimes.
func FuzzValidateToken(f *testing.F) {
	for _, s := range []string{
		`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0.eyJ1.c2ln"}`,
		`{"access_token":"a","expires_in":3599,"EXPIRES_IN":99999999999999}`,
		`{"access_token":"a","expires_in":"3599","expires_on":"1800003599"}`,
		`{"access_token":"a","expireſ_in":1,"to\u212aen_type":"pop"}`,
		`{"access_token":"a\r\nb","expires_in":1}`,
		`{"access_token":"a","expires_in":1} {}`,
	} {
		f.Add("application/json", []byte(s))
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		p := validateToken(ct, body, now)
		if p != nil {
			if len(body) >= 16 && strings.Contains(p.detail, string(body)) {
				t.Fatalf("detail %q quotes the body", p.detail)
			}
			return
		}
		var m mirror
		if err := json.Unmarshal(body, &m); err != nil {
			return // MSAL fails on it too
		}
		var at string
		if json.Unmarshal(m.AccessToken, &at) != nil || !IsB64Token(at) {
			t.Fatalf("accepted access_token %q", m.AccessToken)
		}
		for _, raw := range []json.RawMessage{m.ExpiresIn, m.RefreshOn, m.ExtExpiresOn} {
			if raw == nil {
				continue
			}
			if n, ok := parseInt(raw); !ok || n < 0 || n > int64(MaxLifetime/time.Second) {
				t.Fatalf("accepted lifetime %s", raw)
			}
		}
		if m.ExpiresOn != nil {
			n, ok := parseInt(m.ExpiresOn)
			if !ok || time.Unix(n, 0).Sub(now) > MaxLifetime {
				t.Fatalf("accepted expires_on %s", m.ExpiresOn)
			}
		}
	})
}

// FuzzRetryAfter: no panic; a delay is never negative nor beyond tooLong,
// and no delay comes with ok false.
func FuzzRetryAfter(f *testing.F) {
	f.Add("250", "", "7")
	f.Add("99999999999", "", "")
	f.Add("", "99999999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("-1", "x", "-3")
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ms, xms, ra string) {
		h := http.Header{}
		h.Set("Retry-After-Ms", ms)
		h.Set("X-Ms-Retry-After-Ms", xms)
		h.Set("Retry-After", ra)
		d, ok := RetryAfter(h, now)
		if d < 0 || d > tooLong || (!ok && d != 0) {
			t.Fatalf("RetryAfter(%q, %q, %q) = %v, %v", ms, xms, ra, d, ok)
		}
	})
}
