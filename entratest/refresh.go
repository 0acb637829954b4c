package entratest

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Refresh tokens.
//
// A refresh token is an opaque random string bound to one user, one client and
// the tenant it was issued in. It lives 90 days. It is not bound to a
// resource: a redemption may name any resource the client holds consent on
// (checked again at every redemption, as Entra does).
//
// Rotation: every successful redemption returns a new refresh token of the same
// family. Like Entra, the emulator does not revoke the redeemed token, unless
// Options.StrictRefreshTokens is set: then a redeemed token is dead and using it
// again fails with invalid_grant AADSTS70008. (70008 rather than 700082 keeps
// "reused" apart from "expired" in tests: an expired token fails with 700082.)
// A token revoked by RevokeRefreshTokens fails with invalid_grant AADSTS50173.

const refreshTokenLifetime = 90 * 24 * time.Hour

// refreshEntry is the server-side record of one refresh token.
type refreshEntry struct {
	tenantID string
	clientID string
	username string
	family   string // value of the first token of the rotation chain
	scope    string // scopes of the grant that issued it: the default when a redemption names none
	signIn   uint64 // policy epoch of the interactive sign-in that started the family
	issued   time.Time
	expires  time.Time
	redeemed bool
	revoked  bool
}

// refreshStore holds refresh tokens. Safe for concurrent use; the mutex is
// never held across I/O.
type refreshStore struct {
	mu     sync.Mutex
	m      map[string]*refreshEntry
	issues int // issues since the last sweep
}

// refreshStatus is the outcome of a redemption attempt.
type refreshStatus int

const (
	refreshOK refreshStatus = iota
	refreshUnknown
	refreshExpired
	refreshRevoked
	refreshReused // strict mode only
	refreshWrongClient
	refreshWrongTenant
)

// issue stores a new refresh token for the user and client and returns its
// value. family is the family of the token being rotated, or "" for a new one.
func (rs *refreshStore) issue(now time.Time, tenantID, clientID, username, family, scope string, signIn uint64) (string, error) {
	v, err := opaqueValue(48)
	if err != nil {
		return "", err
	}
	if family == "" {
		family = v
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.m == nil {
		rs.m = make(map[string]*refreshEntry)
	}
	rs.sweepLocked(now)
	rs.m[v] = &refreshEntry{
		tenantID: tenantID,
		clientID: clientID,
		username: username,
		family:   family,
		scope:    scope,
		signIn:   signIn,
		issued:   now,
		expires:  now.Add(refreshTokenLifetime),
	}
	return v, nil
}

// redeem checks a refresh token for clientID in tenantID ("" = any tenant:
// common/organizations) and marks it redeemed. It returns a copy of the entry
// so the caller reads it without the lock.
func (rs *refreshStore) redeem(now time.Time, value, clientID, tenantID string, strict bool) (refreshEntry, refreshStatus) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	e, ok := rs.m[value]
	switch {
	case !ok:
		return refreshEntry{}, refreshUnknown
	case e.revoked:
		return *e, refreshRevoked
	case !now.Before(e.expires):
		return *e, refreshExpired
	case !strings.EqualFold(e.clientID, clientID):
		return *e, refreshWrongClient
	case tenantID != "" && tenantID != e.tenantID:
		return *e, refreshWrongTenant
	case strict && e.redeemed:
		return *e, refreshReused
	}
	first := *e // redeemed as it was before this call
	e.redeemed = true
	return first, refreshOK
}

