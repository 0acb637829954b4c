package entratest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// oauthError is an OAuth error answer in Entra's JSON shape.
type oauthError struct {
	status      int    // HTTP status
	err         string // OAuth "error", e.g. "invalid_grant"
	code        int    // AADSTS number (0 = none)
	description string // text after "AADSTSnnnnn: "
	suberror    string
	claims      string
}

func newOAuthError(status int, errCode string, aadsts int, format string, args ...any) *oauthError {
	return &oauthError{status: status, err: errCode, code: aadsts, description: fmt.Sprintf(format, args...)}
}

// Error makes oauthError usable as an error in tests; it never holds secrets.
func (e *oauthError) Error() string {
	return "entratest: " + e.err + " AADSTS" + strconv.Itoa(e.code)
}

// reqIDs are the identifiers of one request: trace = x-ms-request-id,
// correlation = the client's request ID (or a fresh one).
type reqIDs struct {
	trace, correlation string
}

type ctxKey struct{}

func withIDs(r *http.Request) (*http.Request, reqIDs) {
	ids := reqIDs{trace: newGUID()}
	for _, h := range []string{"client-request-id", "x-ms-client-request-id"} {
		if v := r.Header.Get(h); v != "" && len(v) <= 64 && isPrintableToken(v) {
			ids.correlation = v
			break
		}
	}
	if ids.correlation == "" {
		ids.correlation = newGUID()
	}
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, ids)), ids
}

func idsOf(r *http.Request) reqIDs {
	if ids, ok := r.Context().Value(ctxKey{}).(reqIDs); ok {
		return ids
	}
	return reqIDs{trace: newGUID(), correlation: newGUID()}
}

func isPrintableToken(v string) bool {
	for _, c := range v {
		if c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

const entraTimeFormat = "2006-01-02 15:04:05Z"

// errorBody builds the JSON error body of §3.1.
func (s *Server) errorBody(r *http.Request, e *oauthError) map[string]any {
	ids := idsOf(r)
	ts := s.now().UTC().Format(entraTimeFormat)
	desc := e.description
	if e.code != 0 {
		desc = "AADSTS" + strconv.Itoa(e.code) + ": " + desc
	}
	desc += "\r\nTrace ID: " + ids.trace + "\r\nCorrelation ID: " + ids.correlation + "\r\nTimestamp: " + ts
	body := map[string]any{
		"error":             e.err,
		"error_description": desc,
		"timestamp":         ts,
		"trace_id":          ids.trace,
		"correlation_id":    ids.correlation,
	}
	if e.code != 0 {
		body["error_codes"] = []int{e.code}
		body["error_uri"] = "https://" + s.cloud.v2Host + "/error?code=" + strconv.Itoa(e.code)
	}
	if e.suberror != "" {
		body["suberror"] = e.suberror
	}
	if e.claims != "" {
		body["claims"] = e.claims
	}
	return body
}

// writeError answers with an OAuth error JSON. Safe for concurrent use.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "POST")
	}
	s.writeJSON(w, r, e.status, s.errorBody(r, e))
}

// writeJSON answers with a JSON body and Entra's no-cache token headers.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, body any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	s.setCommonHeaders(w, r)
	s.writeJSONRaw(w, status, body)
}

// setCommonHeaders adds x-ms-request-id and x-ms-ests-server.
func (s *Server) setCommonHeaders(w http.ResponseWriter, r *http.Request) {
	ids := idsOf(r)
	h := w.Header()
	h.Set("x-ms-request-id", ids.trace)
	h.Set("x-ms-ests-server", "2.1.entratest - WUS2 ProdSlices")
	if strings.EqualFold(r.Header.Get("return-client-request-id"), "true") {
		h.Set("client-request-id", ids.correlation)
	}
	h.Set("X-Content-Type-Options", "nosniff")
}

// Common errors.
func errMissingParam(name string) *oauthError {
	return newOAuthError(http.StatusBadRequest, "invalid_request", 900144,
		"The request body must contain the following parameter: '%s'.", name)
}

// writeJSONRaw writes a JSON body with only the content type added.
func (s *Server) writeJSONRaw(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
