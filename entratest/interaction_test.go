package entratest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestMFARequirements(t *testing.T) {
	tests := []struct {
		name       string
		target     func(e *ufEnv) string
		mfa        MFA
		scope      func(e *ufEnv) string // refreshed scope that must fail
		otherScope func(e *ufEnv) string // a scope that still works ("" = none)
		status     int
		err        string
		code       int
		claims     bool
	}{
		{"per-user MFA", func(e *ufEnv) string { return e.demo.User.Username }, MFARequired,
			func(e *ufEnv) string { return e.demo.API.Scope }, nil, 400, "invalid_grant", 50076, false},
		{"conditional access on an API", func(e *ufEnv) string { return e.demo.API.ClientID }, MFARequired,
			func(e *ufEnv) string { return e.demo.API.Scope }, func(e *ufEnv) string { return e.demo.OBOAPI.Scope }, 400, "invalid_grant", 50076, true},
		{"MFA registration", func(e *ufEnv) string { return e.demo.User.Username }, MFARegistrationRequired,
			func(e *ufEnv) string { return e.demo.API.Scope }, nil, 400, "interaction_required", 50079, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ufNew(t, nil)
			old := e.signInRT(t)
			e.s.SetMFA(tt.target(e), tt.mfa)
			status, body := e.token(t, e.tid, e.refreshForm(old, tt.scope(e)))
			ufWantError(t, status, body, tt.status, tt.err, tt.code)
			if body["suberror"] != "basic_action" {
				t.Errorf("suberror = %v, want basic_action", body["suberror"])
			}
			claims, _ := body["claims"].(string)
			if tt.claims != strings.Contains(claims, `"capolids"`) {
				t.Errorf("claims = %q, want a capolids claims request: %v", claims, tt.claims)
			}
			if tt.otherScope != nil {
				if status, body := e.token(t, e.tid, e.refreshForm(old, tt.otherScope(e))); status != http.StatusOK {
					t.Errorf("other resource: %d %v, want 200", status, body["error_description"])
				}
			}
			// A new interactive sign-in performs MFA.
			fresh := e.signInRT(t)
			status, body = e.token(t, e.tid, e.refreshForm(fresh, "User.Read"))
			if status != http.StatusOK {
				t.Fatalf("after a new sign-in: %d %v, want 200", status, body["error_description"])
			}
			if tt.target(e) == e.demo.User.Username {
				if amr := fmt.Sprint(ufClaims(t, body["access_token"])["amr"]); amr != "[pwd mfa]" {
					t.Errorf("v1 amr = %s, want [pwd mfa]", amr)
				}
			}
			// Lifting the requirement lets the old session through.
			e.s.SetMFA(tt.target(e), MFAOff)
			if status, body := e.token(t, e.tid, e.refreshForm(old, tt.scope(e))); status != http.StatusOK {
				t.Errorf("after MFAOff: %d %v, want 200", status, body["error_description"])
			}
		})
	}
}

func TestMFADeviceCodeApprovalSatisfies(t *testing.T) {
	e := ufNew(t, nil)
	e.s.SetMFA(e.demo.User.Username, MFARequired)
	e.s.SetAutoApproveUser(e.demo.User.Username)
	status, body := post(t, e.s, "/"+e.tid+"/oauth2/v2.0/devicecode", map[string][]string{
		"client_id": {e.demo.PublicClient.ClientID}, "scope": {e.demo.API.Scope}})
	if status != http.StatusOK {
		t.Fatalf("devicecode: %d %v", status, body)
	}
	status, body = e.token(t, e.tid, map[string][]string{"grant_type": {"device_code"},
		"client_id": {e.demo.PublicClient.ClientID}, "device_code": {body["device_code"].(string)}})
	if status != http.StatusOK {
		t.Fatalf("device code after MFA was required: %d %v, want 200", status, body["error_description"])
	}
}

func TestChallengeNextToken(t *testing.T) {
	s, d := seeded(t, nil)
	const claims = `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`
	s.ChallengeNextToken(claims)
	form := ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default")
	status, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", form)
	if status != http.StatusBadRequest || body["error"] != "interaction_required" || body["claims"] != claims || body["suberror"] != "basic_action" {
		t.Fatalf("challenged request: %d %v, want 400 interaction_required carrying the claims", status, body)
	}
	if codes, _ := body["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(50076) {
		t.Errorf("error_codes = %v, want [50076]", body["error_codes"])
	}
	if status, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", form); status != http.StatusOK {
		t.Fatalf("next request: %d %v, want 200 (a challenge affects one request)", status, body["error_description"])
	}
}

func TestMFAOnBehalfOf(t *testing.T) {
	e := ufNew(t, nil)
	old := e.userTokenFor(t, e.tid, e.authQuery(e.demo.OBOAPI.Scope))["access_token"].(string)
	e.s.SetMFA(e.demo.API.ClientID, MFARequired)
	status, body := e.token(t, e.tid, e.oboForm(old, e.demo.API.Scope))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 50076)
	if claims, _ := body["claims"].(string); !strings.Contains(claims, "capolids") {
		t.Errorf("claims = %q, want the policy's claims request for the middle tier to pass back", claims)
	}
	fresh := e.userTokenFor(t, e.tid, e.authQuery(e.demo.OBOAPI.Scope))["access_token"].(string)
	if status, body := e.token(t, e.tid, e.oboForm(fresh, e.demo.API.Scope)); status != http.StatusOK {
		t.Fatalf("OBO with an assertion from a sign-in after the requirement: %d %v", status, body["error_description"])
	}
}
