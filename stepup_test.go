package entra

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/entrakit/entra/entratest"
)

func TestWebAppStepUpWithClaims(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	acct, err := w.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	// A Conditional Access policy now requires MFA for Graph: the silent
	// request fails with interaction required and the policy's claims.
	w.m.s.SetMFA(entratest.GraphAppID, entratest.MFARequired)
	ctx := context.Background()
	_, err = w.app.Token(ctx, acct, "User.Read")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInteractionRequired) || e.Claims == "" {
		t.Fatalf("token under a new MFA policy: %v, want ErrInteractionRequired with claims", err)
	}
	// A sign-in carrying those claims (MFA done at the emulator's sign-in)
	// satisfies it.
	acct2, err := w.signIn(t, "claims="+url.QueryEscape(e.Claims))
	if err != nil {
		t.Fatal(err)
	}
	if acct2 != acct {
		t.Fatalf("step-up sign-in gave another account: %+v", acct2)
	}
	if _, err := w.app.Token(ctx, acct, "User.Read"); err != nil {
		t.Fatalf("after step-up: %v", err)
	}
}

func TestDeviceCodeStepUpWithClaims(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	c, _ := m.deviceCred(t, m.demo.User.Username, nil)
	ctx := context.Background()
	acct, err := c.SignIn(ctx, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	m.s.SetMFA(entratest.GraphAppID, entratest.MFARequired)
	_, err = c.Token(ctx, acct, "User.Read")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrInteractionRequired) || e.Claims == "" {
		t.Fatalf("token under a new MFA policy: %v, want ErrInteractionRequired with claims", err)
	}
	if _, err := c.SignInWithClaims(ctx, "not json", "User.Read"); !errors.Is(err, ErrConfig) {
		t.Errorf("malformed claims: %v, want ErrConfig", err)
	}
	if _, err := c.SignInWithClaims(ctx, e.Claims, "User.Read"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(ctx, acct, "User.Read"); err != nil {
		t.Fatalf("after step-up: %v", err)
	}
}

// TestCAERevocationThroughTheClient: with EnableCAE the user's Graph
// token is CAE-capable (xms_cc cp1); revoking the user's sessions makes
// Graph answer a claims challenge, entra's Client tries to satisfy it,
// Entra refuses (the refresh token is revoked too) and the error carries
// the claims for a new sign-in, which then works.
func TestCAERevocationThroughTheClient(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, func(o *Options) { o.EnableCAE = true })
	acct, err := w.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok, err := w.app.Token(ctx, acct, "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	caps, _ := claims(t, tok.AccessToken)["xms_cc"].([]any)
	if !slices.Contains(caps, any("cp1")) {
		t.Fatalf("Graph token xms_cc %v, want cp1 (Options.EnableCAE)", caps)
	}
	w.m.s.RevokeRefreshTokens(w.m.demo.User.Username)
	_, err = w.app.Client(ctx, acct, "User.Read").Get(w.app.Cloud().GraphURL() + "/v1.0/me")
	var e *Error
	if !errors.As(err, &e) || e.Code != "claims_challenge_failed" || !errors.Is(err, ErrInteractionRequired) || e.Claims == "" {
		t.Fatalf("Graph after revocation: %v, want claims_challenge_failed wrapping ErrInteractionRequired, with claims", err)
	}
	if _, err := w.signIn(t, "claims="+url.QueryEscape(e.Claims)); err != nil {
		t.Fatal(err)
	}
	resp, err := w.app.Client(ctx, acct, "User.Read").Get(w.app.Cloud().GraphURL() + "/v1.0/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Graph after a new sign-in: %d", resp.StatusCode)
	}
}
