package entratest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionSkew is the clock skew allowed on client assertions.
const assertionSkew = 5 * time.Minute

// authenticateClient checks the client credential of a token request:
// client_secret (post or basic), private_key_jwt, or none for public apps.
// It sets req.client and req.clientAuth.
func (s *Server) authenticateClient(req *tokenRequest) *oauthError {
	clientID := req.form.Get("client_id")
	secret, hasSecret := req.form.Get("client_secret"), req.form.Has("client_secret")
	rawBasic := "" // client_secret_basic as sent, if it differs from its form-decoding
	if u, p, ok := req.r.BasicAuth(); ok {
		if uu, err := url.QueryUnescape(u); err == nil {
			u = uu
		}
		pp, err := url.QueryUnescape(p)
		if err != nil {
			pp = p
		}
		if clientID == "" {
			clientID = u
		}
		if strings.EqualFold(u, clientID) {
			secret, hasSecret = pp, true
			if pp != p {
				rawBasic = p
			}
		}
	}
	if clientID == "" {
		return errMissingParam("client_id")
	}
	a := s.lookupClient(req.tenant, clientID)
	if a == nil {
		return newOAuthError(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
			sanitize(clientID, 64), s.tenantName(req))
	}
	assertion := req.form.Get("client_assertion")
	hasAssertion := req.form.Has("client_assertion")
	if a.PublicClient && (hasSecret || hasAssertion) {
		return newOAuthError(http.StatusBadRequest, "invalid_client", 700025,
			"Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
	}
	switch {
	case hasSecret:
		e := s.checkSecret(a, secret)
		if e != nil && rawBasic != "" && s.checkSecret(a, rawBasic) == nil {
			e = nil
		}
		if e != nil {
			return e
		}
		req.client, req.clientAuth = a, 1
	case hasAssertion:
		if req.form.Get("client_assertion_type") != assertionType {
			return newOAuthError(http.StatusBadRequest, "invalid_request", 900144,
				"The request body must contain the following parameter: 'client_assertion_type'.")
		}
		if e := s.checkAssertion(req, a, assertion); e != nil {
			return e
		}
		req.client, req.clientAuth = a, 2
	case a.PublicClient:
		req.client, req.clientAuth = a, 0
	default:
		return newOAuthError(http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	return nil
}

// lookupClient finds an app by client ID only (not App ID URI); Graph is no client.
func (s *Server) lookupClient(t *tenant, clientID string) *app {
	if !isGUID(clientID) || strings.EqualFold(clientID, GraphAppID) {
		return nil
	}
	return s.lookupApp(t, clientID)
}

func (s *Server) tenantName(req *tokenRequest) string {
	if req.tenant != nil {
		return req.tenant.id
	}
	return sanitize(req.tenantPath, 64)
}

func (s *Server) checkSecret(a *app, secret string) *oauthError {
	for _, sec := range a.Secrets {
		if subtle.ConstantTimeCompare([]byte(sec.Value), []byte(secret)) != 1 || sec.Value == "" {
			continue
		}
		if !sec.Expires.IsZero() && !s.now().Before(sec.Expires) {
			return newOAuthError(http.StatusUnauthorized, "invalid_client", 7000222,
				"The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
				a.ClientID)
		}
		return nil
	}
	return newOAuthError(http.StatusUnauthorized, "invalid_client", 7000215,
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.",
		a.ClientID)
}

// decodeAnyB64 decodes standard or url-safe base64, padded or not.
func decodeAnyB64(v string) ([]byte, bool) {
	v = strings.TrimRight(v, "=")
	if b, err := base64.RawURLEncoding.DecodeString(v); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(v); err == nil {
		return b, true
	}
	return nil, false
}

// assertionCerts picks the registered certificates the assertion header
// names by x5t#S256 or x5t; with neither, all certificates. thumb is the
// thumbprint as sent (hex) for error messages.
func assertionCerts(a *app, header map[string]any) (certs []*x509.Certificate, thumb string) {
	pick := func(v string, sum func([]byte) []byte) ([]*x509.Certificate, string) {
		want, ok := decodeAnyB64(v)
		if !ok {
			return nil, sanitize(v, 64)
		}
		var out []*x509.Certificate
		for _, c := range a.Certificates {
			if bytes.Equal(sum(c.Raw), want) {
				out = append(out, c)
			}
		}
		return out, strings.ToUpper(hexOf(want))
	}
	if v, ok := header["x5t#S256"].(string); ok && v != "" {
		return pick(v, func(b []byte) []byte { s := sha256.Sum256(b); return s[:] })
	}
	if v, ok := header["x5t"].(string); ok && v != "" {
		return pick(v, func(b []byte) []byte { s := sha1.Sum(b); return s[:] })
	}
	return a.Certificates, ""
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// checkAssertion verifies a private_key_jwt client assertion.
func (s *Server) checkAssertion(req *tokenRequest, a *app, assertion string) *oauthError {
	malformed := newOAuthError(http.StatusBadRequest, "invalid_request", 50027,
		"JWT token is invalid or malformed.")
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 || len(assertion) > 64<<10 {
		return malformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil {
		return malformed
	}
	var header map[string]any
	if json.Unmarshal(hb, &header) != nil {
		return malformed
	}
	certs, thumb := assertionCerts(a, header)
	badSig := newOAuthError(http.StatusUnauthorized, "invalid_client", 700027,
		"Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://docs.microsoft.com/en-us/graph/api/application-addkey for more details.]",
		thumb, a.ClientID)
	p := jwt.NewParser(jwt.WithValidMethods([]string{"PS256", "RS256", "ES256"}), jwt.WithoutClaimsValidation())
	var claims jwt.MapClaims
	verified := false
	for _, c := range certs {
		claims = jwt.MapClaims{}
		pub := c.PublicKey
		if _, err := p.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return pub, nil }); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		if len(certs) > 0 || thumb != "" || len(a.Certificates) > 0 {
			return badSig
		}
		return newOAuthError(http.StatusUnauthorized, "invalid_client", 700027,
			"Client assertion failed signature validation. [Reason - The key was not found., Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]",
			a.ClientID)
	}
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	if !strings.EqualFold(iss, a.ClientID) || !strings.EqualFold(sub, a.ClientID) {
		return newOAuthError(http.StatusUnauthorized, "invalid_client", 700021,
			"Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	if !s.assertionAudienceOK(req, claims) {
		return newOAuthError(http.StatusUnauthorized, "invalid_client", 700027,
			"Client assertion failed signature validation. [Reason - The provided audience is not valid for this token endpoint., Please check the 'aud' claim of the client assertion for app Id '%s'.]",
			a.ClientID)
	}
	now := s.now()
	exp, errExp := claims.GetExpirationTime()
	nbf, errNbf := claims.GetNotBefore()
	if errExp != nil || errNbf != nil || exp == nil || !now.Before(exp.Add(assertionSkew)) ||
		(nbf != nil && now.Add(assertionSkew).Before(nbf.Time)) {
		from, to := time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC()
		if nbf != nil {
			from = nbf.UTC()
		}
		if exp != nil {
			to = exp.UTC()
		}
		return newOAuthError(http.StatusUnauthorized, "invalid_client", 700024,
			"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
			now.UTC().Format("2006-01-02T15:04:05.0000000Z"), from.Format("2006-01-02T15:04:05.0000000Z"), to.Format("2006-01-02T15:04:05.0000000Z"))
	}
	return nil
}

// assertionAudienceOK accepts this tenant's v1 or v2 token endpoint, on
// s.URL or the cloud's host, with the tenant GUID, domain or path segment.
func (s *Server) assertionAudienceOK(req *tokenRequest, claims jwt.MapClaims) bool {
	auds, err := claims.GetAudience()
	if err != nil || len(auds) == 0 {
		return false
	}
	segs := []string{req.tenantPath}
	if req.tenant != nil {
		segs = append(segs, req.tenant.id, req.tenant.domain)
	}
	for _, aud := range auds {
		aud = strings.TrimSuffix(aud, "/")
		for _, host := range []string{s.URL, "https://" + s.cloud.v2Host} {
			for _, seg := range segs {
				if seg == "" {
					continue
				}
				for _, path := range []string{"/oauth2/v2.0/token", "/oauth2/token"} {
					if strings.EqualFold(aud, host+"/"+seg+path) {
						return true
					}
				}
			}
		}
	}
	return false
}
