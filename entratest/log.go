package entratest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxLogEntries bounds the request log; when it is full the older half is
// dropped.
const maxLogEntries = 10000

// Request is one entry of the redacted request log.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	Endpoint Endpoint // "" for paths that are no Entra endpoint
	Grant    string   // token requests: "client_credentials", ..., "on_behalf_of"
	ClientID string
	// Form holds the query and form parameters; secrets, assertions, codes,
	// tokens, passwords and anything unknown are "[REDACTED]".
	Form   url.Values
	Status int // 0 when the connection was reset
	// Truncated reports that the entry was cut to bound its size: the path
	// to 256 bytes, the form to 32 keys (logged parameters first), 4 values
	// per key and 256 bytes per value; cut strings end in "...".
	Truncated bool
}

// Count returns how many requests endpoint ep has seen, faulted ones
// included. Safe for concurrent use.
func (s *Server) Count(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[ep]
}

// GrantCount returns how many token requests used a grant: "client_credentials",
// "authorization_code", "refresh_token", "device_code" or "on_behalf_of".
// Safe for concurrent use.
func (s *Server) GrantCount(grant string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grantCounts[grant]
}

// Requests returns a copy of the redacted request log, oldest first. The log
// keeps the last 5,000 to 10,000 requests (the older half is dropped when
// it fills up), each cut to a few KiB (see Request.Truncated); Count and
// GrantCount count every request. Safe for concurrent use.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log))
	for i, r := range s.log {
		r.Form = cloneValues(r.Form)
		out[i] = r
	}
	return out
}

// ResetCounters zeroes the counters and empties the request log. Safe for
// concurrent use.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[Endpoint]int{}
	s.grantCounts = map[string]int{}
	s.log = nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vals := range v {
		out[k] = append([]string(nil), vals...)
	}
	return out
}

// loggedParams are parameters whose values are logged verbatim; all others
// are redacted.
func loggedParam(k string) bool {
	switch k {
	case "grant_type", "client_id", "scope", "resource", "client_assertion_type", "requested_token_use",
		"redirect_uri", "response_type", "response_mode", "state", "nonce", "prompt", "login_hint",
		"domain_hint", "code_challenge", "code_challenge_method", "client_info", "claims", "user_code",
		"username", "api-version", "authorization_endpoint", "x-client-SKU", "x-client-Ver":
		return true
	}
	return false
}

func redact(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vals := range v {
		if loggedParam(k) {
			out[k] = append([]string(nil), vals...)
			continue
		}
		red := make([]string, len(vals))
		for i := range red {
			red[i] = "[REDACTED]"
		}
		out[k] = red
	}
	return out
}

// endpointOf classifies a request path.
func endpointOf(path string) Endpoint {
	switch {
	case path == "/common/discovery/instance":
		return EndpointInstanceDiscovery
	case isGraphPath(path):
		return EndpointGraph
	case strings.HasSuffix(path, "/oauth2/v2.0/token"):
		return EndpointToken
	case strings.HasSuffix(path, "/oauth2/token"):
		return EndpointTokenV1
	case strings.HasSuffix(path, "/oauth2/v2.0/devicecode"):
		return EndpointDeviceCode
	case strings.HasSuffix(path, "/oauth2/v2.0/authorize"):
		return EndpointAuthorize
	case strings.HasSuffix(path, "/.well-known/openid-configuration"):
		return EndpointMetadata
	case strings.HasSuffix(path, "/discovery/v2.0/keys"), strings.HasSuffix(path, "/discovery/keys"):
		return EndpointKeys
	}
	return ""
}

// grantName maps a grant_type to its GrantCount name.
func grantName(gt string) string {
	switch g := normalizeGrant(gt); g {
	case "jwt-bearer":
		return "on_behalf_of"
	case "":
		return ""
	default:
		return g
	}
}

// recorder captures the status of a response.
type recorder struct {
	http.ResponseWriter
	status int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("entratest: hijack not supported")
	}
	return h.Hijack()
}

