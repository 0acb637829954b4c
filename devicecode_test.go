package entra

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// userEmu is an emulator with the demo directory for user sign-in tests.
type userEmu struct {
	*emu
}

func newUserEmu(t *testing.T, o *entratest.Options) *userEmu {
	t.Helper()
	s := entratest.NewTestServer(t, o)
	demo, err := s.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	cloud, err := Public.WithAuthorityHost(s.URL)
	if err == nil {
		cloud, err = cloud.WithGraphURL(s.GraphURL())
	}
	if err != nil {
		t.Fatal(err)
	}
	return &userEmu{&emu{s: s, demo: demo, opts: Options{Cloud: cloud, HTTPClient: s.Client(), DisableInstanceDiscovery: true}}}
}

// deviceCred returns a device code credential whose prompt approves the
// code for username (as the user would on the verification page), and
// counts prompts.
func (m *userEmu) deviceCred(t *testing.T, username string, edit func(*Options)) (*UserCredential, *atomic.Int32) {
	t.Helper()
	var prompts atomic.Int32
	o := m.opts
	if edit != nil {
		edit(&o)
	}
	c, err := NewDeviceCodeCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, func(_ context.Context, dc DeviceCode) error {
		prompts.Add(1)
		if dc.UserCode == "" || dc.VerificationURI == "" || dc.Message == "" || !dc.ExpiresAt.After(time.Now()) {
			t.Errorf("device code %+v: want code, URI, message and a future expiry", dc)
		}
		if username == "" {
			return nil
		}
		return m.s.ApproveDeviceCode(dc.UserCode, username)
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, &prompts
}

// One sign-in, then silent tokens: another API's token comes from the
// refresh token with exactly one request, and the hot path serves them.
func TestDeviceCodeSignInThenSilent(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	cred, prompts := m.deviceCred(t, m.demo.User.Username, nil)
	acct, err := cred.SignIn(t.Context(), m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if acct.HomeAccountID == "" || acct.ObjectID != m.demo.User.ObjectID || acct.Username != m.demo.User.Username {
		t.Fatalf("account %+v, want the demo user", acct)
	}
	if got := m.s.GrantCount("device_code"); got != 1 {
		t.Errorf("device-code polls: got %d, want 1 (the first waits the interval)", got)
	}
	tok, err := cred.Token(t.Context(), acct, m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	if c := claims(t, tok.AccessToken); c["oid"] != m.demo.User.ObjectID || c["scp"] == nil {
		t.Errorf("API token claims %v: want the user's oid and scp", c)
	}
	before := m.s.GrantCount("refresh_token")
	graph, err := cred.Token(t.Context(), acct, "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.s.GrantCount("refresh_token") - before; got != 1 {
		t.Errorf("refresh requests for a second resource: got %d, want 1", got)
	}
	if c := claims(t, graph.AccessToken); c["aud"] != "https://graph.microsoft.com" && c["aud"] != "00000003-0000-0000-c000-000000000000" {
		t.Errorf("Graph token aud %v", c["aud"])
	}
	// Both come from the cache now, and Graph /v1.0/me answers for the user.
	ts := cred.TokenSource(t.Context(), acct, "User.Read")
	if got, _ := ts.Token(); got != graph {
		t.Error("the TokenSource did not serve the cached token")
	}
	resp, err := cred.Client(t.Context(), acct, "User.Read").Get(cred.Cloud().GraphURL() + "/v1.0/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("Graph /v1.0/me: status %d", resp.StatusCode)
	}
	if got := m.s.GrantCount("refresh_token") - before; got != 1 || prompts.Load() != 1 {
		t.Errorf("after cached calls: %d refreshes, %d prompts; want 1 and 1", got, prompts.Load())
	}
}

// Two accounts in one credential never see each other's tokens; signing
// one out leaves nothing of it behind.
func TestTwoAccountsAndSignOut(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	bob, err := m.s.AddUser(m.demo.TenantID, entratest.User{Username: "bob@contoso.onmicrosoft.com", DisplayName: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	var next atomic.Value
	next.Store(m.demo.User.Username)
	o := m.opts
	cred, err := NewDeviceCodeCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, func(_ context.Context, dc DeviceCode) error {
		return m.s.ApproveDeviceCode(dc.UserCode, next.Load().(string))
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	alice, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	next.Store(bob.Username)
	bobAcct, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		acct Account
		oid  string
	}{{alice, m.demo.User.ObjectID}, {bobAcct, bob.ObjectID}} {
		tok, err := cred.Token(t.Context(), tc.acct, "User.Read")
		if err != nil {
			t.Fatal(err)
		}
		if got := claims(t, tok.AccessToken)["oid"]; got != tc.oid {
			t.Errorf("%s's token has oid %v, want %s", tc.acct.Username, got, tc.oid)
		}
	}
	if accts, err := cred.Accounts(t.Context()); err != nil || len(accts) != 2 {
		t.Fatalf("accounts: %v, %v; want two", accts, err)
	}
	ts := cred.TokenSource(t.Context(), bobAcct, "User.Read")
	if err := cred.SignOut(t.Context(), bobAcct); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); !errors.Is(err, ErrInteractionRequired) {
		t.Errorf("bob's TokenSource after sign-out: got %v, want ErrInteractionRequired", err)
	}
	if _, err := cred.Token(t.Context(), bobAcct, "api://other/.default"); !errors.Is(err, ErrInteractionRequired) {
		t.Errorf("bob after sign-out: got %v, want ErrInteractionRequired", err)
	}
	if accts, _ := cred.Accounts(t.Context()); len(accts) != 1 || accts[0].HomeAccountID != alice.HomeAccountID {
		t.Errorf("accounts after sign-out: %v, want alice only", accts)
	}
	if _, err := cred.Token(t.Context(), alice, "User.Read"); err != nil {
		t.Errorf("alice after bob signed out: %v", err)
	}
}

// The newest refresh token always replaces the old one: with strict
// rotation (a redeemed refresh token is dead), 100 consecutive refreshes
// all succeed.
func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{StrictRefreshTokens: true, TokenLifetime: time.Minute})
	fc := newFakeClock(time.Now())
	cred, _ := m.deviceCred(t, m.demo.User.Username, func(o *Options) { o.Clock = fc })
	acct, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	before := m.s.GrantCount("refresh_token")
	for i := range 100 {
		fc.Advance(time.Minute) // the cached token has expired: ask MSAL, which redeems the refresh token
		if _, err := cred.Token(t.Context(), acct, "User.Read"); err != nil {
			t.Fatalf("refresh %d: %v", i+1, err)
		}
	}
	if got := m.s.GrantCount("refresh_token") - before; got != 100 {
		t.Errorf("refresh requests: got %d, want 100", got)
	}
}

// A revoked refresh token ends in ErrInteractionRequired, remembered: no
// retry loop.
func TestRevokedRefreshTokenNeedsInteraction(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	cred, _ := m.deviceCred(t, m.demo.User.Username, nil)
	acct, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	m.s.RevokeRefreshTokens(m.demo.User.Username)
	before := m.s.GrantCount("refresh_token")
	for range 5 {
		_, err := cred.Token(t.Context(), acct, m.demo.API.Scope) // needs the refresh token
		var e *Error
		if !errors.Is(err, ErrInteractionRequired) || !errors.As(err, &e) || e.Hint == "" {
			t.Fatalf("got %v, want an *Error with ErrInteractionRequired and a hint", err)
		}
	}
	if got := m.s.GrantCount("refresh_token") - before; got != 1 {
		t.Errorf("refresh requests: got %d, want 1 (the failure is remembered)", got)
	}
}

// Declined, expired and unknown device codes give typed errors.
func TestDeviceCodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(m *userEmu)
		act   func(m *userEmu, dc DeviceCode) error
		want  error
	}{
		{"declined", nil, func(m *userEmu, dc DeviceCode) error { return m.s.DeclineDeviceCode(dc.UserCode) }, ErrAuthorizationDeclined},
		{"expired", func(m *userEmu) {
			m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 400,
				Body: `{"error":"expired_token","error_description":"AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.","error_codes":[70020]}`})
		}, nil, ErrDeviceCodeExpired},
		{"bad code", func(m *userEmu) {
			m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 400,
				Body: `{"error":"bad_verification_code","error_description":"AADSTS70019: Verification code expired or unknown.","error_codes":[70019]}`})
		}, nil, ErrBadDeviceCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newUserEmu(t, nil)
			if tt.setup != nil {
				tt.setup(m)
			}
			o := m.opts
			cred, err := NewDeviceCodeCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, func(_ context.Context, dc DeviceCode) error {
				if tt.act != nil {
					return tt.act(m, dc)
				}
				return nil
			}, &o)
			if err != nil {
				t.Fatal(err)
			}
			defer cred.Close()
			_, err = cred.SignIn(t.Context(), "User.Read")
			var e *Error
			if !errors.Is(err, tt.want) || !errors.As(err, &e) || e.Hint == "" {
				t.Errorf("got %v, want an *Error with %v and a hint", err, tt.want)
			}
		})
	}
}

