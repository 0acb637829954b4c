package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/entrakit/entra"
)

// runClient plays the client (embedded mode): it signs the demo user in
// with the device code flow for the middle tier's scope, calls the middle
// tier twice, then makes the classic mistake of sending its Graph token.
// It prints the chain and fails if a hop does not answer as it should.
func runClient(cfg *config, mid *middleTier, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cred, hc, err := newClient(cfg, mid)
	if err != nil {
		return err
	}
	defer cred.Close()

	// 1. The client asks for the middle tier's own scope, not Graph's.
	midScope := scope(cfg.midIDURI)
	acct, err := cred.SignIn(ctx, midScope)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "client: %s signed in (device code), token for %s\n", acct.Username, midScope)

	// 2. The whole chain: client -> middle tier -> downstream API and Graph.
	if err := callChain(ctx, cfg, mid, cred.Client(ctx, acct, midScope), out, false); err != nil {
		return err
	}
	// 3. Again: the middle tier's on-behalf-of tokens are cached per user.
	if err := callChain(ctx, cfg, mid, cred.Client(ctx, acct, midScope), out, true); err != nil {
		return err
	}

	// 4. The mistake: the client forwards its Microsoft Graph token.
	graphTok, err := cred.Token(ctx, acct, "User.Read")
	if err != nil {
		return err
	}
	if err := sendGraphToken(ctx, mid, hc, graphTok.AccessToken, out); err != nil {
		return err
	}
	// 5. The same token given to the on-behalf-of credential directly
	// (a middle tier without bearer validation in front).
	before := mid.entraRequests.Load()
	_, err = mid.obo.Token(ctx, graphTok.AccessToken, scope(cfg.apiIDURI))
	n := mid.entraRequests.Load() - before
	var e *entra.Error
	if !errors.Is(err, entra.ErrBadAssertion) || !errors.As(err, &e) || n != 0 {
		return fmt.Errorf("on-behalf-of with a Graph token: got %v after %d requests, want ErrBadAssertion after none", err, n)
	}
	fmt.Fprintf(out, "on-behalf-of with the Graph token: refused (ErrBadAssertion, %s), requests to Entra: %d\n  hint: %s\n", e.Code, n, e.Hint)
	return nil
}

// newClient returns the client's credential (the demo public client,
// device code flow) and a plain HTTP client, both trusting the emulator
// and the middle tier.
func newClient(cfg *config, mid *middleTier) (*entra.UserCredential, *http.Client, error) {
	pool := cfg.pool.Clone()
	pool.AddCert(mid.Certificate())
	u, err := url.Parse(mid.URL)
	if err != nil {
		return nil, nil, err
	}
	hc := httpClient(pool)
	cred, err := entra.NewDeviceCodeCredential(cfg.tenantID, cfg.publicClientID,
		func(context.Context, entra.DeviceCode) error { return nil }, // the emulator approves the code at once
		&entra.Options{Cloud: cfg.cloud, HTTPClient: hc, DisableInstanceDiscovery: cfg.disableInstanceDiscovery,
			AllowedHosts: []string{u.Host}}) // the scope, api://..., names no host: allow the middle tier's
	return cred, hc, err
}

// callChain calls the middle tier's /me with hc (which adds the user's
// token) and prints what each hop answered. On the second call (again)
// the middle tier must not ask Entra for anything.
func callChain(ctx context.Context, cfg *config, mid *middleTier, hc *http.Client, out io.Writer, again bool) error {
	before, beforeExchanges := mid.entraRequests.Load(), mid.exchanges.Load()
	resp, err := get(ctx, hc, mid.URL+"/me")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res result
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return fmt.Errorf("middle tier answered %s, not its JSON", resp.Status)
	}
	n, exchanges := mid.entraRequests.Load()-before, mid.exchanges.Load()-beforeExchanges
	if again {
		fmt.Fprintf(out, "client -> middle tier again: %s, middle tier's requests to Entra: %d (on-behalf-of tokens cached per user)\n", resp.Status, n)
		if resp.StatusCode != http.StatusOK || n != 0 {
			return errors.New("the second call was not served from the middle tier's cache")
		}
		return nil
	}
	fmt.Fprintf(out, "client -> middle tier GET /me: %s\n", resp.Status)
	fmt.Fprintf(out, "  middle tier: caller oid %s (%s), via app %s (the client)\n", res.Caller.OID, res.Caller.Username, res.Caller.AppID)
	if res.Downstream == nil || res.Graph == nil {
		return errors.New("middle tier answered without its downstream calls")
	}

	var api caller
	if err := decodeHop(res.Downstream, &api); err != nil {
		return err
	}
	fmt.Fprintf(out, "  middle tier -> downstream API (on-behalf-of token for %s): %d, caller oid %s via app %s (the middle tier)\n",
		res.Downstream.Scope, res.Downstream.Status, api.OID, api.AppID)

	var me struct{ ID, DisplayName, UserPrincipalName string }
	if err := decodeHop(res.Graph, &me); err != nil {
		return err
	}
	fmt.Fprintf(out, "  middle tier -> Graph %s (on-behalf-of token for %s): %d, %s <%s> id %s\n",
		strings.TrimPrefix(res.Graph.URL, cfg.cloud.GraphURL()), res.Graph.Scope, res.Graph.Status, me.DisplayName, me.UserPrincipalName, me.ID)

	switch {
	case res.Caller.AppID != cfg.publicClientID:
		return fmt.Errorf("middle tier saw app %s, want the client %s", res.Caller.AppID, cfg.publicClientID)
	case api.AppID != cfg.midID:
		return fmt.Errorf("downstream API saw app %s, want the middle tier %s", api.AppID, cfg.midID)
	case api.OID != res.Caller.OID || !entra.SameUser(me.ID, res.Caller.OID):
		return fmt.Errorf("users differ: middle tier %s, downstream %s, Graph %s", res.Caller.OID, api.OID, me.ID)
	}
	fmt.Fprintf(out, "  same user at every hop: oid %s\n", res.Caller.OID)
	fmt.Fprintf(out, "  middle tier -> Entra: %d on-behalf-of exchanges (%d requests with the tenant's metadata)\n", exchanges, n)
	return nil
}

// decodeHop decodes a successful hop's body into v.
func decodeHop(h *hop, v any) error {
	if h.Status != http.StatusOK {
		return fmt.Errorf("middle tier -> %s: %s", h.URL, h.Error)
	}
	return json.Unmarshal(h.Body, v)
}

// sendGraphToken sends a Graph token to the middle tier, which must
// refuse it with 401 and say why.
func sendGraphToken(ctx context.Context, mid *middleTier, hc *http.Client, graphToken string, out io.Writer) error {
	before := mid.entraRequests.Load()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mid.URL+"/me", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+graphToken)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Hint        string `json:"hint"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	fmt.Fprintf(out, "client sends its Graph token -> middle tier: %s, %s: %s\n  hint: %s\n", resp.Status, body.Error, body.Description, body.Hint)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) ||
		mid.entraRequests.Load() != before {
		return errors.New("the middle tier did not refuse the Graph token with 401 invalid_token before any on-behalf-of request")
	}
	return nil
}

func get(ctx context.Context, hc *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return hc.Do(req)
}
