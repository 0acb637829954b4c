package entratest

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// MFA is a multi-factor authentication requirement a test puts on a user
// or an app with SetMFA.
type MFA int

// The MFA requirements.
const (
	// MFAOff removes a requirement.
	MFAOff MFA = iota
	// MFARequired: user-token requests (authorization code, device code,
	// refresh token, on-behalf-of) whose sign-in predates the requirement fail with
	// invalid_grant AADSTS50076, suberror basic_action, as Entra answers
	// when MFA is required and the session has none. On an app (a
	// conditional-access policy) the error also carries a claims request
	// naming the policy (capolids). A new interactive sign-in (authorize,
	// device code) performs MFA and satisfies it; its v1 tokens then have
	// amr ["pwd","mfa"].
	MFARequired
	// MFARegistrationRequired: as MFARequired, but the answer is
	// interaction_required AADSTS50079 (the user must register for MFA)
	// with a claims request, as Entra answers.
	MFARegistrationRequired
)

// policyState holds the test-controlled sign-in policies: MFA rules, queued
// claims challenges and session revocations (for CAE). Its mutex is its
// own, never held across I/O.
type policyState struct {
	mu         sync.Mutex
	epoch      uint64             // advances with every SetMFA; sign-ins record it
	mfa        map[string]mfaRule // "user:<upn>" or "app:<client id>"
	challenges []string           // ChallengeNextToken claims, FIFO
	revoked    map[string]int64   // lower-case UPN -> unix time of RevokeRefreshTokens
}

type mfaRule struct {
	kind  MFA
	epoch uint64 // sign-ins at an earlier epoch do not satisfy the rule
	onApp bool
}

// SetMFA puts an MFA requirement on a user (by username) or an app (by
// client ID: tokens for it as the resource or obtained by it as the
// client). m == MFAOff removes it. Sessions that signed in before the call
// do not satisfy it, including on-behalf-of requests whose assertion comes
// from such a session (the middle tier must send the error, with its
// claims, back to the client); client credentials are not affected. Safe
// for concurrent use.
func (s *Server) SetMFA(userOrClientID string, m MFA) {
	key := "user:" + strings.ToLower(userOrClientID)
	onApp := isGUID(userOrClientID)
	if onApp {
		key = "app:" + strings.ToLower(userOrClientID)
	}
	p := &s.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == MFAOff {
		delete(p.mfa, key)
		return
	}
	if p.mfa == nil {
		p.mfa = map[string]mfaRule{}
	}
	p.epoch++
	p.mfa[key] = mfaRule{kind: m, epoch: p.epoch, onApp: onApp}
}

// ChallengeNextToken makes the next token request (any grant) fail with
// interaction_required AADSTS50076, suberror basic_action, carrying claims
// in the error's "claims" field, as a conditional-access claims challenge
// does. claims is a JSON claims request, e.g.
// {"access_token":{"acrs":{"essential":true,"value":"c1"}}}. Challenges
// queue: each call affects one request. Safe for concurrent use.
func (s *Server) ChallengeNextToken(claims string) {
	p := &s.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	p.challenges = append(p.challenges, claims)
}

// popChallenge returns the error of a queued claims challenge, or nil.
func (s *Server) popChallenge() *oauthError {
	p := &s.policy
	p.mu.Lock()
	if len(p.challenges) == 0 {
		p.mu.Unlock()
		return nil
	}
	claims := p.challenges[0]
	p.challenges = p.challenges[1:]
	p.mu.Unlock()
	e := newOAuthError(http.StatusBadRequest, "interaction_required", 50076,
		"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource. (entratest: claims challenge queued by ChallengeNextToken.)")
	e.suberror, e.claims = "basic_action", claims
	return e
}

// signInEpoch is recorded by every interactive sign-in.
func (s *Server) signInEpoch() uint64 {
	p := &s.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.epoch
}

// checkMFA applies the MFA rules to a user token for u, obtained by client
// for resource, from a session that signed in at epoch signIn, and the
// rules of the policies the request's claims name (capolids: a claims
// challenge passed on by a middle tier, as Entra evaluates them). It
// reports whether the session performed MFA (some rule applied and was
// met).
func (s *Server) checkMFA(u *user, client, resource *app, signIn uint64, capolids []string) (bool, *oauthError) {
	keys := []string{"user:" + strings.ToLower(u.Username)}
	for _, a := range []*app{client, resource} {
		if a != nil {
			keys = append(keys, "app:"+strings.ToLower(a.ClientID))
		}
	}
	p := &s.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.mfa {
		if !slices.Contains(keys, k) && slices.Contains(capolids, derivedGUID("capolicy", k)) {
			keys = append(keys, k)
		}
	}
	mfa := false
	for _, k := range keys {
		rule, ok := p.mfa[k]
		if !ok {
			continue
		}
		if signIn >= rule.epoch {
			mfa = true
			continue
		}
		target := GraphAppID
		if resource != nil {
			target = resource.ClientID
		}
		claims := ""
		if rule.onApp || rule.kind == MFARegistrationRequired {
			claims = `{"access_token":{"capolids":{"essential":true,"values":["` + derivedGUID("capolicy", k) + `"]}}}`
		}
		if rule.kind == MFARegistrationRequired {
			e := newOAuthError(http.StatusBadRequest, "interaction_required", 50079,
				"Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '%s'.", target)
			e.suberror, e.claims = "basic_action", claims
			return false, e
		}
		e := newOAuthError(http.StatusBadRequest, "invalid_grant", 50076,
			"Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '%s'.", target)
		e.suberror, e.claims = "basic_action", claims
		return false, e
	}
	return mfa, nil
}

// recordRevocation notes when a user's sessions were revoked, for CAE.
func (s *Server) recordRevocation(username string, at time.Time) {
	p := &s.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revoked == nil {
		p.revoked = map[string]int64{}
	}
	p.revoked[strings.ToLower(username)] = at.Unix()
}

// revokedAt returns when a user's sessions were last revoked (0 = never).
func (s *Server) revokedAt(username string) int64 {
	p := &s.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.revoked[strings.ToLower(username)]
}
