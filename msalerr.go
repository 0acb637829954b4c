package entra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// maxErrorBody caps how much of an error response is parsed.
const maxErrorBody = 64 << 10

// maxCodes caps Error.AADSTS: Entra sends one or two codes; a hostile list
// of thousands would make a 100 KB error line.
const maxCodes = 8

// fromFlowError is fromFlowErrorRedacting with no secrets to remove.
func fromFlowError(op string, err error) error {
	return fromFlowErrorRedacting(op, err, nil)
}

// fromFlowErrorRedacting is the one place where errors from flows (MSAL
// Go and the HTTP client under it) become *Error. It never uses MSAL's
// error text, which can embed a raw token response: it builds the message
// from parsed fields and keeps as cause only errors whose text is known to
// be safe. Every server-supplied string (error, error_description,
// trace_id, correlation_id, timestamp, suberror, network error text) is
// treated as untrusted and scrubbed whole before it is cut or used:
// secrets (the client secret and every client assertion sent in the
// fetch) are removed in every encoding (redactSecrets), so are values of
// credential-named fields (redactKeyed) and random-looking words
// (redactOpaque); codes and IDs must have their expected shape, and at
// most maxCodes AADSTS codes are kept. claims is not read. RetryAfter
// comes from a 429/503 answer's headers or the HTTP client's throttle.
// Context errors stay reachable: errors.Is(err, context.Canceled) holds.
func fromFlowErrorRedacting(op string, err error, secrets []string) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return own
	}
	sc := newScrubber(secrets)
	var re *entrahttp.ResponseError
	if errors.As(err, &re) {
		return fromResponseError(op, sc.response(re), sc)
	}
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		return fromCallErr(op, restoreBody(ce), sc)
	}
	if pce := (*msalerrors.CallErr)(nil); errors.As(err, &pce) && pce != nil && pce.Resp != nil {
		return fromCallErr(op, restoreBody(*pce), sc)
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Op: op, Code: "canceled", Description: "the request was canceled before Entra answered", Err: context.Canceled}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Op: op, Code: "timeout", Description: "the deadline passed before Entra answered",
			Hint: "raise the timeout (Options.FetchTimeout or the ctx deadline) or check connectivity to the authority host",
			Err:  context.DeadlineExceeded}
	}
	if errors.Is(err, flows.ErrConfig) {
		return &Error{Op: "config", Code: "invalid_config", Description: sc.line(err.Error(), maxDescription), Err: ErrConfig}
	}
	if ne := netCause(err); ne != nil {
		return &Error{Op: op, Code: "transport", Description: sc.line(ne.Error(), maxDescription),
			Hint: "check network connectivity, proxy and TLS trust for the authority host", Err: sc.cause(ne)}
	}
	return fromMSALText(op, err)
}

// fromResponseError maps a refusal of the hardened HTTP client; re is
// already scrubbed.
func fromResponseError(op string, re *entrahttp.ResponseError, sc scrubber) *Error {
	e := &Error{Op: op, StatusCode: re.StatusCode, Description: sc.line(re.Detail, maxDescription)}
	switch re.Kind {
	case entrahttp.KindRedirect:
		e.Code = "redirect"
		e.Description = sc.line(re.Error(), maxDescription)
		e.Hint = "entra never follows a redirect from the token endpoint (it would resend the client credential): " +
			"check the authority host and any proxy in between"
		e.Err = fmt.Errorf("%w: %w", ErrRedirect, re)
	case entrahttp.KindThrottled:
		e.Code = "throttled"
		if re.StatusCode == http.StatusServiceUnavailable {
			e.Code = "temporarily_unavailable"
		}
		e.Description = "Entra answered HTTP " + strconv.Itoa(re.StatusCode) +
			" asking to wait; no request is sent to it until the wait ends"
		e.RetryAfter = re.RetryAfter
		e.Hint = "Entra asked this client to wait (Retry-After): retry after RetryAfter; if it recurs, reduce the " +
			"token request rate (reuse one Credential and its TokenSource so tokens are cached)"
		e.Err = re
	case entrahttp.KindUntrustedHost:
		e.Code = "untrusted_host"
		e.Description = sc.line("a request to "+re.URL+" was not sent: the host is not one of the cloud's authority hosts", maxDescription)
		e.Hint = "the token endpoint (from the authority's metadata) names a host outside the cloud, so the client " +
			"credential was not sent there: check the authority host and the Cloud, and add the host to the cloud's " +
			"aliases only if it is genuinely an Entra host"
		e.Err = fmt.Errorf("%w: %w", ErrUntrustedHost, re)
	case entrahttp.KindRetriesExhausted:
		e.Code = "unavailable"
		if ne := netCause(re.Err); ne != nil {
			e.Description = sc.line("network error on every attempt: "+ne.Error(), maxDescription)
		}
		e.Hint = "check network connectivity, proxy and TLS trust for the authority host"
		e.Err = re
	default:
		e.Code = "invalid_response"
		e.Description = sc.line(re.Kind.String()+": "+re.Detail, maxDescription)
		e.Hint = "the answer was not a valid Entra token response: check the authority host and any proxy " +
			"or TLS-inspecting middlebox in between"
		e.Err = fmt.Errorf("%w: %w", ErrInvalidResponse, re)
	}
	return e
}

