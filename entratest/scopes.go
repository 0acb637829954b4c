package entratest

import (
	"net/http"
	"strings"
)

// resolvedScopes is the scope resolution of one token request.
type resolvedScopes struct {
	resource  *app     // the API the token is for (may be the Graph app)
	audience  string   // v1: identifier as requested (App ID URI or GUID); v2: client ID GUID
	dflt      bool     // "<resource>/.default" requested
	perms     []string // specific permission names requested (without resource prefix)
	oidc      []string // OIDC scopes requested
	requested []string // the scope strings as sent, for echoing in "scope"
}

// isOIDCScope reports whether s is one of the OIDC scopes Entra hosts on Graph.
func isOIDCScope(s string) bool {
	switch strings.ToLower(s) {
	case "openid", "profile", "offline_access", "email":
		return true
	}
	return false
}

// splitScope splits "<resource>/<perm>"; bare names belong to Graph (resource "").
func splitScope(sc string) (resource, perm string) {
	i := strings.LastIndex(sc, "/")
	if i < 0 {
		return "", sc
	}
	return sc[:i], sc[i+1:]
}

// resolveScopes resolves the scope parameter of a token request (for the v1
// endpoint, the resource parameter). It strips the OIDC scopes, rejects more
// than one resource (28000; 70011 for client credentials), unknown resources
// (500011), unknown delegated scopes (70011), non-/.default scopes in client
// credentials (1002012) and an empty scope (900144; 28003 for authorization_code).
func (s *Server) resolveScopes(req *tokenRequest, raw string) (*resolvedScopes, *oauthError) {
	fields := strings.Fields(raw)
	if req.v1 {
		if res := strings.TrimSpace(req.form.Get("resource")); res != "" {
			fields = append([]string{res + "/.default"}, fields...)
		}
	}
	cc := req.grant == "client_credentials"
	if len(fields) == 0 {
		if req.grant == "authorization_code" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_request", 28003,
				"Provided value for the input parameter scope cannot be empty when requesting an access token using the provided authorization code. Please specify a valid scope.")
		}
		if req.v1 {
			return nil, errMissingParam("resource")
		}
		return nil, errMissingParam("scope")
	}
	rs := &resolvedScopes{requested: fields}
	if req.v1 && req.form.Get("resource") != "" {
		rs.requested = fields[1:]
	}
	var resIDs []string // distinct resource identifiers, in order
	type item struct{ res, perm, raw string }
	var items []item
	for _, f := range fields {
		if isOIDCScope(f) {
			rs.oidc = append(rs.oidc, f)
			continue
		}
		res, perm := splitScope(f)
		if cc && perm != ".default" {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", 1002012,
				"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
				sanitize(f, 200))
		}
		if res == "" {
			res = s.GraphResource()
		}
		items = append(items, item{res, perm, f})
		seen := false
		for _, r := range resIDs {
			if strings.EqualFold(r, res) {
				seen = true
			}
		}
		if !seen {
			resIDs = append(resIDs, res)
		}
	}
	if len(items) == 0 {
		if cc {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", 1002012,
				"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
				sanitize(strings.Join(rs.oidc, " "), 200))
		}
		// Only OIDC scopes: the access token is for Graph.
		rs.resource = s.graph
		rs.audience = s.GraphResource()
		return rs, nil
	}
	if len(resIDs) > 1 {
		if cc {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", 70011,
				"The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.",
				sanitize(raw, 300))
		}
		return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", 28000,
			"Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.",
			sanitize(raw, 300))
	}
	resID := resIDs[0]
	res := s.lookupApp(req.tenant, resID)
	if res == nil {
		tn := req.tenantPath
		if req.tenant != nil {
			tn = req.tenant.id
		}
		return nil, newOAuthError(http.StatusBadRequest, "invalid_resource", 500011,
			"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
			sanitize(resID, 200), sanitize(tn, 64))
	}
	rs.resource = res
	for _, it := range items {
		if it.perm == ".default" {
			rs.dflt = true
			continue
		}
		name, ok := exposedScope(res, it.perm)
		if !ok {
			return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", 70011,
				"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.",
				sanitize(it.raw, 200))
		}
		rs.perms = append(rs.perms, name)
	}
	if rs.dflt && len(rs.perms) > 0 {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_scope", 70011,
			"The provided value for the input parameter 'scope' is not valid. The scope %s is not valid. static scope limit exceeded.",
			sanitize(raw, 300))
	}
	switch {
	case res == s.graph:
		rs.audience = s.GraphResource()
	case res.AccessTokenAcceptedVersion == 2:
		rs.audience = res.ClientID
	default:
		rs.audience = resID
	}
	return rs, nil
}

// exposedScope returns the declared spelling of a delegated scope of res.
func exposedScope(res *app, perm string) (string, bool) {
	for _, sc := range res.Scopes {
		if strings.EqualFold(sc, perm) {
			return sc, true
		}
	}
	return "", false
}

// grantOn returns the client's grant on resource res, or nil.
func (s *Server) grantOn(client *app, res *app) *Grant {
	for i := range client.Grants {
		g := &client.Grants[i]
		if matchesApp(res, g.Resource) {
			return g
		}
		if res == s.graph && (strings.EqualFold(g.Resource, GraphAppID) || strings.EqualFold(strings.TrimSuffix(g.Resource, "/"), s.GraphResource())) {
			return g
		}
	}
	return nil
}

// delegatedScopes returns every delegated scope the client has been granted
// (consented) on rs.resource, in the resource's declared spelling, once
// every requested scope is among them: Entra's tokens carry all consented
// scopes, not only the requested ones. Missing consent gives 65001
// (invalid_grant, consent_required). An app asking for its own scopes
// needs no consent. Only OIDC scopes give nil.
func (s *Server) delegatedScopes(client *app, rs *resolvedScopes) ([]string, *oauthError) {
	if rs.resource == nil || (!rs.dflt && len(rs.perms) == 0) {
		return nil, nil
	}
	var consented []string
	if client == rs.resource {
		consented = rs.resource.Scopes
	} else if g := s.grantOn(client, rs.resource); g != nil {
		consented = g.DelegatedScopes
	}
	noConsent := func() *oauthError {
		e := newOAuthError(http.StatusBadRequest, "invalid_grant", 65001,
			"The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.",
			client.ClientID, sanitize(client.DisplayName, 100))
		e.suberror = "consent_required"
		return e
	}
	var all []string
	for _, c := range consented {
		if name, ok := exposedScope(rs.resource, c); ok && !hasScope(all, name) {
			all = append(all, name)
		}
	}
	if rs.dflt && len(all) == 0 {
		return nil, noConsent()
	}
	for _, p := range rs.perms {
		if !hasScope(all, p) {
			return nil, noConsent()
		}
	}
	return all, nil
}

// grantedRoles returns the app roles the client holds on res with admin consent.
func (s *Server) grantedRoles(client *app, res *app) []string {
	g := s.grantOn(client, res)
	if g == nil || !g.AdminConsent {
		return nil
	}
	var out []string
	for _, role := range g.AppRoles {
		for _, exposed := range res.AppRoles {
			if strings.EqualFold(role, exposed) {
				out = append(out, exposed)
			}
		}
	}
	return out
}
