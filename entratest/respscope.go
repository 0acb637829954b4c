package entratest

import (
	"sort"
	"strings"
)

// responseScope returns the "scope" of a user-token response as Entra
// answers it, not an echo of the request:
//   - the OIDC scopes requested, lower-cased and sorted, without
//     offline_access (it yields the refresh token but is never listed);
//   - every scope consented on the resource (consented, in the resource's
//     declared spelling), so scopes consented earlier are included;
//   - "<resource>/.default" last when .default was requested.
//
// Resource scopes carry the resource identifier as the request named it,
// in its registered spelling when it is the App ID URI or client ID; bare
// Graph names ("User.Read") stay bare. The v1 endpoint lists bare names.
// Every requested non-OIDC scope is thus present (case-insensitively), as
// MSAL requires.
func responseScope(req *tokenRequest, rs *resolvedScopes, consented, oidc []string) []string {
	var out []string
	if !req.v1 {
		for _, o := range oidc {
			if o = strings.ToLower(o); o != "offline_access" && !hasScope(out, o) {
				out = append(out, o)
			}
		}
		sort.Strings(out)
	}
	prefix, bare := scopePrefix(req, rs)
	for _, c := range consented {
		if bare {
			out = append(out, c)
		} else {
			out = append(out, prefix+"/"+c)
		}
	}
	if rs.dflt && !req.v1 {
		out = append(out, prefix+"/.default")
	}
	return out
}

// scopePrefix returns the resource identifier the response's scopes carry,
// or bare for Graph's short names and the v1 endpoint.
func scopePrefix(req *tokenRequest, rs *resolvedScopes) (prefix string, bare bool) {
	if req.v1 || rs.resource == nil {
		return "", true
	}
	for _, f := range rs.requested {
		if isOIDCScope(f) {
			continue
		}
		res, _ := splitScope(f)
		switch {
		case res == "":
			return "", true
		case rs.resource.AppIDURI != "" && strings.EqualFold(res, rs.resource.AppIDURI):
			return rs.resource.AppIDURI, false
		case strings.EqualFold(res, rs.resource.ClientID):
			return rs.resource.ClientID, false
		}
		return res, false
	}
	return "", true
}
