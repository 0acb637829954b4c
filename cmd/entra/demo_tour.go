package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

// Steps 6 to 9: the cache, the clouds, Graph and inspect.

// refreshIn is refresh_in on step 6's emulator: its tokens live an hour,
// and Entra asks for a refresh after this.
const refreshIn = time.Second

// refreshRun is step 6's background refresh: a second emulator, whose
// tokens say refresh_in 1s, and one credential that got a token from it
// during setup.
type refreshRun struct {
	done  chan struct{} // closed when setup ended
	srv   *entratest.Server
	cred  *entra.Credential
	scope string
	first string    // the first token
	got   time.Time // when it arrived
	err   error
}

// startRefreshRun starts the second emulator and gets the first token,
// in the background.
func startRefreshRun(ctx context.Context) *refreshRun {
	r := &refreshRun{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = r.start(ctx)
	}()
	return r
}

func (r *refreshRun) start(ctx context.Context) error {
	srv, err := entratest.NewServer(&entratest.Options{RefreshIn: refreshIn})
	if err != nil {
		return err
	}
	r.srv = srv
	demo, err := srv.SeedDemo()
	if err != nil {
		return err
	}
	cloud, err := entra.Public.WithAuthorityHost(srv.URL)
	if err != nil {
		return err
	}
	r.cred, err = entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret,
		&entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true})
	if err != nil {
		return err
	}
	r.scope = demo.API.AppIDURI + "/.default"
	tok, err := r.cred.Token(ctx, r.scope)
	if err != nil {
		return err
	}
	r.first, r.got = tok.AccessToken, time.Now()
	return nil
}

// ready waits for the setup and returns its error.
func (r *refreshRun) ready(ctx context.Context) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *refreshRun) close() {
	<-r.done
	if r.cred != nil {
		r.cred.Close()
	}
	if r.srv != nil {
		r.srv.Close()
	}
}

// cache is step 6: the cost of a hit beside a miss (one request to
// Entra), then a background refresh.
func (d *demo) cache(ctx context.Context) error {
	before := d.srv.Count(entratest.EndpointToken)
	t0 := time.Now()
	if _, err := d.daemon.Token(ctx, d.cloud.GraphScope()); err != nil { // a scope not asked for yet
		return err
	}
	miss := time.Since(t0)
	if got := d.srv.Count(entratest.EndpointToken) - before; got != 1 {
		return fmt.Errorf("a cache miss made %d token requests, want 1", got)
	}
	ts := d.daemon.TokenSource(ctx, d.apiDefault)
	credNs, n1, err := perOp(func() error { _, err := d.daemon.Token(ctx, d.apiDefault); return err })
	if err != nil {
		return err
	}
	srcNs, n2, err := perOp(func() error { _, err := ts.Token(); return err })
	if err != nil {
		return err
	}
	if got := d.srv.Count(entratest.EndpointToken) - before; got != 1 {
		return fmt.Errorf("%d cache hits made %d token requests, want none", n1+n2, got-1)
	}
	d.emit("miss: one request to Entra, %s", ms(miss))
	d.emit("hit:  Credential.Token %s/op, TokenSource.Token %s/op (%s calls, no request)", nsOp(credNs), nsOp(srcNs), thousands(n1+n2))
	return d.backgroundRefresh(ctx)
}

// perOp times calls of f for about 50 ms and returns the time per call
// and the number of calls.
func perOp(f func() error) (time.Duration, int, error) {
	const batch = 1000
	n, t0 := 0, time.Now()
	for time.Since(t0) < 50*time.Millisecond {
		for range batch {
			if err := f(); err != nil {
				return 0, n, err
			}
		}
		n += batch
	}
	return time.Since(t0) / time.Duration(n), n, nil
}

// nsOp formats a per-call time in nanoseconds.
func nsOp(d time.Duration) string { return thousands(int(d.Nanoseconds())) + " ns" }

