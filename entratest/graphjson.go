package entratest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// graphContentType is what Graph answers JSON with.
const graphContentType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// graphUserID is a user's Graph id: the oid for work accounts; for a
// personal account, the last 16 hex digits of its
// 00000000-0000-0000-XXXX-XXXXXXXXXXXX oid.
func graphUserID(u *user) string {
	if u.personal && len(u.ObjectID) == 36 {
		return strings.ToLower(strings.ReplaceAll(u.ObjectID[19:], "-", ""))
	}
	return u.ObjectID
}

// graphUser is a user in Graph's default projection.
func graphUser(u *user) map[string]any {
	given, surname, _ := strings.Cut(u.DisplayName, " ")
	m := map[string]any{
		"businessPhones":    []string{},
		"displayName":       u.DisplayName,
		"givenName":         nullIfEmpty(given),
		"jobTitle":          nil,
		"mail":              u.Username,
		"mobilePhone":       nil,
		"officeLocation":    nil,
		"preferredLanguage": nil,
		"surname":           nullIfEmpty(surname),
		"userPrincipalName": u.Username,
		"id":                graphUserID(u),
	}
	return m
}

// graphApplication is an app registration as /applications lists it.
func graphApplication(t *tenant, a *app) map[string]any {
	uris := []string{}
	if a.AppIDURI != "" {
		uris = append(uris, a.AppIDURI)
	}
	audience := "AzureADMyOrg"
	if a.AccessTokenAcceptedVersion == 2 {
		audience = "AzureADMultipleOrgs"
	}
	return map[string]any{
		"id":                     derivedGUID("application", t.id, a.ClientID),
		"appId":                  a.ClientID,
		"displayName":            a.DisplayName,
		"identifierUris":         uris,
		"signInAudience":         audience,
		"publisherDomain":        nullIfEmpty(t.domain),
		"isFallbackPublicClient": a.PublicClient,
		"appRoles":               graphAppRoles(a),
		"api": map[string]any{
			"requestedAccessTokenVersion": nullIfZero(a.AccessTokenAcceptedVersion),
			"oauth2PermissionScopes":      graphScopes(a),
		},
		"web": map[string]any{"redirectUris": append([]string{}, a.RedirectURIs...)},
	}
}

// graphServicePrincipal is an app's service principal in tenant t.
func graphServicePrincipal(t *tenant, a *app) map[string]any {
	owner, id := t.id, a.spOID
	names := []string{a.ClientID}
	if a.AppIDURI != "" {
		names = append(names, a.AppIDURI)
	}
	if a.ClientID == GraphAppID {
		owner, id = microsoftTenID, derivedGUID("sp", t.id, GraphAppID)
	}
	return map[string]any{
		"id":                     id,
		"appId":                  a.ClientID,
		"displayName":            a.DisplayName,
		"accountEnabled":         true,
		"servicePrincipalType":   "Application",
		"appOwnerOrganizationId": owner,
		"servicePrincipalNames":  names,
		"appRoles":               graphAppRoles(a),
		"oauth2PermissionScopes": graphScopes(a),
	}
}

func graphAppRoles(a *app) []map[string]any {
	out := []map[string]any{}
	for _, r := range a.AppRoles {
		out = append(out, map[string]any{"allowedMemberTypes": []string{"Application"}, "displayName": r,
			"id": derivedGUID("approle", a.ClientID, r), "isEnabled": true, "value": r})
	}
	return out
}

func graphScopes(a *app) []map[string]any {
	out := []map[string]any{}
	for _, sc := range a.Scopes {
		out = append(out, map[string]any{"id": derivedGUID("scope", a.ClientID, sc), "isEnabled": true,
			"type": "User", "value": sc})
	}
	return out
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullIfZero(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

// graphSelect applies $select to an entity: only the named properties.
func graphSelect(r *http.Request, m map[string]any) (map[string]any, string) {
	sel := r.URL.Query().Get("$select")
	if sel == "" {
		return m, ""
	}
	out := map[string]any{}
	var names []string
	for _, f := range strings.Split(sel, ",") {
		f = strings.TrimSpace(f)
		for k, v := range m {
			if strings.EqualFold(k, f) {
				out[k] = v
				names = append(names, k)
			}
		}
	}
	return out, "(" + strings.Join(names, ",") + ")"
}

// graphBase is the service root as the client called it.
func graphBase(r *http.Request, ver string) string {
	return "https://" + sanitize(r.Host, 128) + "/" + ver
}

// graphCollection answers a collection: @odata.context and value.
func (s *Server) graphCollection(w http.ResponseWriter, r *http.Request, ver, set string, items []map[string]any) {
	value := make([]map[string]any, 0, len(items))
	suffix := ""
	for _, it := range items {
		var sel map[string]any
		sel, suffix = graphSelect(r, it)
		value = append(value, sel)
	}
	s.graphJSON(w, r, http.StatusOK, map[string]any{
		"@odata.context": graphBase(r, ver) + "/$metadata#" + set + suffix,
		"value":          value,
	})
}

// graphEntity answers a single entity of an entity set.
func (s *Server) graphEntity(w http.ResponseWriter, r *http.Request, ver, set string, item map[string]any) {
	out, suffix := graphSelect(r, item)
	out["@odata.context"] = graphBase(r, ver) + "/$metadata#" + set + suffix + "/$entity"
	s.graphJSON(w, r, http.StatusOK, out)
}

// graphError answers Graph's error shape.
func (s *Server) graphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	s.graphJSON(w, r, status, s.graphErrorBody(r, code, message))
}

// graphErrorBody is Graph's error JSON.
func (s *Server) graphErrorBody(r *http.Request, code, message string) map[string]any {
	ids := idsOf(r)
	return map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]any{
			"date":              s.now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        ids.trace,
			"client-request-id": ids.correlation,
		},
	}}
}

// graphFaultCode is Graph's error code for an injected status.
func graphFaultCode(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "TooManyRequests"
	case status == http.StatusServiceUnavailable:
		return "serviceNotAvailable"
	case status >= 500:
		return "generalException"
	}
	return "BadRequest"
}

// graphUnauthorized answers 401 InvalidAuthenticationToken with Graph's
// WWW-Authenticate (or a CAE claims challenge).
func (s *Server) graphUnauthorized(w http.ResponseWriter, r *http.Request, e *graphAuthError) {
	ch := e.challenge
	if ch == "" {
		ch = `Bearer realm="", authorization_uri="https://` + s.cloud.v2Host + `/common/oauth2/authorize", client_id="` + GraphAppID + `"`
	}
	w.Header().Set("WWW-Authenticate", ch)
	s.graphError(w, r, http.StatusUnauthorized, "InvalidAuthenticationToken", e.message)
}

// graphForbidden answers 403 Authorization_RequestDenied.
func (s *Server) graphForbidden(w http.ResponseWriter, r *http.Request) {
	s.graphError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

// graphJSON writes a Graph JSON answer with Graph's headers.
func (s *Server) graphJSON(w http.ResponseWriter, r *http.Request, status int, body any) {
	ids := idsOf(r)
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"entratest: encoding failed"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", graphContentType)
	h.Set("request-id", ids.trace)
	h.Set("client-request-id", ids.correlation)
	h.Set("Cache-Control", "no-cache")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
