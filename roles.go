package entra

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// rolesWarning returns a warning when an app-only token for an API other
// than Azure Resource Manager (which authorizes with Azure RBAC, not
// roles) carries no roles claim: no app role of the API was granted to
// this app with admin consent, so an API that checks roles will refuse the
// token. It reads the token's claims without verifying them; an opaque
// token gets no warning. It returns "" when there is nothing to say.
func (c *Credential) rolesWarning(set scopeSet, accessToken string) string {
	cloud := c.s.cloud
	if cloud.ARMScope() != "" && sameResource(set.resource, strings.TrimSuffix(cloud.ARMScope(), defaultSuffix), cloud) {
		return ""
	}
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 || len(parts[1]) > 64<<10 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Roles []string `json:"roles"`
		Scp   string   `json:"scp"`
	}
	if json.Unmarshal(payload, &claims) != nil || len(claims.Roles) > 0 || claims.Scp != "" {
		return ""
	}
	return "the app-only token for " + set.resource + " carries no roles claim: no app role (application " +
		"permission) of this API is granted to this app with admin consent, so an API that checks roles will " +
		"refuse it with 401 or 403. In the API's app registration define an app role for applications; in this " +
		"app's registration add it under API permissions > Application permissions and grant admin consent. " +
		"Tokens issued after that carry roles"
}
