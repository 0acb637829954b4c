package entratest

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Endpoint names an emulator endpoint for fault injection and counters.
type Endpoint string

// The endpoints.
const (
	EndpointToken             Endpoint = "token"              // /{tenant}/oauth2/v2.0/token
	EndpointTokenV1           Endpoint = "token_v1"           // /{tenant}/oauth2/token
	EndpointDeviceCode        Endpoint = "devicecode"         // /{tenant}/oauth2/v2.0/devicecode
	EndpointAuthorize         Endpoint = "authorize"          // /{tenant}/oauth2/v2.0/authorize
	EndpointMetadata          Endpoint = "metadata"           // v1 and v2 openid-configuration
	EndpointKeys              Endpoint = "keys"               // JWKS, v1 and v2
	EndpointInstanceDiscovery Endpoint = "instance_discovery" // /common/discovery/instance
	EndpointGraph             Endpoint = "graph"              // Microsoft Graph: /v1.0/..., /beta/...
)

// Fault describes a misbehaviour for the next Count requests to an endpoint.
// Exactly one kind applies, in this order: Reset, RedirectTo, Malformed,
// Truncated, Body, Status (an OAuth error JSON for that status; Graph's
// error JSON on EndpointGraph). Delay alone delays normal handling;
// RetryAfter alone answers 429.
type Fault struct {
	Count       int           // how many requests (default 1)
	Status      int           // HTTP status to answer with (e.g. 500, 503, 429, or 200 with Body)
	RetryAfter  time.Duration // adds Retry-After (whole seconds, rounded up)
	Delay       time.Duration // sleep before answering (honours the request ctx)
	Reset       bool          // hijack and RST the connection (SetLinger(0)) without answering
	Malformed   bool          // answer 200 with malformed JSON
	Truncated   bool          // answer 200 with a token JSON cut in half
	RedirectTo  string        // answer 307 with Location: RedirectTo
	Body        string        // raw body to send (with Status, default 200)
	ContentType string        // default application/json; charset=utf-8
}

// InjectFault queues f for the next f.Count requests to ep, after faults
// already queued there (FIFO). Safe for concurrent use.
func (s *Server) InjectFault(ep Endpoint, f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[ep] = append(s.faults[ep], &f)
}

// ClearFaults removes every queued fault. Safe for concurrent use.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[Endpoint][]*Fault{}
}

// popFault takes one use of the first fault queued for ep. s.mu must be held.
func (s *Server) popFault(ep Endpoint) *Fault {
	q := s.faults[ep]
	if ep == "" || len(q) == 0 {
		return nil
	}
	f := *q[0]
	q[0].Count--
	if q[0].Count <= 0 {
		s.faults[ep] = q[1:]
	}
	return &f
}

// applyFault answers with fault f; false means "continue normally".
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f *Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.Reset {
		resetConn(w)
		return true
	}
	status, body := f.Status, f.Body
	switch {
	case f.RedirectTo != "":
		w.Header().Set("Location", f.RedirectTo)
		status, body = http.StatusTemporaryRedirect, ""
	case f.Malformed:
		status, body = http.StatusOK, `{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi`+"\x00"+`,,}`
	case f.Truncated:
		full := truncatedToken()
		status, body = http.StatusOK, full[:len(full)/2]
	case f.Body != "":
		if status == 0 {
			status = http.StatusOK
		}
	case f.Status != 0 || f.RetryAfter > 0:
		if status == 0 {
			status = http.StatusTooManyRequests
		}
		b, _ := json.Marshal(s.errorBody(r, faultError(status)))
		if isGraphPath(r.URL.Path) {
			b, _ = json.Marshal(s.graphErrorBody(r, graphFaultCode(status), http.StatusText(status)))
		}
		body = string(b)
	default:
		return false
	}
	ct := f.ContentType
	if ct == "" {
		ct = "application/json; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	if f.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
	}
	s.setCommonHeaders(w, r)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	return true
}

func faultError(status int) *oauthError {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return newOAuthError(status, "temporarily_unavailable", 0, "The service is temporarily unavailable. Please retry later.")
	case status >= 500:
		return newOAuthError(status, "server_error", 0, "The server encountered an unexpected error.")
	}
	return newOAuthError(status, "invalid_request", 0, "The request failed.")
}

// truncatedToken is a complete-looking token response whose first half is
// inside a real-looking access token.
func truncatedToken() string {
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256","kid":"entratest-fault"}`))
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"https://graph.microsoft.com","iss":"https://sts.windows.net/fault/","ver":"1.0"}`))
	tok := hdr + "." + payload + "." + randB64(256)
	return `{"access_token":"` + tok + `","token_type":"Bearer","expires_in":3599,"ext_expires_in":3599}`
}

// resetConn hijacks the connection and closes it with an RST.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}
