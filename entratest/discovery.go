package entratest

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// discoveryHeaders are the response headers of Entra's discovery GETs.
func (s *Server) writeDiscovery(w http.ResponseWriter, r *http.Request, body any) {
	h := w.Header()
	h.Set("Cache-Control", "max-age=86400, private")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	s.setCommonHeaders(w, r)
	s.writeJSONRaw(w, http.StatusOK, body)
}

// discoveryError answers a discovery GET with an OAuth error (no no-store headers).
func (s *Server) discoveryError(w http.ResponseWriter, r *http.Request, e *oauthError) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	s.setCommonHeaders(w, r)
	if e.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", "GET, OPTIONS")
	}
	s.writeJSONRaw(w, e.status, s.errorBody(r, e))
}

func errGETOnly(r *http.Request) *oauthError {
	return newOAuthError(http.StatusMethodNotAllowed, "invalid_request", 900561,
		"The endpoint only accepts GET requests. Received a %s request.", sanitize(r.Method, 16))
}

// handleInstanceDiscovery serves GET /common/discovery/instance.
func (s *Server) handleInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.discoveryError(w, r, errGETOnly(r))
		return
	}
	raw := r.URL.Query().Get("authorization_endpoint")
	if raw == "" {
		s.discoveryError(w, r, newOAuthError(http.StatusBadRequest, "invalid_request", 900144,
			"The request body must contain the following parameter: 'authorization_endpoint'."))
		return
	}
	u, err := url.Parse(raw)
	ours := err == nil && s.isOwnHost(u.Host)
	if err != nil || u.Scheme != "https" || !(ours || knownHost(u.Host)) {
		s.discoveryError(w, r, newOAuthError(http.StatusBadRequest, "invalid_instance", 50049,
			"Unknown or invalid instance."))
		return
	}
	tenantSeg := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 2)[0]
	if tenantSeg == "" {
		tenantSeg = "common"
	}
	meta := knownInstanceMetadata()
	if ours {
		meta = append(meta, map[string]any{"preferred_network": u.Host, "preferred_cache": u.Host, "aliases": []string{u.Host}})
	}
	s.writeDiscovery(w, r, map[string]any{
		"tenant_discovery_endpoint": "https://" + u.Host + "/" + tenantSeg + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  meta,
	})
}

// isOwnHost reports whether host (with port) names this server.
func (s *Server) isOwnHost(host string) bool {
	if strings.EqualFold(host, s.host) {
		return true
	}
	h, port, err := net.SplitHostPort(host)
	_, ownPort, _ := net.SplitHostPort(s.host)
	if err != nil || port != ownPort {
		return false
	}
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

func knownHost(host string) bool {
	for _, m := range knownInstanceMetadata() {
		for _, a := range m["aliases"].([]string) {
			if strings.EqualFold(a, host) {
				return true
			}
		}
	}
	return false
}

// metaTenant resolves the tenant of a discovery path: the endpoint segment,
// the issuer tenant part and whether it is a specific tenant.
func (s *Server) metaTenant(w http.ResponseWriter, r *http.Request) (seg, issuerTID string, specific, ok bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.discoveryError(w, r, errGETOnly(r))
		return "", "", false, false
	}
	path := r.PathValue("tenant")
	t, e := s.pathTenant(path, false)
	if e != nil {
		s.discoveryError(w, r, e)
		return "", "", false, false
	}
	switch {
	case t == nil:
		return strings.ToLower(path), "{tenantid}", false, true
	case t.id == ConsumersTenantID && strings.EqualFold(path, "consumers"):
		return "consumers", t.id, true, true
	}
	return t.id, t.id, true, true
}

// handleMetadata serves the v2 (v2=true) or v1 OpenID configuration.
func (s *Server) handleMetadata(v2 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		seg, tid, specific, ok := s.metaTenant(w, r)
		if !ok {
			return
		}
		base := s.URL + "/" + seg
		oauth := base + "/oauth2"
		if v2 {
			oauth += "/v2.0"
		}
		graphHost := strings.TrimPrefix(s.GraphResource(), "https://")
		m := map[string]any{
			"token_endpoint":                        oauth + "/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"request_uri_parameter_supported":       false,
			"authorization_endpoint":                oauth + "/authorize",
			"device_authorization_endpoint":         oauth + "/devicecode",
			"http_logout_supported":                 true,
			"frontchannel_logout_supported":         true,
			"end_session_endpoint":                  oauth + "/logout",
			"kerberos_endpoint":                     base + "/kerberos",
			"tenant_region_scope":                   nil,
			"cloud_instance_name":                   strings.TrimPrefix(s.cloud.v2Host, "login."),
			"cloud_graph_host_name":                 "graph.windows.net",
			"msgraph_host":                          graphHost,
			"rbac_url":                              "https://pas.windows.net",
		}
		if specific {
			m["tenant_region_scope"] = "NA"
		}
		claims := []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"}
		if v2 {
			m["issuer"] = s.IssuerV2(tid)
			m["jwks_uri"] = base + "/discovery/v2.0/keys"
			m["scopes_supported"] = []string{"openid", "profile", "email", "offline_access"}
			m["userinfo_endpoint"] = s.GraphResource() + "/oidc/userinfo"
		} else {
			m["issuer"] = s.IssuerV1(tid)
			m["jwks_uri"] = s.URL + "/common/discovery/keys"
			m["scopes_supported"] = []string{"openid"}
			m["userinfo_endpoint"] = base + "/openid/userinfo"
			m["microsoft_multi_refresh_token"] = true
			m["check_session_iframe"] = oauth + "/checksession"
			m["response_types_supported"] = []string{"code", "id_token", "code id_token", "token id_token", "token"}
			claims = append(claims, "amr", "given_name", "family_name", "nickname", "unique_name", "upn")
		}
		m["claims_supported"] = claims
		s.writeDiscovery(w, r, m)
	}
}

// handleKeys serves the v2 (issuer on each key) or v1 JWKS.
func (s *Server) handleKeys(v2 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, tid, _, ok := s.metaTenant(w, r)
		if !ok {
			return
		}
		issuer := ""
		if v2 {
			if tid != ConsumersTenantID {
				tid = "{tenantid}"
			}
			issuer = s.IssuerV2(tid)
		}
		s.writeDiscovery(w, r, s.jwks(issuer))
	}
}
