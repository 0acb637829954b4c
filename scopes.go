package entra

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// ErrWrongCloud: a scope names a Microsoft Graph of another cloud than the
// credential's (e.g. https://graph.microsoft.com/.default with China). Such
// a token cannot be issued by this cloud's Entra nor used on its Graph.
var ErrWrongCloud = errors.New("entra: scope names a resource of another cloud")

// ErrInvalidScope: a scope is malformed, e.g. it holds a space (two scopes
// written as one string) or a control character.
var ErrInvalidScope = errors.New("entra: invalid scope")

// graphAppID is Microsoft Graph's application ID, the same in every cloud.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// defaultSuffix ends every app-only scope.
const defaultSuffix = "/.default"

// scopeSet is a validated, normalized list of scopes for one resource.
// Immutable.
//
// The cache key folds what is case-insensitive and nothing else: the
// scheme and host of a URI scope (RFC 3986 §6.2.2.1; Entra also matches
// App ID URIs case-insensitively) and a GUID resource, so
// "API://MyApp/.default" and "api://myapp/.default" share one entry and
// one request. The path keeps its case (RFC 3986 treats it as
// significant). The scopes sent are the first spelling seen.
type scopeSet struct {
	scopes   []string // trimmed, deduplicated case-insensitively, sorted: what is sent
	key      string   // scopeKey of the scopes joined by " " (after account + "\x00" for user tokens): the cache key
	resource string   // the resource identifier, e.g. "api://x" or "https://graph.microsoft.com"
	account  string   // home account ID for user tokens; "" for app-only tokens
}

// scopeKey returns the cache key form of one scope: the scheme and host of
// a URI, or a leading GUID, lower-cased; the rest as given. It does not
// allocate when the scope is already in that form.
func scopeKey(s string) string {
	end := 0
	if i := strings.Index(s, "://"); i > 0 {
		end = len(s)
		if j := strings.IndexByte(s[i+3:], '/'); j >= 0 {
			end = i + 3 + j
		}
	} else if len(s) >= 36 && isGUID(s[:36]) && (len(s) == 36 || s[36] == '/') {
		end = 36
	}
	if lower := strings.ToLower(s[:end]); lower != s[:end] {
		return lower + s[end:]
	}
	return s
}

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hexadecimal form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// badScopeRune reports whether r may not appear inside a scope: Entra
// separates scopes by spaces, so a scope holding one is two scopes.
func badScopeRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
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
// for "https://management.azure.com//.default"); the scope itself when it is
// a bare resource, a URI without a path ("api://x", "https://graph.microsoft.com")
// or a GUID (an application ID); or the cloud's Graph for a bare permission
// name such as "User.Read".
func scopeResource(scope string, cloud Cloud) string {
	if i := strings.Index(scope, "://"); i > 0 && !strings.Contains(scope[i+3:], "/") {
		return scope
	}
	if isGUID(scope) {
		return scope
	}
	i := strings.LastIndex(scope, "/")
	if i < 0 {
		return cloud.GraphAudience()
	}
	return scope[:i]
}

// sameResource compares two resource identifiers: case-insensitively,
// ignoring a trailing "/", and treating Graph's application ID as the
// cloud's Graph audience.
func sameResource(a, b string, cloud Cloud) bool {
	return canonicalResource(a, cloud) == canonicalResource(b, cloud)
}

func canonicalResource(r string, cloud Cloud) string {
	r = strings.ToLower(strings.TrimRight(r, "/"))
	if r == graphAppID {
		r = strings.ToLower(strings.TrimRight(cloud.GraphAudience(), "/"))
	}
	return r
}

// otherCloudGraph returns the name of the cloud whose Microsoft Graph the
// resource is, when that is not the credential's cloud; "" otherwise.
func otherCloudGraph(resource string, cloud Cloud) string {
	for _, c := range []Cloud{Public, China, USGovernment, USGovernmentDoD, Germany} {
		if c.GraphAudience() == "" || sameResource(c.GraphAudience(), cloud.GraphAudience(), cloud) {
			continue
		}
		if sameResource(resource, c.GraphAudience(), cloud) {
			return c.Name()
		}
	}
	return ""
}

