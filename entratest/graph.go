package entratest

import (
	"net/http"
	"strings"
)

// A minimal Microsoft Graph, served on the emulator's own host (GraphURL):
//
//	GET /v1.0/me                 the signed-in user (delegated tokens only)
//	GET /v1.0/users              the tenant's users
//	GET /v1.0/users/{id | upn}   one user
//	GET /v1.0/applications       the tenant's app registrations
//	GET /v1.0/servicePrincipals  the tenant's service principals, Graph's included
//
// (also under /beta). Every request needs a Graph token of the emulator's
// cloud (graphAuth). App-only tokens need an app role in roles and
// delegated tokens a scope in scp, as Graph's permission reference lists:
// users need User.Read.All or Directory.Read.All (delegated also
// User.ReadBasic.All; User.Read for oneself), applications and service
// principals Application.Read.All or Directory.Read.All. Answers have
// Graph's shapes: @odata.context, "value" collections, and errors
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}
// with 401 InvalidAuthenticationToken (and WWW-Authenticate), 403
// Authorization_RequestDenied, 404 Request_ResourceNotFound, 400
// BadRequest. Personal accounts have Graph ids of 16 hex digits, the last
// 16 of their oid (00000000-0000-0000-XXXX-XXXXXXXXXXXX). $select is honoured.

// Permissions that allow reading users and applications (any one suffices).
var (
	readUsersApp   = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	readUsersUser  = []string{"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}
	readSelf       = []string{"User.Read", "User.ReadWrite"}
	readAppsApp    = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	readAppsUser   = append([]string{"Directory.AccessAsUser.All"}, readAppsApp...)
	graphVersions  = []string{"v1.0", "beta"}
	microsoftTenID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a" // owner of Microsoft's first-party apps
)

// isGraphPath reports whether a request path is one of Graph's.
func isGraphPath(p string) bool {
	for _, v := range graphVersions {
		if p == "/"+v || strings.HasPrefix(p, "/"+v+"/") {
			return true
		}
	}
	return false
}

// handleGraph serves the Graph paths.
func (s *Server) handleGraph(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	ver := segs[0]
	segs = segs[1:]
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		s.graphError(w, r, http.StatusMethodNotAllowed, "Request_BadRequest",
			"Specified HTTP method is not allowed for the request target.")
		return
	}
	p, ae := s.graphAuth(r)
	if ae != nil {
		s.graphUnauthorized(w, r, ae)
		return
	}
	if len(segs) == 0 || segs[0] == "" {
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "Invalid request: no resource segment.")
		return
	}
	switch {
	case len(segs) == 1 && strings.EqualFold(segs[0], "me"):
		s.graphMe(w, r, ver, p)
	case len(segs) == 1 && strings.EqualFold(segs[0], "users"):
		if !p.allowed(readUsersApp, readUsersUser) {
			s.graphForbidden(w, r)
			return
		}
		var list []map[string]any
		for _, u := range s.tenantUsers(p.tenant) {
			list = append(list, graphUser(u))
		}
		s.graphCollection(w, r, ver, "users", list)
	case len(segs) == 2 && strings.EqualFold(segs[0], "users"):
		s.graphUserByID(w, r, ver, p, segs[1])
	case len(segs) == 1 && strings.EqualFold(segs[0], "applications"):
		if !p.allowed(readAppsApp, readAppsUser) {
			s.graphForbidden(w, r)
			return
		}
		var list []map[string]any
		for _, a := range s.tenantApps(p.tenant) {
			list = append(list, graphApplication(p.tenant, a))
		}
		s.graphCollection(w, r, ver, "applications", list)
	case len(segs) == 1 && strings.EqualFold(segs[0], "servicePrincipals"):
		if !p.allowed(readAppsApp, readAppsUser) {
			s.graphForbidden(w, r)
			return
		}
		list := []map[string]any{graphServicePrincipal(p.tenant, s.graph)}
		for _, a := range s.tenantApps(p.tenant) {
			list = append(list, graphServicePrincipal(p.tenant, a))
		}
		s.graphCollection(w, r, ver, "servicePrincipals", list)
	default:
		s.graphError(w, r, http.StatusBadRequest, "BadRequest",
			"Resource not found for the segment '"+sanitize(segs[0], 64)+"'.")
	}
}

// graphMe answers /me: delegated tokens only.
func (s *Server) graphMe(w http.ResponseWriter, r *http.Request, ver string, p *graphPrincipal) {
	switch {
	case p.user == nil:
		s.graphError(w, r, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
	case !p.allowed(nil, append(readSelf, readUsersUser...)):
		s.graphForbidden(w, r)
	default:
		s.graphEntity(w, r, ver, "users", graphUser(p.user))
	}
}

// graphUserByID answers /users/{id}, id being a Graph id or a UPN.
func (s *Server) graphUserByID(w http.ResponseWriter, r *http.Request, ver string, p *graphPrincipal, id string) {
	var found *user
	for _, u := range s.tenantUsers(p.tenant) {
		if strings.EqualFold(graphUserID(u), id) || strings.EqualFold(u.ObjectID, id) || strings.EqualFold(u.Username, id) {
			found = u
		}
	}
	self := found != nil && p.user != nil && found == p.user
	if !p.allowed(readUsersApp, readUsersUser) && !(self && p.allowed(nil, readSelf)) {
		s.graphForbidden(w, r)
		return
	}
	if found == nil {
		s.graphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+sanitize(id, 128)+"' does not exist or one of its queried reference-property objects are not present.")
		return
	}
	s.graphEntity(w, r, ver, "users", graphUser(found))
}

// allowed reports whether the caller holds one of appRoles (app-only
// token, in roles) or one of scopes (delegated token, in scp).
func (p *graphPrincipal) allowed(appRoles, scopes []string) bool {
	held, need := p.roles, appRoles
	if p.user != nil {
		held, need = p.scp, scopes
	}
	for _, h := range held {
		if hasScope(need, h) {
			return true
		}
	}
	return false
}

// tenantApps returns the app registrations of a tenant in the order added.
func (s *Server) tenantApps(t *tenant) []*app {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*app(nil), t.apps...)
}