// serve is the middleware around every route: request IDs, panic recovery,
// counters, faults and the redacted log.
func (s *Server) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	r, _ = withIDs(r)
	rec := &recorder{ResponseWriter: w}
	form := r.URL.Query()
	var bodyErr error
	if r.Body != nil && r.Body != http.NoBody {
		// The whole body is read here, within the body timeout; handlers
		// read the buffered copy.
		lift := s.setBodyDeadline(w)
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
		if err == nil && len(body) <= maxBodyBytes {
			// Read to EOF: lift the bound so a slow handler keeps its
			// connection. Otherwise the bound stays, so that the server's
			// drain of an unread rest cannot wait on the client forever.
			lift()
		}
		if err != nil {
			body, bodyErr = nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Method == http.MethodPost && ct == "application/x-www-form-urlencoded" && len(body) <= maxBodyBytes {
			pf, _ := url.ParseQuery(string(body))
			for k, v := range pf {
				form[k] = append(form[k], v...)
			}
		}
	}
	ep := endpointOf(r.URL.Path)
	path, cutPath := boundedPath(r.URL.Path)
	entry := Request{Time: s.now(), Method: sanitize(r.Method, 16), Path: path, Endpoint: ep, ClientID: form.Get("client_id")}
	if entry.ClientID == "" {
		if u, _, ok := r.BasicAuth(); ok {
			entry.ClientID = u
		}
	}
	entry.ClientID = sanitize(entry.ClientID, 64)
	if ep == EndpointToken || ep == EndpointTokenV1 {
		entry.Grant = grantName(form.Get("grant_type"))
	}
	var cutForm bool
	entry.Form, cutForm = boundForm(redact(form))
	entry.Truncated = cutPath || cutForm
	s.mu.Lock()
	if ep != "" {
		s.counts[ep]++
	}
	if entry.Grant != "" {
		s.grantCounts[entry.Grant]++
	}
	f := s.popFault(ep)
	s.mu.Unlock()
	if bodyErr != nil {
		// A body that did not arrive in time (or at all): answer and
		// close the connection, whatever the route.
		f, next = nil, http.HandlerFunc(s.bodyNotReceived)
	}
	s.dispatch(next, f, rec, r)
	entry.Status = rec.status
	s.mu.Lock()
	if len(s.log) >= maxLogEntries {
		// Drop the older half at once: one copy per maxLogEntries/2
		// requests, not one per request.
		s.log = append(s.log[:0:0], s.log[len(s.log)/2:]...)
	}
	s.log = append(s.log, entry)
	s.mu.Unlock()
}

// bodyNotReceived answers a request whose body could not be read in time.
func (s *Server) bodyNotReceived(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	s.writeError(w, r, newOAuthError(http.StatusRequestTimeout, "invalid_request", 9002313,
		"Invalid request. The request body was not received in time."))
}

// dispatch applies a fault or runs the route, turning a panic into a 500
// server_error JSON without any stack.
func (s *Server) dispatch(next http.Handler, f *Fault, rec *recorder, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			if rec.status == 0 {
				s.writeError(rec, r, newOAuthError(http.StatusInternalServerError, "server_error", 0,
					"The server encountered an unexpected error."))
			}
		}
	}()
	if f != nil && s.applyFault(rec, r, f) {
		return
	}
	next.ServeHTTP(rec, r)
}

// handler builds the router wrapped in the middleware.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/common/discovery/instance", s.handleInstanceDiscovery)
	mux.HandleFunc("/{tenant}/v2.0/.well-known/openid-configuration", s.handleMetadata(true))
	mux.HandleFunc("/{tenant}/.well-known/openid-configuration", s.handleMetadata(false))
	mux.HandleFunc("/{tenant}/discovery/v2.0/keys", s.handleKeys(true))
	mux.HandleFunc("/{tenant}/discovery/keys", s.handleKeys(false))
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.handleToken(false))
	mux.HandleFunc("/{tenant}/oauth2/token", s.handleToken(true))
	s.userRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, newOAuthError(http.StatusNotFound, "invalid_request", 0,
			"The requested endpoint does not exist."))
	})
	graph := http.HandlerFunc(s.handleGraph)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Graph's /v1.0/... paths overlap the /{tenant}/... patterns, so
		// they are routed here rather than in the mux.
		if isGraphPath(r.URL.Path) {
			s.serve(graph, w, r)
			return
		}
		s.serve(mux, w, r)
	})
}