// release undoes redeem for a token whose redemption failed after the store's
// checks (bad scope, missing consent), so that in strict mode a failed
// request does not kill the session. Only a token redeemed for the first time
// by the failed call is released.
func (rs *refreshStore) release(value string, was refreshEntry) {
	if was.redeemed {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if e, ok := rs.m[value]; ok {
		e.redeemed = false
	}
}

// revokeUser revokes every refresh token of username (case-insensitive),
// in every tenant. It returns how many tokens it revoked.
func (rs *refreshStore) revokeUser(username string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for _, e := range rs.m {
		if !e.revoked && strings.EqualFold(e.username, username) {
			e.revoked = true
			n++
		}
	}
	return n
}

// sweepLocked drops tokens that expired more than a day ago, so the store
// stays bounded in long-running emulators. Expired tokens are kept for a day
// so that their use is still reported as "expired" rather than "unknown".
func (rs *refreshStore) sweepLocked(now time.Time) {
	rs.issues++
	if rs.issues < 1024 {
		return
	}
	rs.issues = 0
	for k, e := range rs.m {
		if now.Sub(e.expires) > 24*time.Hour {
			delete(rs.m, k)
		}
	}
}

// refreshTokenGrant redeems a refresh token.
func (s *Server) refreshTokenGrant(req *tokenRequest) (map[string]any, *oauthError) {
	value := req.form.Get("refresh_token")
	if value == "" {
		return nil, errMissingParam("refresh_token")
	}
	if e := s.authenticateClient(req); e != nil {
		return nil, e
	}
	pathTenant := ""
	if req.tenant != nil {
		pathTenant = req.tenant.id
	}
	ent, st := s.user.refresh.redeem(s.now(), value, req.client.ClientID, pathTenant, s.opts.StrictRefreshTokens)
	invalid := func(code int, format string, args ...any) (map[string]any, *oauthError) {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", code, format, args...)
	}
	switch st {
	case refreshUnknown:
		return invalid(9002313, "Invalid request. Request is malformed or invalid. The refresh token is not one this server issued.")
	case refreshRevoked:
		return invalid(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
	case refreshExpired:
		return invalid(700082, "The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.",
			ent.issued.UTC().Format("2006-01-02T15:04:05.0000000Z"))
	case refreshWrongClient:
		return invalid(70000, "Provided grant is invalid or malformed: the refresh token was issued to another client application.")
	case refreshWrongTenant:
		return invalid(70000, "Provided grant is invalid or malformed: the refresh token was issued in tenant '%s', not '%s'.",
			ent.tenantID, pathTenant)
	case refreshReused:
		return invalid(70008, "The provided authorization code or refresh token has expired due to inactivity. (entratest StrictRefreshTokens: this refresh token was already redeemed; use the one returned with it.)")
	}
	body, e := s.redeemRefresh(req, ent)
	if e != nil {
		s.user.refresh.release(value, ent)
		return nil, e
	}
	return body, nil
}

// redeemRefresh issues the tokens of a refresh token that passed the store's checks.
func (s *Server) redeemRefresh(req *tokenRequest, ent refreshEntry) (map[string]any, *oauthError) {
	t := s.tenantByID(ent.tenantID)
	u := s.lookupUser(t, ent.username)
	if t == nil || u == nil {
		return nil, newOAuthError(http.StatusBadRequest, "invalid_grant", 50173, "The provided grant has expired due to it being revoked: the user no longer exists.")
	}
	req.tenant = t
	raw := req.form.Get("scope")
	if strings.TrimSpace(raw) == "" && !(req.v1 && req.form.Get("resource") != "") {
		raw = ent.scope // x/oauth2 sends no scope when refreshing
	}
	rs, e := s.resolveScopes(req, raw)
	if e != nil {
		return nil, e
	}
	// A refresh token keeps yielding refresh tokens: the rotation always
	// returns a new one, as Entra does.
	oidc := mergeOIDC(rs.oidc, []string{"offline_access"})
	return s.issueUserTokens(req, userGrant{tenant: t, user: u, rs: rs, oidc: oidc, family: ent.family, signIn: ent.signIn})
}

// RevokeRefreshTokens revokes every refresh token issued to username, as an
// admin's "revoke sessions" does: redeeming one then fails with invalid_grant
// AADSTS50173. Tokens issued later are valid. It is also a CAE event: the
// emulator's Graph then refuses the user's CAE-capable access tokens
// (those with xms_cc) issued before it, with a claims challenge
// (ClaimsChallenge) asking for nbf; other tokens stay valid until they
// expire, as in Entra. Safe for concurrent use.
func (s *Server) RevokeRefreshTokens(username string) {
	s.user.refresh.revokeUser(username)
	s.recordRevocation(username, s.now())
}
