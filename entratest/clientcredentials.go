package entratest

import "net/http"

// clientCredentialsGrant serves grant_type=client_credentials on the v2
// (scope=<resource>/.default) and v1 (resource=) token endpoints. The token
// carries roles only for app roles granted with admin consent, never scp.
func (s *Server) clientCredentialsGrant(req *tokenRequest) (map[string]any, *oauthError) {
	if req.tenant == nil || req.tenant.id == ConsumersTenantID {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_request", 9001023,
			"The provided grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")
	}
	if e := s.authenticateClient(req); e != nil {
		return nil, e
	}
	if req.client.PublicClient {
		return nil, newOAuthError(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	rs, e := s.resolveScopes(req, req.form.Get("scope"))
	if e != nil {
		return nil, e
	}
	at, exp, err := s.mintAccessToken(accessTokenParams{
		tenant:     req.tenant,
		client:     req.client,
		clientAuth: req.clientAuth,
		rs:         rs,
		roles:      s.grantedRoles(req.client, rs.resource),
		claims:     req.claims,
	})
	if err != nil {
		return nil, newOAuthError(http.StatusInternalServerError, "server_error", 0, "The token could not be issued.")
	}
	return s.tokenResponse(at, exp, nil), nil
}
