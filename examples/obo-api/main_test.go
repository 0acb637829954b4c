package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

const (
	demoUserOID = "1b2c3d4e-0005-4000-8000-0000000000e1"
	demoClient  = "1b2c3d4e-0003-4000-8000-00000000c001" // the public client
	demoMid     = "1b2c3d4e-0004-4000-8000-00000000b001" // the middle tier
)

// TestRun runs the example against its embedded emulator and checks the
// transcript: the chain works as the same user at every hop, the second
// call costs no request to Entra, and a Graph token is refused by the
// middleware (401, with the reason) and by the on-behalf-of guard (no
// request).
func TestRun(t *testing.T) {
	var out strings.Builder
	if code := run(nil, &out); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out.String())
	}
	want := []string{
		"client: alice@contoso.onmicrosoft.com signed in (device code), token for api://" + demoMid + "/access_as_user",
		"client -> middle tier GET /me: 200 OK",
		"middle tier: caller oid " + demoUserOID + " (alice@contoso.onmicrosoft.com), via app " + demoClient + " (the client)",
		"middle tier -> downstream API (on-behalf-of token for api://1b2c3d4e-0002-4000-8000-00000000a001/access_as_user): 200, caller oid " +
			demoUserOID + " via app " + demoMid + " (the middle tier)",
		"middle tier -> Graph /v1.0/me (on-behalf-of token for User.Read): 200, Alice Demo <alice@contoso.onmicrosoft.com> id " + demoUserOID,
		"same user at every hop: oid " + demoUserOID,
		"middle tier -> Entra: 2 on-behalf-of exchanges",
		"client -> middle tier again: 200 OK, middle tier's requests to Entra: 0",
		"client sends its Graph token -> middle tier: 401 Unauthorized, invalid_token: the token was issued for Microsoft Graph, not this API",
		"hint: the client must request this API's scope, api://" + demoMid + "/<scope>",
		"on-behalf-of with the Graph token: refused (ErrBadAssertion, assertion_for_graph), requests to Entra: 0",
		"\nok\n",
	}
	checkInOrder(t, out.String(), want)
	if strings.Contains(out.String(), "eyJ") {
		t.Errorf("the transcript shows a token:\n%s", out.String())
	}
}

// TestRealTenantFlags: a real tenant needs the middle tier's client ID and
// secret, and a known cloud.
func TestRealTenantFlags(t *testing.T) {
	t.Setenv("AZURE_CLIENT_SECRET", "")
	for _, args := range [][]string{
		{"-tenant", "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b"},
		{"-tenant", "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b", "-client-id", demoMid},
		{"-tenant", "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b", "-cloud", "mars"},
		{"-no-such-flag"},
	} {
		var out strings.Builder
		if code := run(args, &out); code != 1 || !strings.Contains(out.String(), "obo-api:") {
			t.Errorf("%q: exit %d, %q; want 1 and a message", args, code, out.String())
		}
	}
}

// chain is the example's pieces against an embedded emulator, for tests
// that drive them directly.
type chain struct {
	cfg  *config
	mid  *middleTier
	cred *entra.UserCredential
	hc   *http.Client // trusts the emulator and the APIs, adds no token
	acct entra.Account
}

func startChain(t *testing.T, onAddr bool) *chain {
	t.Helper()
	cfg, cleanup, err := configure(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	downstream, err := startDownstream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(downstream.Close)
	cfg.pool.AddCert(downstream.Certificate())
	midCfg := cfg
	if onAddr { // as with -tenant: the middle tier listens on -addr
		c := *cfg
		c.emu, c.addr = nil, "127.0.0.1:0"
		midCfg = &c
	}
	mid, err := startMiddleTier(midCfg, downstream)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mid.Close)
	cred, hc, err := newClient(cfg, mid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cred.Close() })
	acct, err := cred.SignIn(context.Background(), scope(cfg.midIDURI))
	if err != nil {
		t.Fatal(err)
	}
	return &chain{cfg: cfg, mid: mid, cred: cred, hc: hc, acct: acct}
}

