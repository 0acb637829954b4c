package entrahttp

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// normHost returns a URL host ("name" or "name:port") in the form hosts
// are compared in: lower case, with an explicit :443 removed (so
// "LOGIN.example:443" and "login.example" are one host).
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if name, port, err := net.SplitHostPort(h); err == nil && port == "443" {
		if strings.Contains(name, ":") {
			return "[" + name + "]"
		}
		return name
	}
	return h
}

// normHosts normalizes Options.TrustedHosts, dropping empty entries.
func normHosts(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if h = normHost(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// trusts reports whether a request to u may be sent: always when no
// TrustedHosts were given, else only over https to one of them.
func (c *Client) trusts(u *url.URL) bool {
	if len(c.trusted) == 0 {
		return true
	}
	if u == nil || !strings.EqualFold(u.Scheme, "https") {
		return false
	}
	h := normHost(u.Host)
	for _, t := range c.trusted {
		if h == t {
			return true
		}
	}
	return false
}

// maxFormPeek bounds how much of a request body isTokenRequest reads.
const maxFormPeek = 64 << 10

// isTokenRequest reports whether r asks a token endpoint for a token, so
// that its 200 answer must be a valid token response: a POST to a path
// ending in /token, or any POST whose (replayable) form body, given as
// form, carries grant_type. The second test catches a token endpoint that
// metadata moved to another path; MSAL's form posts are always replayable.
func isTokenRequest(r *http.Request, form url.Values) bool {
	if r.Method != http.MethodPost {
		return false
	}
	return strings.HasSuffix(r.URL.Path, "/token") || form.Has("grant_type")
}