// Cancelling SignIn's ctx stops polling at once; a failing prompt is
// reported as such.
func TestDeviceCodeCancelAndPromptFailure(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	cred, _ := m.deviceCred(t, "", nil) // nobody approves
	ctx, cancel := context.WithCancel(t.Context())
	var cancelledAt atomic.Int64
	time.AfterFunc(300*time.Millisecond, func() { cancelledAt.Store(time.Now().UnixNano()); cancel() })
	_, err := cred.SignIn(ctx, "User.Read")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if late := time.Since(time.Unix(0, cancelledAt.Load())); late > 100*time.Millisecond {
		t.Errorf("returned %v after the cancel", late)
	}
	boom := errors.New("no terminal")
	o := m.opts
	bad, err := NewDeviceCodeCredential(m.demo.TenantID, m.demo.PublicClient.ClientID,
		func(context.Context, DeviceCode) error { return boom }, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.SignIn(t.Context(), "User.Read"); !errors.Is(err, boom) || !strings.Contains(err.Error(), "prompt") {
		t.Errorf("failing prompt: got %v, want a prompt_failed *Error wrapping its error", err)
	}
}

func TestDeviceCodeConfig(t *testing.T) {
	m := newUserEmu(t, nil)
	o := m.opts
	if _, err := NewDeviceCodeCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, nil, &o); !errors.Is(err, ErrConfig) {
		t.Errorf("nil prompt: got %v, want ErrConfig", err)
	}
	prompt := func(context.Context, DeviceCode) error { return nil }
	for _, tenant := range []string{"organizations", "common", "consumers"} {
		c, err := NewDeviceCodeCredential(tenant, m.demo.PublicClient.ClientID, prompt, &o)
		if err != nil {
			t.Errorf("tenant %q: %v", tenant, err)
			continue
		}
		c.Close()
	}
	o.Store = &memStore{}
	if c, err := NewDeviceCodeCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, prompt, &o); err != nil {
		t.Errorf("with a Store (accounts persist there): %v", err)
	} else {
		c.Close()
	}
	if _, err := (&UserCredential{}).userSet(Account{}, []string{"User.Read"}); !errors.Is(err, ErrInteractionRequired) {
		t.Errorf("no account: got %v, want ErrInteractionRequired", err)
	}
}