// entraErrorBody is Entra's error JSON (fact sheet §3.1).
type entraErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	Codes         []int  `json:"error_codes"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	Timestamp     string `json:"timestamp"`
	SubError      string `json:"suberror"`
}

// fromCallErr maps a non-2xx answer that MSAL reported, from the response
// status, headers and parsed body only.
func fromCallErr(op string, resp *http.Response, sc scrubber) *Error {
	e := &Error{Op: op, StatusCode: resp.StatusCode, RetryAfter: retryAfterOf(resp)}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		// Put it back for anyone else holding the response.
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	var b entraErrorBody
	if json.Unmarshal(body, &b) != nil {
		b = lenientErrorBody(body)
	}
	// Scrub every server string whole, before it is cut or used.
	desc := sc.text(b.Description)
	subError := sc.text(b.SubError)
	e.Code = safeCode(sc.text(b.Error))
	e.AADSTS = capCodes(b.Codes)
	if len(e.AADSTS) == 0 {
		if c, _, ok := leadingAADSTS(desc); ok {
			e.AADSTS = []int{c}
		}
	}
	e.Description = sc.line(desc, maxDescription)
	e.TraceID = safeGUID(sc.text(b.TraceID))
	e.CorrelationID = safeGUID(sc.text(b.CorrelationID))
	e.Timestamp = safeTimestamp(sc.text(b.Timestamp))
	e.Hint = hintFor(e.AADSTS)
	if e.Hint == "" && strings.EqualFold(subError, "consent_required") {
		e.Hint = hint(65001)
	}
	if e.Code == "" && e.Description == "" {
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			e.Code = "throttled"
			e.Description = "Entra answered 429 too many requests"
		case resp.StatusCode >= 500:
			e.Code = "server_error"
			e.Description = "Entra answered HTTP " + strconv.Itoa(resp.StatusCode)
		default:
			e.Description = "the error response was not Entra's JSON error format"
		}
	}
	if e.Hint == "" {
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			e.Hint = "Entra is throttling this client: reduce the token request rate and honour Retry-After"
		case resp.StatusCode >= 500 || e.Code == "temporarily_unavailable":
			e.Hint = "Entra is temporarily unavailable: retry later"
		}
	}
	return e
}

// retryAfterOf reads Retry-After (or its -Ms variants) of a 429 or 503
// answer, capped at entrahttp.MaxThrottle; 0 when absent. An HTTP date is
// measured from the answer's own Date header when it has one.
func retryAfterOf(resp *http.Response) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	ref := time.Now()
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		ref = t
	}
	d, ok := entrahttp.RetryAfter(resp.Header, ref)
	if !ok {
		return 0
	}
	return min(d, entrahttp.MaxThrottle)
}

// capCodes keeps at most maxCodes sane AADSTS codes (0 <= c < 10^9).
func capCodes(codes []int) []int {
	var out []int
	for _, c := range codes {
		if c >= 0 && c < 1e9 {
			out = append(out, c)
			if len(out) == maxCodes {
				break
			}
		}
	}
	return out
}

// lenientErrorBody salvages the string fields of a body whose error_codes
// (or another field) has an unexpected type.
func lenientErrorBody(body []byte) entraErrorBody {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return entraErrorBody{}
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	var codes []int
	_ = json.Unmarshal(m["error_codes"], &codes)
	return entraErrorBody{Error: str("error"), Description: str("error_description"), Codes: codes,
		TraceID: str("trace_id"), CorrelationID: str("correlation_id"), Timestamp: str("timestamp"), SubError: str("suberror")}
}

// leadingAADSTS reads the code from "AADSTS7000215: ..." and returns the
// text after the number.
func leadingAADSTS(desc string) (code int, rest string, ok bool) {
	if !strings.HasPrefix(desc, "AADSTS") {
		return 0, "", false
	}
	rest = desc[len("AADSTS"):]
	n := 0
	for n < len(rest) && n < 9 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	c, err := strconv.Atoi(rest[:n])
	return c, rest[n:], err == nil
}

// safeCode keeps an OAuth error value only if it looks like Entra's:
// lower-case letters, digits and underscores, at most 64 bytes. (RFC 6749
// allows more, but no Entra value uses it, and a value that does could be
// an echoed secret.)
func safeCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return ""
		}
	}
	return s
}

// safeGUID keeps a trace or correlation ID only if it is a GUID, the form
// Entra uses for both.
func safeGUID(s string) string {
	if len(s) != 36 || guidAt(s, 0) != 36 {
		return ""
	}
	return s
}

// safeTimestamp keeps a timestamp only if it is short and made of date
// characters ("2022-03-02 18:25:26Z").
func safeTimestamp(s string) string {
	if len(s) > 40 || s == "" || s[0] < '0' || s[0] > '9' {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || strings.IndexByte("-:. TZ+", c) >= 0) {
			return ""
		}
	}
	return s
}

// netCause returns the network-level cause of err, if any, with the
// query removed from a *url.Error. Such errors name hosts and syscalls,
// never tokens.
func netCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		cp := *ue
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.Fragment, u.User = "", "", nil
			cp.URL = u.String()
		} else {
			cp.URL = ""
		}
		return &cp
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	return nil
}

// fromMSALText maps MSAL's plain errors by recognising a few fixed messages;
// the text itself is never copied (it can embed a token response).
func fromMSALText(op string, err error) *Error {
	msg := err.Error()
	known := []struct {
		needle, code, desc, hint string
	}{
		{"declined scopes are present", "declined_scopes", "Entra did not grant every requested scope", "check the scopes: the response's scope list lacks some requested scopes"},
		{"key must be an RSA key", "invalid_certificate", "the private key must be an RSA key for certificate credentials", "use an RSA certificate, or NewClientAssertionCredential with your own signer"},
		{"key doesn't match any certificate", "invalid_certificate", "the private key does not match any of the certificates", "pass the certificate whose public key belongs to the private key"},
		{"secret can't be empty", "invalid_config", "the client secret is empty", "pass the client secret's value"},
		{"authority url", "invalid_config", "the authority URL is invalid", "check the tenant ID and the cloud's authority host (https)"},
		{"expires_in and expires_on are both missing", "invalid_response", "the token response had no valid expiry", ""},
		{"missing access_token", "invalid_response", "the token response had no access token", ""},
		{"IDToken returned from server is invalid", "invalid_response", "the token response had an invalid id_token", ""},
		{"client_info", "invalid_response", "the token response had an invalid client_info", ""},
	}
	for _, k := range known {
		if strings.Contains(msg, k.needle) {
			e := &Error{Op: op, Code: k.code, Description: k.desc, Hint: k.hint}
			switch k.code {
			case "invalid_config":
				e.Op, e.Err = "config", ErrConfig
			case "invalid_response":
				e.Err = ErrInvalidResponse
			}
			return e
		}
	}
	return &Error{Op: op, Code: "msal_error", Description: "MSAL Go failed (message withheld: it may contain token data)"}
}

// response returns re with its URL, Detail and cause scrubbed (re itself
// when nothing changes).
func (sc scrubber) response(re *entrahttp.ResponseError) *entrahttp.ResponseError {
	cp := *re
	cp.Detail = sc.text(re.Detail)
	cp.Err = sc.cause(re.Err)
	if u, err := url.Parse(re.URL); err == nil {
		u.RawQuery, u.Fragment, u.User = "", "", nil
		cp.URL = sc.text(u.String())
	} else {
		cp.URL = ""
	}
	// Texts, not errors, are compared: an error's type may not be comparable.
	if cp.Detail == re.Detail && cp.URL == re.URL && (re.Err == nil || cp.Err.Error() == re.Err.Error()) {
		return re
	}
	return &cp
}

// scrubbedError stands for a cause whose text had to be scrubbed: the
// original is dropped, since it holds what was removed.
type scrubbedError struct {
	msg string
	ctx error // context.Canceled or DeadlineExceeded when the original was one
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.ctx }
