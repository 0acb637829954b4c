package entra

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// ErrWrongCloud: a scope names a Microsoft Graph of another cloud than the
// credential's (e.g. https://graph.microsoft.com/.default with China). Such
// a token cannot be issued by this cloud's Entra nor used on its Graph.
var ErrWrongCloud = errors.New("entra: scope names a resource of another cloud")

// graphAppID is Microsoft Graph's application ID, the same in every cloud.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// defaultSuffix ends every app-only scope.
const defaultSuffix = "/.default"

// scopeSet is a validated, normalized list of scopes for one resource.
// Immutable.
type scopeSet struct {
	scopes   []string // trimmed, deduplicated case-insensitively, sorted
	key      string   // scopes joined by " ": the cache key
	resource string   // the resource identifier, e.g. "api://x" or "https://graph.microsoft.com"
}

// isOIDCScope reports whether s is one of the OpenID Connect scopes, which
// name no resource.
func isOIDCScope(s string) bool {
	switch strings.ToLower(s) {
	case "openid", "profile", "offline_access", "email":
		return true
	}
	return false
}

// normalizeScopes trims every scope, drops empty ones, removes duplicates
// compared case-insensitively (the first spelling wins) and sorts the rest
// case-insensitively. The result is a new slice.
func normalizeScopes(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}

// scopeResource returns the resource a scope belongs to: the text before its
// last "/" (e.g. "api://x" for "api://x/.default", "https://management.azure.com/"
// for "https://management.azure.com//.default"), or the cloud's Graph for a
// bare permission name such as "User.Read".
func scopeResource(scope string, cloud Cloud) string {
	i := strings.LastIndex(scope, "/")
	if i < 0 {
		return cloud.GraphURL()
	}
	return scope[:i]
}

// sameResource compares two resource identifiers: case-insensitively,
// ignoring a trailing "/", and treating Graph's application ID as the
// cloud's Graph URL.
func sameResource(a, b string, cloud Cloud) bool {
	return canonicalResource(a, cloud) == canonicalResource(b, cloud)
}

func canonicalResource(r string, cloud Cloud) string {
	r = strings.ToLower(strings.TrimRight(r, "/"))
	if r == graphAppID {
		r = strings.ToLower(strings.TrimRight(cloud.GraphURL(), "/"))
	}
	return r
}

// otherCloudGraph returns the name of the cloud whose Microsoft Graph the
// resource is, when that is not the credential's cloud; "" otherwise.
func otherCloudGraph(resource string, cloud Cloud) string {
	for _, c := range []Cloud{Public, China, USGovernment, USGovernmentDoD, Germany} {
		if c.GraphURL() == "" || sameResource(c.GraphURL(), cloud.GraphURL(), cloud) {
			continue
		}
		if sameResource(resource, c.GraphURL(), cloud) {
			return c.Name()
		}
	}
	return ""
}

// appScopes validates scopes for an app-only (client credentials) request
// before anything is sent: at least one scope, one resource, that resource
// in the credential's cloud, and exactly one "<resource>/.default" scope.
// OpenID Connect scopes are dropped (MSAL adds its own). Every failure is an
// *Error with Op "scope" whose hint names the fix.
func appScopes(cloud Cloud, in []string) (scopeSet, error) {
	all := normalizeScopes(in)
	if len(all) == 0 {
		e := scopeError(ErrNoScopes, nil, "no scope given")
		e.Hint = "pass one \"<resource>/.default\" scope, e.g. \"api://<api-app-id>/.default\" or " + cloud.GraphScope()
		return scopeSet{}, e
	}
	scopes := slices.DeleteFunc(slices.Clone(all), isOIDCScope)
	if len(scopes) == 0 {
		return scopeSet{}, scopeError(ErrNeedDefaultScope, []int{1002012},
			"only OpenID Connect scopes given (%s): an app-only token needs \"<resource>/.default\"", strings.Join(all, " "))
	}
	resource := scopeResource(scopes[0], cloud)
	for _, s := range scopes {
		r := scopeResource(s, cloud)
		if name := otherCloudGraph(r, cloud); name != "" {
			e := scopeError(ErrWrongCloud, nil,
				"scope %q is Microsoft Graph of cloud %q but the credential uses cloud %q", s, name, cloud.Name())
			e.Hint = "tokens and Graph hosts are per cloud: use " + cloud.GraphScope() +
				" (Credential.Graph builds Graph requests for the credential's cloud)"
			return scopeSet{}, e
		}
		if !sameResource(r, resource, cloud) {
			return scopeSet{}, scopeError(ErrMultipleResources, []int{28000},
				"scopes %q and %q belong to different resources (%s, %s)", scopes[0], s, displayResource(resource), displayResource(r))
		}
	}
	if len(scopes) != 1 || !strings.HasSuffix(scopes[0], defaultSuffix) || resource == "" {
		want := "<resource>" + defaultSuffix
		if resource != "" {
			want = resource + defaultSuffix
		}
		return scopeSet{}, scopeError(ErrNeedDefaultScope, []int{1002012},
			"app-only tokens need exactly one %q scope, got %q", want, strings.Join(scopes, " "))
	}
	return scopeSet{scopes: scopes, key: scopes[0], resource: resource}, nil
}

// displayResource names a resource for a message.
func displayResource(r string) string {
	if r == "" {
		return "<none>"
	}
	return r
}

// resourceHost returns the host of an https resource identifier, or "" when
// the resource is not an https URL (api://..., a GUID).
func resourceHost(resource string) string {
	u, err := url.Parse(resource)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}
