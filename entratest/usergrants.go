package entratest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// userState holds the state of the user flows: the sign-in user of
// /authorize, authorization codes, refresh tokens and device codes. Each part
// has its own mutex, never held across I/O, and independent of Server.mu.
type userState struct {
	mu      sync.Mutex
	signIn  string // SetSignInUser
	auto    string // SetAutoApproveUser; initialised from Options.AutoApproveUser
	codes   codeStore
	refresh refreshStore
	devices deviceStore
}

func (us *userState) autoApproveName() string {
	us.mu.Lock()
	defer us.mu.Unlock()
	return us.auto
}

func (us *userState) signInName() string {
	us.mu.Lock()
	defer us.mu.Unlock()
	return us.signIn
}

// registerUserGrants installs the user grants. Called once by NewServer.
func (s *Server) registerUserGrants() {
	s.user.auto = s.opts.AutoApproveUser
	s.registerGrant("authorization_code", s.authCodeGrant)
	s.registerGrant("refresh_token", s.refreshTokenGrant)
	s.registerGrant("device_code", s.deviceCodeGrant)
	s.registerGrant("jwt-bearer", s.oboGrant)
}

// userRoutes adds the user-flow endpoints to the router.
func (s *Server) userRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/devicecode", s.handleDeviceCode)
	mux.HandleFunc("/emulator/devicecode/approve", s.handleDeviceApprove)
}

// SetAutoApproveUser makes every new device code approved at once for
// username, as Options.AutoApproveUser does; "" turns auto-approval off.
// Safe for concurrent use.
func (s *Server) SetAutoApproveUser(username string) {
	s.user.mu.Lock()
	defer s.user.mu.Unlock()
	s.user.auto = username
}

// SetSignInUser names the user that /authorize signs in when the request has
// no login_hint. "" restores the default: the first user of the tenant.
// Safe for concurrent use.
func (s *Server) SetSignInUser(username string) {
	s.user.mu.Lock()
	defer s.user.mu.Unlock()
	s.user.signIn = username
}

// userGrant is what a user grant has established once its own checks passed:
// who signed in, where, and for what.
type userGrant struct {
	tenant *tenant
	user   *user
	rs     *resolvedScopes
	nonce  string
	family string   // refresh-token family being rotated; "" for a new one
	oidc   []string // OIDC scopes that decide refresh_token / id_token
	signIn uint64   // policy epoch of the interactive sign-in (SetMFA)
}

// issueUserTokens mints the response of a successful user grant: the access
// token for g.rs, a refresh token with offline_access, an id_token with
// openid and client_info when the request has client_info=1. It checks the
// client's consent on the resource (65001 when missing) and the MFA rules
// (SetMFA). The response's scope is Entra's (responseScope), not an echo.
func (s *Server) issueUserTokens(req *tokenRequest, g userGrant) (map[string]any, *oauthError) {
	scp, e := s.delegatedScopes(req.client, g.rs)
	if e != nil {
		return nil, e
	}
	mfa, e := s.checkMFA(g.user, req.client, g.rs.resource, g.signIn, req.claims.capolids)
	if e != nil {
		return nil, e
	}
	scope := responseScope(req, g.rs, scp, g.oidc)
	if len(scp) == 0 {
		// Only OIDC scopes were asked: Entra then issues a Graph token for them.
		scp = oidcOnly(g.rs.oidc)
	}
	at, exp, err := s.mintAccessToken(accessTokenParams{
		tenant:     g.tenant,
		client:     req.client,
		clientAuth: req.clientAuth,
		rs:         g.rs,
		user:       g.user,
		scp:        scp,
		claims:     req.claims,
		mfa:        mfa,
		signIn:     g.signIn,
	})
	if err != nil {
		return nil, serverError("could not mint the access token")
	}
	body := s.tokenResponse(at, exp, scope)
	if hasScope(g.oidc, "offline_access") {
		rt, err := s.user.refresh.issue(s.now(), g.tenant.id, req.client.ClientID, g.user.Username, g.family,
			strings.Join(g.rs.requested, " "), g.signIn)
		if err != nil {
			return nil, serverError("could not create a refresh token")
		}
		body["refresh_token"] = rt
	}
	if hasScope(g.oidc, "openid") {
		idt, err := s.mintIDToken(g.tenant, req.client, g.user, g.nonce)
		if err != nil {
			return nil, serverError("could not mint the id_token")
		}
		body["id_token"] = idt
	}
	if req.form.Get("client_info") == "1" {
		body["client_info"] = clientInfo(g.user)
	}
	return body, nil
}

// oidcOnly returns the OIDC scopes that go into scp of a Graph token asked
// for with OIDC scopes alone (offline_access never appears in scp).
func oidcOnly(oidc []string) []string {
	var out []string
	for _, o := range oidc {
		if !strings.EqualFold(o, "offline_access") {
			out = append(out, strings.ToLower(o))
		}
	}
	return out
}

func hasScope(list []string, name string) bool {
	for _, v := range list {
		if strings.EqualFold(v, name) {
			return true
		}
	}
	return false
}

// mergeOIDC returns the union of two OIDC scope lists.
func mergeOIDC(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, v := range b {
		if !hasScope(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func serverError(what string) *oauthError {
	return newOAuthError(http.StatusInternalServerError, "server_error", 0, "entratest: %s", what)
}

// opaqueValue returns n random bytes, unpadded base64url: codes, device codes
// and refresh tokens are unguessable and carry no information.
func opaqueValue(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("entratest: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
