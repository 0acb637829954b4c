package entratest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The authorization_code grant.
//
// A code is single use (a second redemption fails with invalid_grant
// AADSTS54005), lives 10 minutes (then 70008) and is bound to the client and
// the redirect_uri (a mismatch fails with invalid_grant AADSTS70000; the code
// stays usable, as only a successful check consumes it) and the PKCE
// challenge. PKCE: S256 compares
// BASE64URL-NOPAD(SHA256(code_verifier)) with the challenge, plain compares
// the verifier itself; a mismatch, a missing verifier when a challenge was
// given, or a verifier when none was given (the OAuth security BCP's
// downgrade check) fail with invalid_grant AADSTS501481. scope is optional at
// redemption: the authorize request's scopes are used when it is absent.

// authCode is the server-side record of one authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string // PKCE code_challenge ("" = none)
	method      string // "S256" or "plain"
	tenantID    string
	username    string
	scope       string // the scope parameter of the authorize request, as sent
	nonce       string
	signIn      uint64 // policy epoch of the sign-in
	expires     time.Time
	redeemed    bool
}

// codeStore holds authorization codes: 10-minute, single use. Safe for
// concurrent use; the mutex is never held across I/O.
type codeStore struct {
	mu     sync.Mutex
	m      map[string]*authCode
	issues int
}

const authCodeLifetime = 10 * time.Minute

// put stores c under a new random code and returns the code.
func (cs *codeStore) put(now time.Time, c authCode) (string, error) {
	v, err := opaqueValue(48)
	if err != nil {
		return "", err
	}
	c.expires = now.Add(authCodeLifetime)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = make(map[string]*authCode)
	}
	cs.issues++
	if cs.issues >= 256 {
		cs.issues = 0
		for k, e := range cs.m {
			// Redeemed codes are kept until they expire, so reuse is reported as 54005.
			if now.Sub(e.expires) > time.Hour {
				delete(cs.m, k)
			}
		}
	}
	cs.m[v] = &c
	return v, nil
}

// redeem runs check on the code's record and, if check passes, marks the code
// redeemed; all under the lock, so two concurrent redemptions cannot both win.
// check must be pure computation (no I/O).
func (cs *codeStore) redeem(now time.Time, code string, check func(*authCode) *oauthError) (authCode, *oauthError) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.m[code]
	switch {
	case !ok:
		return authCode{}, newOAuthError(http.StatusBadRequest, "invalid_grant", 9002313,
			"Invalid request. Request is malformed or invalid. The authorization code is not one this server issued.")
	case c.redeemed:
		return authCode{}, newOAuthError(http.StatusBadRequest, "invalid_grant", 54005,
			"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case !now.Before(c.expires):
		return authCode{}, newOAuthError(http.StatusBadRequest, "invalid_grant", 70008,
			"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	}
	if e := check(c); e != nil {
		return authCode{}, e
	}
	c.redeemed = true
	return *c, nil
}

// authCodeGrant redeems an authorization code.
func (s *Server) authCodeGrant(req *tokenRequest) (map[string]any, *oauthError) {
	code := req.form.Get("code")
	if code == "" {
		return nil, errMissingParam("code")
	}
	if e := s.authenticateClient(req); e != nil {
		return nil, e
	}
	redirectURI := req.form.Get("redirect_uri")
	verifier := req.form.Get("code_verifier")
	c, e := s.user.codes.redeem(s.now(), code, func(c *authCode) *oauthError {
		if !strings.EqualFold(c.clientID, req.client.ClientID) {
			return newOAuthError(http.StatusBadRequest, "invalid_grant", 70000,
				"The provided authorization code was issued to another client application.")
		}
		if req.tenant != nil && req.tenant.id != c.tenantID {
			return newOAuthError(http.StatusBadRequest, "invalid_grant", 700005,
				"Provided Authorization Code is intended to use against other tenant, thus rejected.")
		}
		if redirectURI != c.redirectURI {
			return newOAuthError(http.StatusBadRequest, "invalid_grant", 70000,
				"The provided value for the input parameter 'redirect_uri' is not valid. It must exactly match the redirect_uri of the authorization request that returned the code.")
		}
		return checkPKCE(c.challenge, c.method, verifier)
	})
	if e != nil {
		return nil, e
	}
	t := s.tenantByID(c.tenantID)
	u := s.lookupUser(t, c.username)
	if t == nil || u == nil {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", 50034,
			"The user account of this authorization code no longer exists in the directory.")
	}
	req.tenant = t
	raw := req.form.Get("scope")
	if strings.TrimSpace(raw) == "" && !(req.v1 && req.form.Get("resource") != "") {
		raw = c.scope
	}
	rs, e := s.resolveScopes(req, raw)
	if e != nil {
		return nil, e
	}
	// openid / offline_access asked at /authorize count even when the
	// redemption names other scopes.
	var authzOIDC []string
	for _, f := range strings.Fields(c.scope) {
		if isOIDCScope(f) {
			authzOIDC = append(authzOIDC, f)
		}
	}
	oidc := mergeOIDC(authzOIDC, rs.oidc)
	return s.issueUserTokens(req, userGrant{tenant: t, user: u, rs: rs, nonce: c.nonce, oidc: oidc, signIn: c.signIn})
}

// checkPKCE verifies a code_verifier against the challenge of the authorize
// request (RFC 7636 §4.6).
func checkPKCE(challenge, method, verifier string) *oauthError {
	mismatch := func(why string) *oauthError {
		return newOAuthError(http.StatusBadRequest, "invalid_grant", 501481,
			"The Code_Verifier does not match the code_challenge supplied in the authorization request. %s", why)
	}
	switch {
	case challenge == "" && verifier == "":
		return nil
	case challenge == "":
		return mismatch("The authorization request had no code_challenge, so no code_verifier may be sent.")
	case verifier == "":
		return mismatch("The code_verifier is missing.")
	}
	got := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) != 1 {
		return mismatch("Using method " + method + ".")
	}
	return nil
}
