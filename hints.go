package entra

// hint returns what the caller should do next for one AADSTS code, or "".
// Each hint must make sense on its own, read by someone who has never seen
// the code. (A switch, not a map: no package-level mutable state.)
func hint(code int) string {
	switch code {
	case 7000215:
		return "the client secret is wrong: use the secret's Value (shown once when it is created), not its Secret ID, " +
			"and check it belongs to this app registration"
	case 7000222:
		return "the client secret has expired: create a new client secret for the app registration " +
			"(Certificates & secrets) and deploy its value"
	case 7000218:
		return "the app is confidential but the request carried no client secret or client assertion: " +
			"configure a secret or certificate, or enable public client flows for this app"
	case 700016:
		return "no app with this client ID exists in this tenant: check the client (application) ID and the tenant ID, " +
			"and that a multi-tenant app was consented to in this tenant"
	case 90002:
		return "the tenant was not found: check the tenant ID or domain, and the cloud — sovereign clouds " +
			"(US Government, China) have separate tenants and authority hosts"
	case 70011:
		return "the scope is invalid: use \"<resource>/.default\" (e.g. https://graph.microsoft.com/.default) " +
			"or a scope that the API actually exposes"
	case 28000:
		return "the scopes name more than one resource: one token covers one resource, so request each resource separately"
	case 1002012:
		return "client credentials need \"<resource>/.default\" (e.g. https://graph.microsoft.com/.default), " +
			"not a single permission such as User.Read; grant application permissions to the app instead"
	case 65001:
		return "consent is missing: a user or an administrator must consent to these permissions " +
			"(for application permissions, grant admin consent in the app registration)"
	case 50013:
		return "the on-behalf-of assertion was rejected: pass the incoming access token whose audience (aud) is " +
			"your middle-tier API — not a Microsoft Graph token or an id_token"
	case 500133:
		return "the on-behalf-of assertion has expired: the caller must send a fresh access token for your API"
	case 700024:
		return "the client assertion is outside its valid time range: check the clock of this machine and the assertion's nbf/exp"
	case 700027:
		return "the client assertion signature was not accepted: upload this certificate's public key to the app registration, " +
			"or sign with the key whose certificate is registered"
	case 700082:
		return "the refresh token has expired or is inactive: the user must sign in again"
	case 70008:
		return "the refresh token has expired or was revoked: the user must sign in again"
	case 50173:
		return "the refresh token was revoked (for example after a password change): the user must sign in again"
	case 54005:
		return "the authorization code was already redeemed: codes are single-use, start a new sign-in"
	case 501481:
		return "the code verifier does not match the code challenge: use the same PKCE verifier that made the authorization request"
	case 50076:
		return "multi-factor authentication is required: sign the user in interactively"
	case 50079:
		return "the user must register for multi-factor authentication: sign in interactively"
	case 53003:
		return "access was blocked by Conditional Access policies"
	case 500011:
		return "the resource was not found in this tenant: check the scope's resource (App ID URI) and that the API's " +
			"service principal exists in the tenant"
	case 700025:
		return "the app is a public client and must not send a client secret or assertion"
	case 50049:
		return "the authority host is not a known Entra instance: check the cloud/authority host or disable instance discovery"
	case 700022:
		return "the scopes name more than one resource: request each resource separately"
	case 90055:
		return "the tenant is being throttled for too many requests: wait as long as Retry-After says, " +
			"then lower the token request rate (reuse one Credential so tokens are cached)"
	case 50196:
		return "Entra detected a loop of token requests: cache tokens (reuse one Credential and its TokenSource) " +
			"instead of asking for a new token on every call"
	}
	return ""
}

// hintFor returns the hint for the first code in codes that has one, or "".
func hintFor(codes []int) string {
	for _, c := range codes {
		if h := hint(c); h != "" {
			return h
		}
	}
	return ""
}
