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

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// maxErrorBody caps how much of an error response is parsed.
const maxErrorBody = 64 << 10

// fromFlowError is the one place where errors from flows (MSAL Go and the
// HTTP client under it) become *Error. It never uses MSAL's error text,
// which can embed a raw token response: it builds the message from parsed
// fields and keeps as cause only errors whose text is known to be safe.
// Context errors stay reachable: errors.Is(err, context.Canceled) holds.
func fromFlowError(op string, err error) error {
	if err == nil {
		return nil
	}
	var own *Error
	if errors.As(err, &own) {
		return own
	}
	var re *entrahttp.ResponseError
	if errors.As(err, &re) {
		return fromResponseError(op, re)
	}
	var ce msalerrors.CallErr
	if errors.As(err, &ce) && ce.Resp != nil {
		return fromCallErr(op, ce.Resp)
	}
	if pce := (*msalerrors.CallErr)(nil); errors.As(err, &pce) && pce != nil && pce.Resp != nil {
		return fromCallErr(op, pce.Resp)
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
		return &Error{Op: "config", Code: "invalid_config", Description: oneLine(err.Error(), maxDescription), Err: ErrConfig}
	}
	if ne := netCause(err); ne != nil {
		return &Error{Op: op, Code: "transport", Description: oneLine(ne.Error(), maxDescription),
			Hint: "check network connectivity, proxy and TLS trust for the authority host", Err: ne}
	}
	return fromMSALText(op, err)
}

// fromResponseError maps a refusal of the hardened HTTP client.
func fromResponseError(op string, re *entrahttp.ResponseError) *Error {
	e := &Error{Op: op, StatusCode: re.StatusCode, Description: oneLine(re.Detail, maxDescription)}
	switch re.Kind {
	case entrahttp.KindRedirect:
		e.Code = "redirect"
		e.Description = oneLine(re.Error(), maxDescription)
		e.Hint = "entra never follows a redirect from the token endpoint (it would resend the client credential): " +
			"check the authority host and any proxy in between"
		e.Err = fmt.Errorf("%w: %w", ErrRedirect, re)
	case entrahttp.KindThrottled:
		e.Code = "throttled"
		e.Hint = "Entra answered 429 (too many requests) moments ago: reduce the token request rate " +
			"(reuse one Credential and its TokenSource so tokens are cached)"
		e.Err = re
	case entrahttp.KindRetriesExhausted:
		e.Code = "unavailable"
		if ne := netCause(re.Err); ne != nil {
			e.Description = oneLine("network error on every attempt: "+ne.Error(), maxDescription)
		}
		e.Hint = "check network connectivity, proxy and TLS trust for the authority host"
		e.Err = re
	default:
		e.Code = "invalid_response"
		e.Description = oneLine(re.Kind.String()+": "+re.Detail, maxDescription)
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
// status and parsed body only.
func fromCallErr(op string, resp *http.Response) *Error {
	e := &Error{Op: op, StatusCode: resp.StatusCode}
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
	e.Code = safeCode(b.Error)
	e.AADSTS = b.Codes
	if len(e.AADSTS) == 0 {
		if c, _, ok := leadingAADSTS(b.Description); ok {
			e.AADSTS = []int{c}
		}
	}
	e.Description = cleanDescription(b.Description)
	e.TraceID = safeID(b.TraceID)
	e.CorrelationID = safeID(b.CorrelationID)
	e.Timestamp = safeID(b.Timestamp)
	e.Hint = hintFor(e.AADSTS)
	if e.Hint == "" && strings.EqualFold(b.SubError, "consent_required") {
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

// cleanDescription keeps the first line of error_description, drops any
// JWT-looking word and caps the length.
func cleanDescription(s string) string {
	s = firstLine(s, 4*maxDescription)
	if s == "" {
		return ""
	}
	words := strings.Fields(s)
	for i, w := range words {
		if looksLikeJWT(w) {
			words[i] = "[redacted]"
		}
	}
	return oneLine(strings.Join(words, " "), maxDescription)
}

// looksLikeJWT reports whether w contains a compact JWS/JWE ("eyJ...").
func looksLikeJWT(w string) bool {
	i := strings.Index(w, "eyJ")
	return i >= 0 && strings.Count(w[i:], ".") >= 1 && len(w)-i > 20
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

// safeCode keeps an OAuth error value only if it looks like one.
func safeCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return ""
		}
	}
	return s
}

// safeID keeps a trace/correlation ID or timestamp only if it is short and
// made of ID/date characters.
func safeID(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-:. ", r)) {
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
