package entratest

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// maxBodyBytes caps every request body.
const maxBodyBytes = 1 << 20

// tokenRequest is one parsed token request (POST /{tenant}/oauth2/v2.0/token
// or /{tenant}/oauth2/token).
type tokenRequest struct {
	r          *http.Request
	form       url.Values
	tenant     *tenant // resolved from the path (GUID, domain, or consumers); nil for common/organizations
	tenantPath string  // the path segment as sent
	v1         bool    // /oauth2/token (resource= instead of scope=)
	grant      string  // normalized: "client_credentials","authorization_code","refresh_token","device_code","jwt-bearer"
	client     *app    // set by authenticateClient
	clientAuth int     // 0 public/none, 1 secret, 2 certificate (appidacr/azpacr)
	claims     claimsRequest
}

// grantHandler returns the JSON body fields for a 200, or an error.
type grantHandler func(req *tokenRequest) (map[string]any, *oauthError)

// registerGrant installs the handler of a normalized grant. Call it only from
// NewServer (before serving).
func (s *Server) registerGrant(name string, h grantHandler) { s.grants[name] = h }

// normalizeGrant maps a grant_type to the names used by tokenRequest.grant.
func normalizeGrant(g string) string {
	switch g {
	case "client_credentials", "authorization_code", "refresh_token", "password":
		return g
	case "device_code", "urn:ietf:params:oauth:grant-type:device_code":
		return "device_code"
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		return "jwt-bearer"
	}
	return ""
}

// parseForm checks method, content type and size and parses the form body.
// Only POST is accepted. Safe for concurrent use.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		return nil, newOAuthError(http.StatusMethodNotAllowed, "invalid_request", 900561,
			"The endpoint only accepts POST requests. Received a %s request.", sanitize(r.Method, 16))
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'grant_type'.")
	}
	// Too large (http.MaxBytesError), unreadable and unparsable bodies
	// all get Entra's "malformed request".
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var form url.Values
	if err == nil {
		form, err = url.ParseQuery(string(body))
	}
	if err != nil {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", 9002313,
			"Invalid request. Request is malformed or invalid.")
	}
	return form, nil
}

// handleToken serves /{tenant}/oauth2/v2.0/token (v1=false) and /{tenant}/oauth2/token.
func (s *Server) handleToken(v1 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, e := s.tokenCall(w, r, v1)
		if e != nil {
			s.writeError(w, r, e)
			return
		}
		s.writeJSON(w, r, http.StatusOK, body)
	}
}

func (s *Server) tokenCall(w http.ResponseWriter, r *http.Request, v1 bool) (map[string]any, *oauthError) {
	form, e := s.parseForm(w, r)
	if e != nil {
		return nil, e
	}
	req := &tokenRequest{r: r, form: form, tenantPath: r.PathValue("tenant"), v1: v1}
	req.tenant, e = s.pathTenant(req.tenantPath, true)
	if e != nil {
		return nil, e
	}
	gt := form.Get("grant_type")
	if gt == "" {
		return nil, errMissingParam("grant_type")
	}
	req.grant = normalizeGrant(gt)
	h := s.grants[req.grant]
	if h == nil {
		return nil, newOAuthError(http.StatusBadRequest, "unsupported_grant_type", 70003,
			"The app requested an unsupported grant type '%s'.", sanitize(gt, 64))
	}
	if e := s.popChallenge(); e != nil {
		return nil, e
	}
	req.claims = parseClaimsRequest(form.Get("claims"))
	body, e := h(req)
	if e != nil {
		return nil, e
	}
	if v1 {
		s.v1Shape(req, body)
	}
	return body, nil
}

// pathTenant resolves the tenant path segment. common/organizations give nil.
func (s *Server) pathTenant(seg string, token bool) (*tenant, *oauthError) {
	switch strings.ToLower(seg) {
	case "common", "organizations":
		return nil, nil
	}
	if t := s.lookupTenant(seg); t != nil {
		return t, nil
	}
	errCode := "invalid_tenant"
	if token {
		errCode = "invalid_request"
	}
	return nil, newOAuthError(http.StatusBadRequest, errCode, 90002,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
		sanitize(seg, 64))
}

// v1Shape turns a v2 success body into the v1 /oauth2/token shape: numbers
// as strings plus expires_on, not_before and resource.
func (s *Server) v1Shape(req *tokenRequest, body map[string]any) {
	now := s.now().Unix()
	if n, ok := body["expires_in"].(int64); ok {
		body["expires_on"] = strconv.FormatInt(now+n, 10)
		body["not_before"] = strconv.FormatInt(now-300, 10)
	}
	for _, k := range []string{"expires_in", "ext_expires_in", "refresh_in"} {
		if n, ok := body[k].(int64); ok {
			body[k] = strconv.FormatInt(n, 10)
		}
	}
	if res := req.form.Get("resource"); res != "" {
		body["resource"] = res
	}
}

// sanitize bounds and cleans a client-supplied value before it is echoed.
func sanitize(v string, max int) string {
	var b strings.Builder
	for _, c := range v {
		if b.Len() >= max {
			b.WriteString("...")
			break
		}
		if c < ' ' || c == 0x7f {
			c = '?'
		}
		b.WriteRune(c)
	}
	return b.String()
}
