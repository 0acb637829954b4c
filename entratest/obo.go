package entratest

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The on-behalf-of grant (jwt-bearer with requested_token_use=on_behalf_of).
//
// The middle tier authenticates as a confidential client (a public client
// gets invalid_client AADSTS7000218). The assertion must be an access token
// this emulator signed with a published key, for the middle tier (aud = its
// client ID or App ID URI), from this tenant, not expired, for a user:
//
//	not a JWT                                 invalid_grant AADSTS50027
//	an id_token                               invalid_grant AADSTS240002
//	signature invalid: a Graph token (header
//	nonce), another cloud or emulator, or a
//	retired key                               invalid_grant AADSTS50013
//	audience is not the middle tier           invalid_grant AADSTS50013
//	issued by another tenant                  invalid_grant AADSTS50013
//	an app-only token                         invalid_grant AADSTS50013
//	expired                                   invalid_grant AADSTS500133
//	middle tier lacks consent downstream      invalid_grant AADSTS65001, suberror consent_required
//
// The reasons name what was found and what was expected (audiences, tenant
// IDs), never the token. The result is a user token for the downstream
// resource with the same user (oid, tid) and the middle tier as the client
// (appid/azp), plus a refresh token when offline_access was asked.

// oboGrant serves grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer.
func (s *Server) oboGrant(req *tokenRequest) (map[string]any, *oauthError) {
	use := req.form.Get("requested_token_use")
	switch use {
	case "":
		return nil, errMissingParam("requested_token_use")
	case "on_behalf_of":
	default:
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", 9002313,
			"Invalid request. requested_token_use '%s' is not supported; use on_behalf_of.", sanitize(use, 32))
	}
	assertion := req.form.Get("assertion")
	if assertion == "" {
		return nil, errMissingParam("assertion")
	}
	if e := s.authenticateClient(req); e != nil {
		return nil, e
	}
	if req.clientAuth == 0 {
		return nil, newOAuthError(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'. The on-behalf-of flow needs a confidential client.")
	}
	claims, e := s.checkUserAssertion(req, assertion)
	if e != nil {
		return nil, e
	}
	tid, _ := claims["tid"].(string)
	t := s.tenantByID(tid)
	u := s.assertionUser(t, claims)
	if t == nil || u == nil {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", 50034,
			"The user account of the assertion does not exist in the %s directory.", sanitize(tid, 64))
	}
	req.tenant = t
	rs, e := s.resolveScopes(req, req.form.Get("scope"))
	if e != nil {
		return nil, e
	}
	// Entra's OBO answer carries no id_token.
	var oidc []string
	for _, o := range rs.oidc {
		if !strings.EqualFold(o, "openid") {
			oidc = append(oidc, o)
		}
	}
	// The MFA rules apply to the session of the assertion's sign-in, which
	// the emulator keeps in aio as Entra keeps session data there.
	return s.issueUserTokens(req, userGrant{tenant: t, user: u, rs: rs, oidc: oidc, signIn: aioSignIn(claims["aio"])})
}

// checkUserAssertion runs the assertion checks and returns its verified claims.
func (s *Server) checkUserAssertion(req *tokenRequest, assertion string) (jwt.MapClaims, *oauthError) {
	invalid := func(code int, format string, args ...any) (jwt.MapClaims, *oauthError) {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", code, format, args...)
	}
	// Unverified read, for the reasons only: nothing below trusts it.
	unverified := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, unverified)
	if err != nil {
		return invalid(50027, "JWT token is invalid or malformed: the assertion is not a JWT.")
	}
	expected := "'" + req.client.ClientID + "'"
	if req.client.AppIDURI != "" {
		expected += " or '" + req.client.AppIDURI + "'"
	}
	foundAud := sanitize(audString(unverified["aud"]), 200)
	_, hasAppID := unverified["appid"]
	_, hasAzp := unverified["azp"]
	if !hasAppID && !hasAzp && unverified["preferred_username"] != nil {
		return invalid(240002, "Input id_token cannot be used as 'urn:ietf:params:oauth:grant-type:jwt-bearer' grant. Pass an access token whose audience is the middle tier (%s).", expected)
	}
	claims, err := s.verifyJWT(assertion)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		exp, _ := unverified.GetExpirationTime()
		when := "unknown"
		if exp != nil {
			when = exp.UTC().Format(time.RFC3339)
		}
		return invalid(500133, "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: %s, expiry time of assertion %s.",
			s.now().UTC().Format(time.RFC3339), when)
	default:
		why := "the signature does not match any key this emulator publishes (a token from another cloud or emulator instance, or signed with a retired key)"
		if _, ok := tok.Header["nonce"]; ok {
			why = "the assertion is a Microsoft Graph token (its header has a nonce), which only Graph can validate"
		}
		return invalid(50013, "Assertion failed signature validation. [Reason - %s. The assertion's audience is '%s'; the middle tier expects %s: the client must request a token for the middle tier's own scope and pass that.]",
			why, foundAud, expected)
	}
	if !audienceIs(req.client, claims["aud"]) {
		return invalid(50013, "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '%s' and the expected audience is %s or one of the Application Ids of this client.",
			foundAud, expected)
	}
	tid, _ := claims["tid"].(string)
	if req.tenant != nil && !strings.EqualFold(tid, req.tenant.id) {
		return invalid(50013, "Assertion failed signature validation. [Reason - the assertion was issued by tenant '%s' but this request is for tenant '%s'.]",
			sanitize(tid, 64), req.tenant.id)
	}
	scp, _ := claims["scp"].(string)
	if idtyp, _ := claims["idtyp"].(string); idtyp == "app" || strings.TrimSpace(scp) == "" {
		return invalid(50013, "Assertion failed signature validation. [Reason - the assertion is an app-only token (no user, no scp). On-behalf-of needs a user's access token; an app acting as itself uses client credentials.]")
	}
	return claims, nil
}

// assertionUser finds the assertion's user by oid in tenant t.
func (s *Server) assertionUser(t *tenant, claims jwt.MapClaims) *user {
	if t == nil {
		return nil
	}
	oid, _ := claims["oid"].(string)
	for _, u := range s.tenantUsers(t) {
		if strings.EqualFold(u.ObjectID, oid) {
			return u
		}
	}
	return nil
}

// audienceIs reports whether the aud claim names the app.
func audienceIs(a *app, aud any) bool {
	switch v := aud.(type) {
	case string:
		return matchesApp(a, v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && matchesApp(a, s) {
				return true
			}
		}
	}
	return false
}

func audString(aud any) string {
	switch v := aud.(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}