// me calls the middle tier's /me with authorization (none when "").
func (c *chain) me(t *testing.T, authorization string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.mid.URL+"/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *chain) token(t *testing.T, scope string) string {
	t.Helper()
	tok, err := c.cred.Token(context.Background(), c.acct, scope)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// TestMiddleTierRefusals: what the middle tier answers to requests it must
// not serve, without asking Entra for anything.
func TestMiddleTierRefusals(t *testing.T) {
	c := startChain(t, false)
	tests := []struct {
		name          string
		authorization string
		status        int
		challenge     string // in WWW-Authenticate
		body          string
	}{
		{"no token", "", 401, `Bearer realm="api://` + demoMid + `"`, "no bearer token"},
		{"token for the downstream API", "Bearer " + c.token(t, scope(c.cfg.apiIDURI)), 401, `error="invalid_token"`, "not this API"},
		{"Graph token", "Bearer " + c.token(t, "User.Read"), 401, `error="invalid_token"`, "issued for Microsoft Graph"},
		{"forged token", "Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.", 401, `error="invalid_token"`, ""},
		{"two tokens", "Bearer a, Bearer b", 400, `error="invalid_request"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.mid.entraRequests.Load()
			resp, body := c.me(t, tt.authorization)
			if resp.StatusCode != tt.status || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tt.challenge) || !strings.Contains(body, tt.body) {
				t.Errorf("got %d %q %s, want %d, a challenge with %q, a body with %q",
					resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, tt.status, tt.challenge, tt.body)
			}
			if n := c.mid.entraRequests.Load() - before; n != 0 {
				t.Errorf("the middle tier sent %d requests to Entra, want 0", n)
			}
		})
	}
}

// TestMFAForDownstreamAPI: Entra requires MFA for the downstream API (a
// conditional-access policy), which the user's session lacks: the
// on-behalf-of exchange for it fails, Graph still answers. When Entra's
// error carries a claims challenge that entra surfaces (Error.Claims), the
// middle tier passes it on to the client (401 insufficient_claims), and
// the client, signing in again with the claims, gets through; otherwise
// the middle tier answers 502 naming AADSTS50076.
func TestMFAForDownstreamAPI(t *testing.T) {
	c := startChain(t, false)
	c.cfg.emu.SetMFA(c.cfg.apiID, entratest.MFARequired)

	resp, body := c.me(t, "Bearer "+c.token(t, scope(c.cfg.midIDURI)))
	if resp.StatusCode == http.StatusBadGateway {
		var res result
		if err := json.Unmarshal([]byte(body), &res); err != nil || res.Downstream == nil || res.Downstream.Status != 0 ||
			!strings.Contains(res.Downstream.Error, "AADSTS50076") || res.Graph == nil || res.Graph.Status != http.StatusOK {
			t.Fatalf("got 502 %s, want the downstream hop failed with AADSTS50076 and Graph answered", body)
		}
		t.Log("entra does not surface the claims of Entra's on-behalf-of error (Error.Claims is empty): the middle tier cannot pass the challenge on")
		return
	}
	challenge := resp.Header.Get("WWW-Authenticate")
	_, b64, ok := strings.Cut(challenge, `claims="`)
	b64, _, _ = strings.Cut(b64, `"`)
	claims, err := base64.StdEncoding.DecodeString(b64)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `error="insufficient_claims"`) || !ok || err != nil || !json.Valid(claims) {
		t.Fatalf("got %d %q %s, want 401 with an insufficient_claims challenge carrying base64 JSON claims", resp.StatusCode, challenge, body)
	}

	// The client's entra transport reads the challenge; a device code
	// client cannot satisfy it silently: it must sign the user in again.
	ctx := context.Background()
	_, err = c.cred.Client(ctx, c.acct, scope(c.cfg.midIDURI)).Get(c.mid.URL + "/me")
	var e *entra.Error
	if !errors.Is(err, entra.ErrInteractionRequired) || !errors.As(err, &e) || e.Claims == "" {
		t.Fatalf("client call: got %v, want ErrInteractionRequired with the claims", err)
	}
	if c.acct, err = c.cred.SignInWithClaims(ctx, e.Claims, scope(c.cfg.midIDURI)); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := callChain(ctx, c.cfg, c.mid, c.cred.Client(ctx, c.acct, scope(c.cfg.midIDURI)), &out, false); err != nil {
		t.Fatalf("after signing in again with the claims: %v\n%s", err, out.String())
	}
}

// TestMiddleTierOnAddr: with -tenant the middle tier serves https on
// -addr with a certificate made at start; the chain works the same.
func TestMiddleTierOnAddr(t *testing.T) {
	c := startChain(t, true)
	if !strings.HasPrefix(c.mid.URL, "https://127.0.0.1:") || c.mid.URL == "https://127.0.0.1:0" {
		t.Fatalf("middle tier at %s, want https on a loopback port", c.mid.URL)
	}
	var out strings.Builder
	ctx := context.Background()
	if err := callChain(ctx, c.cfg, c.mid, c.cred.Client(ctx, c.acct, scope(c.cfg.midIDURI)), &out, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	checkInOrder(t, out.String(), []string{"GET /me: 200 OK", "same user at every hop: oid " + demoUserOID})
}

// checkInOrder fails t unless got holds every want, in order.
func checkInOrder(t *testing.T, got string, want []string) {
	t.Helper()
	last := -1
	for _, w := range want {
		i := strings.Index(got, w)
		if i < 0 || i < last {
			t.Errorf("transcript lacks %q (in order):\n%s", w, got)
			continue
		}
		last = i
	}
}
