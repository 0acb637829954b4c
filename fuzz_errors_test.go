package entra

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
)

// testAssertion stands for a client assertion sent in the same fetch
// (opaque, not a JWT, so only redactSecrets can know it).
const testAssertion = "aW5zaWRlLWFzc2VydGlvbi1ub3QtYS1qd3Q.Q29udG9zbw-_x~9"

// FuzzFromCallErr feeds hostile error answers (status, headers, body)
// through fromFlowErrorRedacting with a secret and an assertion planted.
// Property: no panic; Error() is one line of bounded length; neither
// secret appears in Error(), %v, %+v or %#v in any encoding.
func FuzzFromCallErr(f *testing.F) {
	qs := url.QueryEscape(testSecret)
	for _, s := range []string{
		`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 03da4b8e-5ffe-48ca-9754-aff4276f0100","error_codes":[7000215],"trace_id":"03da4b8e-5ffe-48ca-9754-aff4276f0100"}`,
		`{"error":"invalid_request","error_description":"client_secret=` + qs + `&x=1"}`,
		`{"error":"invalid_request","error_description":"client_secret=` + lowerEscapes(qs)[:25] + `"}`,
		`{"error":"` + testSecret + `","trace_id":"` + testSecret + `","correlation_id":"` + qs + `","timestamp":"` + testSecret + `"}`,
		`{"error":"x","error_description":"` + encodings(testSecret)["json \\u"] + `"}`,
		`{"error":"x","error_description":"a ` + strings.ReplaceAll(testSecret, "/", `\/`) + ` b"}`,
		`{"error":"x","error_description":"Basic ` + base64.StdEncoding.EncodeToString([]byte("id:"+testSecret)) + `"}`,
		`{"error":"x","error_description":"assertion ` + testAssertion + `\n` + testAssertion[:20] + `"}`,
		`{"error_codes":"7000215","error_description":"AADSTS7000215: x ` + testSecret[10:] + `"}`,
		`<html>` + testSecret + `</html>`,
		`Too Many Requests`,
	} {
		f.Add(400, s, "120", "")
	}
	f.Add(429, "", "99999999999999999999", "1500")
	f.Add(503, `{"error":"temporarily_unavailable"}`, "Wed, 21 Oct 2015 07:28:00 GMT", "")
	f.Fuzz(func(t *testing.T, status int, body, retryAfter, retryAfterMs string) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader([]byte(body)))}
		resp.Header.Set("Retry-After", retryAfter)
		resp.Header.Set("Retry-After-Ms", retryAfterMs)
		err := fmt.Errorf("wrapped: %w", msalerrors.CallErr{Resp: resp,
			Err: fmt.Errorf("http call(https://x/token)(POST) error: reply status code was %d:\n%s", status, body)})
		got := fromFlowErrorRedacting("token", err, []string{testSecret, testAssertion})
		e, ok := got.(*Error)
		if !ok {
			t.Fatalf("got %T, want *Error", got)
		}
		msg := e.Error()
		if strings.ContainsAny(msg, "\r\n") || len(msg) > 2000 || !utf8.ValidString(msg) && utf8.ValidString(body) {
			t.Fatalf("Error() = %q: not one short line", msg)
		}
		if e.RetryAfter < 0 || e.RetryAfter > 10*60*1e9 {
			t.Fatalf("RetryAfter = %v", e.RetryAfter)
		}
		for _, text := range []string{msg, fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
			if l := leak(text, testSecret, testAssertion); l != "" {
				t.Fatalf("%q holds a secret (%s)", text, l)
			}
		}
	})
}

// FuzzRedactSecrets: the secret, planted in fuzzed text in any encoding,
// never survives in any encoding, and text without it is unchanged.
func FuzzRedactSecrets(f *testing.F) {
	f.Add("a ", "raw", " b")
	f.Add("client_secret=", "query", "&x=1")
	f.Add(`{"s":"`, "json \\u", `"}`)
	f.Add("Basic aWQ6", "base64", "==")
	f.Fuzz(func(t *testing.T, before, encoding, after string) {
		enc, ok := encodings(testSecret)[encoding]
		if !ok {
			enc = ""
		}
		in := before + enc + after
		got := redactSecrets(in, []string{testSecret})
		if l := leak(got, testSecret); l != "" {
			t.Fatalf("redactSecrets(%q) = %q holds the %s secret", in, got, l)
		}
		if !strings.Contains(in, redactedMark) && !strings.Contains(got, redactedMark) && got != in {
			t.Fatalf("redactSecrets(%q) = %q changed text without redacting", in, got)
		}
	})
}