// backgroundRefresh shows step 6's credential refreshing its token after
// refresh_in while its callers keep getting the cached one at once.
func (d *demo) backgroundRefresh(ctx context.Context) error {
	r := d.refresh
	if wait := time.Until(r.got.Add(refreshIn + 50*time.Millisecond)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Calls from now on get a token at once; the first starts the refresh.
	var first, slowest time.Duration
	var calls int
	t0 := time.Now()
	for {
		c0 := time.Now()
		tok, err := r.cred.Token(ctx, r.scope)
		took := time.Since(c0)
		if calls == 0 {
			first = took
		}
		slowest = max(slowest, took)
		calls++
		if err != nil {
			return err
		}
		if tok.AccessToken != r.first {
			break
		}
		if time.Since(t0) > 5*time.Second {
			return errors.New("no background refresh within 5s of refresh_in")
		}
		select {
		case <-time.After(2 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	took := time.Since(t0)
	if reqs := r.srv.GrantCount("client_credentials"); reqs != 2 {
		return fmt.Errorf("the refresh took %d token requests in all, want 2", reqs)
	}
	d.emit("refresh: past Entra's refresh_in (%s), a call got the cached token in %s and started a background refresh;", refreshIn, ms(first))
	d.emit("         the new token arrived %s later; the %d calls meanwhile got the cached one at once (slowest %s)", ms(took), calls, ms(slowest))
	return nil
}

// clouds is step 7: the cloud presets.
func (d *demo) clouds(context.Context) error {
	type row struct{ name, authority, graph, note string }
	rows := []row{{"name", "authority host", "Microsoft Graph", ""}}
	for _, c := range []entra.Cloud{entra.Public, entra.China, entra.USGovernment, entra.USGovernmentDoD, entra.Germany} {
		r := row{c.Name(), c.AuthorityHost(), c.GraphURL(), ""}
		if c == entra.Germany {
			r.note = "  (closed on 29 October 2021)"
		}
		rows = append(rows, r)
	}
	rows = append(rows, row{"emulator", d.cloud.AuthorityHost(), d.cloud.GraphURL(), "  (this demo: Public.WithAuthorityHost, WithGraphURL)"})
	w := 0
	for _, r := range rows {
		w = max(w, len(r.authority))
	}
	for _, r := range rows {
		d.emit("%-9s %-*s  %s%s", r.name, w, r.authority, r.graph, r.note)
	}
	return nil
}

// graph is step 8: an app-only Microsoft Graph call.
func (d *demo) graph(ctx context.Context) error {
	g := d.daemon.Graph(ctx)
	req, err := g.NewRequest(ctx, http.MethodGet, "/v1.0/users?$select=displayName,userPrincipalName", nil)
	if err != nil {
		return err
	}
	resp, err := g.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var users struct {
		Value []struct {
			DisplayName       string `json:"displayName"`
			UserPrincipalName string `json:"userPrincipalName"`
		} `json:"value"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&users) != nil {
		return fmt.Errorf("GET /v1.0/users answered %s", resp.Status)
	}
	names := make([]string, len(users.Value))
	for i, u := range users.Value {
		names[i] = u.DisplayName + " <" + u.UserPrincipalName + ">"
	}
	tok, err := d.daemon.Token(ctx, g.Scope())
	if err != nil {
		return err
	}
	rep, err := entra.Inspect(tok.AccessToken)
	if err != nil {
		return err
	}
	d.emit("Credential.Graph: GET %s/v1.0/users, app-only, roles %s", g.BaseURL(), list(rep.Roles))
	d.emit("%s: %d user(s): %s", resp.Status, len(names), strings.Join(names, ", "))
	return nil
}

// inspect is step 9: two tokens with a classic mistake, explained.
func (d *demo) inspect(ctx context.Context) error {
	// A Microsoft Graph token about to be sent to the demo API.
	tok, err := d.daemon.Token(ctx, d.cloud.GraphScope())
	if err != nil {
		return err
	}
	rep, err := entra.InspectWith(tok.AccessToken, &entra.InspectOptions{TargetURL: d.api.URL + "/orders", Audience: d.d.API.AppIDURI, Cloud: d.cloud})
	if err != nil {
		return err
	}
	if !rep.Has(entra.CodeGraphTokenForAPI) {
		return fmt.Errorf("a Graph token sent to the demo API: findings %v, want %s", rep.Findings, entra.CodeGraphTokenForAPI)
	}
	d.emit("a Graph token (aud %s) sent to the demo API:", strings.Join(rep.Audience, " "))
	d.findings(rep.Findings)

	// An app that was given the API's app role without admin consent.
	const noConsentID = "1b2c3d4e-0009-4000-8000-00000000d009"
	const noConsentSecret = "demo-no-consent-secret-not-for-production"
	err = d.srv.AddApp(d.d.TenantID, entratest.App{ClientID: noConsentID, DisplayName: "demo-daemon-without-consent",
		Secrets: []entratest.Secret{{Value: noConsentSecret}},
		Grants:  []entratest.Grant{{Resource: d.d.API.ClientID, AppRoles: []string{d.d.API.Role}, AdminConsent: false}}})
	if err != nil {
		return err
	}
	cred, err := entra.NewClientSecretCredential(d.d.TenantID, noConsentID, noConsentSecret, &d.opts)
	if err != nil {
		return err
	}
	defer cred.Close()
	tok, err = cred.Token(ctx, d.apiDefault)
	if err != nil {
		return err
	}
	if rep, err = entra.InspectWith(tok.AccessToken, &entra.InspectOptions{Cloud: d.cloud}); err != nil {
		return err
	}
	if !rep.Has(entra.CodeAppOnlyNoRoles) {
		return fmt.Errorf("an app-only token without admin consent: findings %v, want %s", rep.Findings, entra.CodeAppOnlyNoRoles)
	}
	d.emit("an app-only token from an app whose API permission lacks admin consent:")
	d.findings(rep.Findings)
	d.emit("(entra inspect TOKEN prints the same for any token; --json for machines)")
	return nil
}

// findings prints each finding: severity, code and message, then its
// fix, wrapped.
func (d *demo) findings(fs []entra.Finding) {
	for _, f := range fs {
		for i, l := range wrap(strings.ToUpper(string(f.Severity))+" "+string(f.Code)+": "+f.Message, demoWidth-4) {
			d.emit("%s%s", indent(i, "  ", "    "), l)
		}
		for i, l := range wrap(f.Fix, demoWidth-9) {
			d.emit("%s%s", indent(i, "    fix: ", "         "), l)
		}
	}
}

// indent returns first for line 0, else rest.
func indent(line int, first, rest string) string {
	if line == 0 {
		return first
	}
	return rest
}

// demoWidth is the width findings are wrapped to, after the step column.
const demoWidth = 88

// wrap splits text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}
