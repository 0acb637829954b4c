package entra

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// configError builds an Op "config" error wrapping ErrConfig, without a
// hint. Prefer configErrorHint: every configuration error should say what
// to do.
func configError(format string, args ...any) *Error {
	return &Error{Op: "config", Code: "invalid_config", Description: oneLine(fmt.Sprintf(format, args...), maxDescription), Err: ErrConfig}
}

// configErrorHint builds an Op "config" error wrapping ErrConfig whose Hint
// says what to do. The description says what is wrong; format and args
// build it.
func configErrorHint(hint, format string, args ...any) *Error {
	e := configError(format, args...)
	e.Hint = hint
	return e
}

// hintTenant is the hint of every invalid tenant ID.
const hintTenant = "pass the directory (tenant) ID, a GUID shown on the app registration's Overview page, " +
	"or a verified domain such as contoso.onmicrosoft.com"

// validTenant accepts a GUID or a domain-like name: letters, digits, "."
// and "-", not starting or ending with "." — never a path. Multi-tenant
// aliases are rejected: client credentials need one tenant. So is "adfs":
// AD FS is not Entra ID.
func validTenant(t string) error {
	if t == "" {
		return configErrorHint(hintTenant, "the tenant ID is empty")
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return configErrorHint(hintTenant, "the tenant ID %q is invalid", t)
		}
	}
	if strings.HasPrefix(t, ".") || strings.HasSuffix(t, ".") || strings.Contains(t, "..") || len(t) > 256 {
		return configErrorHint(hintTenant, "the tenant ID %q is invalid", t)
	}
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers":
		return configErrorHint("app-only tokens are issued by one tenant: pass the directory (tenant) ID of the tenant "+
			"where the app's service principal was granted its permissions",
			"tenant %q is a multi-tenant alias, not allowed for app-only tokens", t)
	case "adfs":
		return configErrorHint("entra talks to Microsoft Entra ID only: pass the Entra directory (tenant) ID, "+
			"or use an AD FS client library for an AD FS server",
			"tenant \"adfs\" names an AD FS server, which entra does not support")
	}
	return nil
}

// validClientID accepts an application (client) ID: non-empty, no
// whitespace or URL delimiters.
func validClientID(clientID string) error {
	if strings.TrimSpace(clientID) == "" || strings.ContainsAny(clientID, " \t\r\n/?#") {
		return configErrorHint("pass the application (client) ID, a GUID shown on the app registration's Overview page",
			"the client ID %q is invalid", oneLine(clientID, 64))
	}
	return nil
}

// validAuthorityHost accepts what httpsHost accepts: an https URL with a
// host, an optional non-empty port, and no path.
func validAuthorityHost(host string) error {
	_, err := httpsHost("the authority host", host, true)
	return err
}

// hintAllowedHost is the hint of every invalid Options.AllowedHosts entry.
const hintAllowedHost = `write each entry as a host name, "api.example.com", or with its port, "api.example.com:8443" — no scheme, path or spaces`

// validAllowedHosts checks Options.AllowedHosts: each entry is "host" or
// "host:port" (an IPv6 address in brackets). An entry written as a URL
// would silently never match, so it fails loudly, naming the entry and the
// form to use instead.
func validAllowedHosts(hosts []string) error {
	for i, h := range hosts {
		if err := validAllowedHost(h); err != "" {
			hint := hintAllowedHost
			if s := suggestHost(h); s != "" {
				hint = fmt.Sprintf("write %q; ", s) + hint
			}
			return configErrorHint(hint, "Options.AllowedHosts[%d] %q %s", i, oneLine(h, 128), err)
		}
	}
	return nil
}

// validAllowedHost returns what is wrong with one AllowedHosts entry, or "".
func validAllowedHost(h string) string {
	switch {
	case strings.TrimSpace(h) == "":
		return "is empty"
	case strings.IndexFunc(h, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return "contains whitespace or control characters"
	case strings.Contains(h, "://"):
		return "is a URL, not a host"
	case strings.ContainsAny(h, "/?#"):
		return "has a path, query or fragment"
	case strings.Contains(h, "@"):
		return "has user info"
	}
	return hostPortProblem(h)
}

// hostPortProblem checks "host" or "host:port" and returns what is wrong
// with it, or "".
func hostPortProblem(h string) string {
	name, port := h, ""
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
		var err error
		if name, port, err = net.SplitHostPort(h); err != nil {
			if !strings.HasPrefix(h, "[") || !strings.HasSuffix(h, "]") {
				return "is not \"host\" or \"host:port\""
			}
			name, port = h[1:len(h)-1], ""
		} else if port == "" {
			return "has an empty port"
		}
	} else if strings.Contains(h, ":") {
		return "is an IPv6 address without brackets"
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Sprintf("has an invalid port %q", port)
		}
	}
	switch {
	case name == "":
		return "has no host name"
	case strings.HasSuffix(name, "."):
		return "ends with a dot"
	}
	return ""
}

// suggestHost returns the "host[:port]" a malformed AllowedHosts entry
// probably meant (for "https://api.example.com/v1", "api.example.com"), or
// "" when there is nothing better to suggest.
func suggestHost(h string) string {
	h = strings.TrimSpace(h)
	if !strings.Contains(h, "://") {
		h = "https://" + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" {
		return ""
	}
	s := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if strings.Contains(s, ":") {
		s = "[" + s + "]"
	}
	if p := u.Port(); p != "" && p != "443" {
		s += ":" + p
	}
	if s == "" || validAllowedHost(s) != "" {
		return ""
	}
	return s
}

// validApp checks what every credential needs besides its tenant: the
// client ID, the cloud's authority host and Options.AllowedHosts.
func validApp(s settings, clientID string) error {
	if err := validClientID(clientID); err != nil {
		return err
	}
	if err := validAuthorityHost(s.cloud.AuthorityHost()); err != nil {
		return err
	}
	return validAllowedHosts(s.allowedHosts)
}