// oneResource validates scopes for one token before anything is sent: at
// least one scope naming a resource, no whitespace inside a scope, one
// resource, in the credential's cloud. OpenID Connect scopes are dropped
// (MSAL adds its own). app selects the hints for app-only tokens. It
// returns the resource scopes, normalized, and their resource.
func oneResource(cloud Cloud, in []string, app bool) ([]string, string, error) {
	all := normalizeScopes(in)
	for _, sc := range all {
		if strings.IndexFunc(sc, badScopeRune) >= 0 {
			e := scopeError(ErrInvalidScope, nil, "scope %q contains whitespace or a control character", sc)
			e.Hint = "pass each scope as a separate argument, e.g. Token(ctx, \"a\", \"b\"), not one string with spaces"
			if app {
				e.Hint += "; an app-only token takes exactly one \"<resource>/.default\" scope"
			}
			return nil, "", e
		}
	}
	example := "\"api://<api-app-id>/.default\" or " + cloud.GraphScope()
	if !app {
		example = "\"User.Read\" (Microsoft Graph) or \"api://<api-app-id>/access_as_user\""
	}
	if len(all) == 0 {
		e := scopeError(ErrNoScopes, nil, "no scope given")
		e.Hint = "pass the scopes of one resource, e.g. " + example
		return nil, "", e
	}
	scopes := slices.DeleteFunc(slices.Clone(all), isOIDCScope)
	if len(scopes) == 0 {
		if app {
			return nil, "", scopeError(ErrNeedDefaultScope, []int{1002012},
				"only OpenID Connect scopes given (%s): an app-only token needs \"<resource>/.default\"", strings.Join(all, " "))
		}
		e := scopeError(ErrNoScopes, nil, "only OpenID Connect scopes given (%s): an access token needs a scope of an API", strings.Join(all, " "))
		e.Hint = "add the scopes of the API to call, e.g. " + example + "; entra signs the user in with openid and profile itself"
		return nil, "", e
	}
	resource := scopeResource(scopes[0], cloud)
	for _, s := range scopes {
		r := scopeResource(s, cloud)
		if name := otherCloudGraph(r, cloud); name != "" {
			e := scopeError(ErrWrongCloud, nil,
				"scope %q is Microsoft Graph of cloud %q but the credential uses cloud %q", s, name, cloud.Name())
			e.Hint = "tokens and Graph hosts are per cloud: use " + cloud.GraphScope() +
				" (Credential.Graph builds Graph requests for the credential's cloud)"
			return nil, "", e
		}
		if !sameResource(r, resource, cloud) {
			return nil, "", scopeError(ErrMultipleResources, []int{28000},
				"scopes %q and %q belong to different resources (%s, %s)", scopes[0], s, displayResource(resource), displayResource(r))
		}
	}
	return scopes, resource, nil
}

// logged is how log lines name the entry: its scopes (never the account).
func (s scopeSet) logged() string { return strings.Join(s.scopes, " ") }

// userScopes validates the scopes of a user (delegated) token: those of
// one resource, any of its permissions (User.Read, api://x/access_as_user,
// or <resource>/.default for all consented ones). The key lists every
// scope; account partitions it per signed-in account.
func userScopes(cloud Cloud, account string, in []string) (scopeSet, error) {
	scopes, resource, err := oneResource(cloud, in, false)
	if err != nil {
		return scopeSet{}, err
	}
	keys := make([]string, len(scopes))
	for i, sc := range scopes {
		keys[i] = scopeKey(sc)
	}
	key := account + "\x00" + strings.Join(keys, " ")
	// account shares the key's bytes: an entry keeps no other copy (the
	// caller's may be a new string per request, e.g. read from a session).
	return scopeSet{scopes: scopes, key: key, resource: resource, account: key[:len(account)]}, nil
}

// appScopes validates scopes for an app-only (client credentials) request
// before anything is sent: at least one scope, one resource, that resource
// in the credential's cloud, and exactly one "<resource>/.default" scope.
// OpenID Connect scopes are dropped (MSAL adds its own). Every failure is an
// *Error with Op "scope" whose hint names the fix.
func appScopes(cloud Cloud, in []string) (scopeSet, error) {
	scopes, resource, err := oneResource(cloud, in, true)
	if err != nil {
		return scopeSet{}, err
	}
	if len(scopes) != 1 || !strings.HasSuffix(scopes[0], defaultSuffix) || resource == "" {
		want := "<resource>" + defaultSuffix
		if resource != "" {
			want = resource + defaultSuffix
		}
		e := scopeError(ErrNeedDefaultScope, []int{1002012},
			"app-only tokens need exactly one %q scope, got %q", want, strings.Join(scopes, " "))
		switch {
		case resource == "":
		case len(scopes) == 1 && sameResource(scopes[0], resource, cloud):
			e.Hint = fmt.Sprintf("request %q: an app-only scope is the resource's identifier followed by %q", want, defaultSuffix)
		default:
			e.Hint = fmt.Sprintf("request %q: an app-only token carries the application permissions (app roles) granted "+
				"to the app with admin consent, not the permissions named in the request", want)
		}
		return scopeSet{}, e
	}
	return scopeSet{scopes: scopes, key: scopeKey(scopes[0]), resource: resource}, nil
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
