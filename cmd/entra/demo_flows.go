package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/bearer"
)

// Steps 1 to 5: the five flows.

// secret is step 1: client credentials with a secret.
func (d *demo) secret(ctx context.Context) error {
	cred, err := entra.NewClientSecretCredential(d.d.TenantID, d.d.Daemon.ClientID, d.d.Daemon.ClientSecret, &d.opts)
	if err != nil {
		return err
	}
	d.daemon = cred
	d.closers = append(d.closers, func() { cred.Close() })
	t0 := time.Now()
	tok, err := cred.Token(ctx, d.apiDefault)
	if err != nil {
		return err
	}
	return d.appOnly(tok.AccessToken, time.Since(t0))
}

// certificate is step 2: client credentials with a signed assertion.
func (d *demo) certificate(ctx context.Context) error {
	cert := d.d.Daemon.Certificate
	cred, err := entra.NewClientCertificateCredential(d.d.TenantID, d.d.Daemon.ClientID, []*x509.Certificate{cert}, d.d.Daemon.Key, &d.opts)
	if err != nil {
		return err
	}
	defer cred.Close()
	t0 := time.Now()
	tok, err := cred.Token(ctx, d.apiDefault)
	if err != nil {
		return err
	}
	if err := d.appOnly(tok.AccessToken, time.Since(t0)); err != nil {
		return err
	}
	sum := sha256.Sum256(cert.Raw)
	d.emit("signed client assertion, certificate %q, x5t#S256 %s…", cert.Subject.CommonName, base64.RawURLEncoding.EncodeToString(sum[:])[:12])
	return nil
}

// appOnly prints an app-only token's line and checks it carries the role.
func (d *demo) appOnly(token string, took time.Duration) error {
	r, err := entra.Inspect(token)
	if err != nil {
		return err
	}
	if !r.AppOnly || len(r.Roles) == 0 {
		return fmt.Errorf("the app-only token has roles %v, want %s", r.Roles, d.d.API.Role)
	}
	d.emit("app-only token for the demo API: roles %s, v%s, %s in %s", list(r.Roles), r.Version, short(token), ms(took))
	return nil
}

// deviceRun is step 3's sign-in, started during setup: Entra's polling
// interval (5 s) is the demo's longest wait, so the other steps run meanwhile.
type deviceRun struct {
	prompt chan entra.DeviceCode // the prompt, once
	done   chan struct{}         // closed when the sign-in ended
	cancel context.CancelFunc
	cred   *entra.UserCredential
	acct   entra.Account
	token  string
	took   time.Duration
	err    error
}

// startDeviceCode starts the device code sign-in of the demo user, whom
// the emulator approves as soon as the code is shown.
func (d *demo) startDeviceCode(ctx context.Context) *deviceRun {
	ctx, cancel := context.WithCancel(ctx)
	r := &deviceRun{prompt: make(chan entra.DeviceCode, 1), done: make(chan struct{}), cancel: cancel}
	d.srv.SetAutoApproveUser(d.d.User.Username)
	cred, err := entra.NewDeviceCodeCredential(d.d.TenantID, d.d.PublicClient.ClientID, func(_ context.Context, dc entra.DeviceCode) error {
		select {
		case r.prompt <- dc:
		default:
		}
		return nil
	}, &d.opts)
	if err != nil {
		r.err = err
		close(r.done)
		return r
	}
	r.cred = cred
	go func() {
		defer close(r.done)
		t0 := time.Now()
		r.acct, r.err = cred.SignIn(ctx, d.d.API.Scope)
		if r.err == nil {
			tok, err := cred.Token(ctx, r.acct, d.d.API.Scope)
			if r.err = err; err == nil {
				r.token = tok.AccessToken
			}
		}
		r.took = time.Since(t0)
	}()
	return r
}

// close ends the sign-in if it still runs, and waits for it.
func (r *deviceRun) close() {
	r.cancel()
	<-r.done
	if r.cred != nil {
		r.cred.Close()
	}
}

// deviceCode is step 3: the prompt as a user sees it, then the approval.
func (d *demo) deviceCode(ctx context.Context) error {
	r := d.device
	select {
	case dc := <-r.prompt:
		d.emit("%s", dc.Message)
	case <-r.done: // the prompt, if any, was sent before
		select {
		case dc := <-r.prompt:
			d.emit("%s", dc.Message)
		default:
			if r.err == nil {
				return errors.New("the sign-in ended without showing a code")
			}
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.err != nil {
		return r.err
	}
	rep, err := entra.Inspect(r.token)
	if err != nil {
		return err
	}
	d.emit("%s approved it (the emulator's auto-approve): scp %s, %s in %s (Entra's interval: 5 s)",
		r.acct.Username, list(rep.Scopes), short(r.token), ms(r.took))
	return nil
}

var (
	demoFormAction = regexp.MustCompile(`action="([^"]*)"`)
	demoFormField  = regexp.MustCompile(`name="([^"]*)" value="([^"]*)"`)
)

// browser is step 4: authorization code with PKCE through the loopback
// listener; the "browser" loads the emulator's sign-in page (which signs
// the demo user in at once) and submits its form_post answer to the
// listener, as a real browser would.
func (d *demo) browser(ctx context.Context) error {
	var mu sync.Mutex
	var redirect, method string
	browserErr := make(chan error, 1)
	open := func(ctx context.Context, authURL string) error {
		u, err := url.Parse(authURL)
		if err != nil {
			return err
		}
		mu.Lock()
		redirect, method = u.Query().Get("redirect_uri"), u.Query().Get("code_challenge_method")
		mu.Unlock()
		go func() { browserErr <- automatedBrowser(ctx, d.hc, authURL) }()
		return nil
	}
	cred, err := entra.NewBrowserCredential(d.d.TenantID, d.d.PublicClient.ClientID, "http://localhost", open, &d.opts)
	if err != nil {
		return err
	}
	d.user = cred
	d.closers = append(d.closers, func() { cred.Close() })
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	t0 := time.Now()
	acct, err := cred.SignIn(sctx, d.d.API.Scope)
	if err != nil {
		select {
		case berr := <-browserErr:
			if berr != nil {
				return fmt.Errorf("the automated browser: %w", berr)
			}
		default:
		}
		return err
	}
	tok, err := cred.Token(ctx, acct, d.d.API.Scope)
	if err != nil {
		return err
	}
	took := time.Since(t0)
	d.account = acct
	rep, err := entra.Inspect(tok.AccessToken)
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	d.emit("loopback listener %s, PKCE %s, automated browser: %s signed in", redirect, method, acct.Username)
	d.emit("delegated token for the demo API: scp %s, %s in %s", list(rep.Scopes), short(tok.AccessToken), ms(took))
	return nil
}

// automatedBrowser does what a browser does with the emulator's sign-in
// page: load it and post its auto-submitting form to the loopback listener.
func automatedBrowser(ctx context.Context, hc *http.Client, authURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	action := demoFormAction.FindSubmatch(page)
	if action == nil {
		return fmt.Errorf("the sign-in page (HTTP %d) has no form to submit", resp.StatusCode)
	}
	form := url.Values{}
	for _, f := range demoFormField.FindAllSubmatch(page, -1) {
		form.Set(html.UnescapeString(string(f[1])), html.UnescapeString(string(f[2])))
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, html.UnescapeString(string(action[1])), strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = (&http.Client{Timeout: 20 * time.Second}).Do(req) // plain http to the loopback listener
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// meReply is what the middle tier answers on /me.
type meReply struct {
	Caller      string   `json:"caller"`
	CallerScope []string `json:"callerScopes"`
	OBOAudience []string `json:"oboAudience"`
	OBOScopes   []string `json:"oboScopes"`
	DisplayName string   `json:"displayName"`
	UPN         string   `json:"userPrincipalName"`
}

// serveMe is the middle-tier API's handler, behind bearer's middleware:
// it calls Microsoft Graph /v1.0/me on behalf of its caller.
func (d *demo) serveMe(w http.ResponseWriter, r *http.Request) {
	claims, _ := bearer.FromContext(r.Context())
	ts, err := bearer.TokenSource(r, d.obo, "User.Read")
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	graph, _ := url.Parse(d.cloud.GraphURL())
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &entra.Transport{Source: ts, Base: d.hc.Transport, AllowedHosts: []string{graph.Host}}}
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, d.cloud.GraphURL()+"/v1.0/me", nil)
	resp, err := hc.Do(req)
	if err != nil {
		http.Error(w, trimEntra(err), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	var out meReply
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out) != nil {
		http.Error(w, "Graph /v1.0/me answered "+resp.Status, http.StatusBadGateway)
		return
	}
	out.Caller, out.CallerScope = claims.Username, claims.Scopes
	if tok, err := ts.Token(); err == nil { // cached: the call above fetched it
		if rep, err := entra.Inspect(tok.AccessToken); err == nil {
			out.OBOAudience, out.OBOScopes = rep.Audience, rep.Scopes
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// onBehalfOf is step 5: the user of step 4 calls the middle tier, which
// validates the token with package bearer and calls Graph as the user.
func (d *demo) onBehalfOf(ctx context.Context) error {
	if d.user == nil {
		return errors.New("step 4 signed nobody in")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.api.URL+"/me", nil)
	if err != nil {
		return err
	}
	resp, err := d.user.Client(ctx, d.account, d.d.OBOAPI.Scope).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var me meReply
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &me) != nil {
		return fmt.Errorf("the middle tier answered %s: %s", resp.Status, oneLine(string(body)))
	}
	d.emit("%s -> middle tier %s/me with a token for %s, scp %s", d.account.Username, d.api.URL, d.d.OBOAPI.AppIDURI, list(me.CallerScope))
	d.emit("bearer middleware: valid, user %s -> OBO token for %s, scp %s", me.Caller, strings.Join(me.OBOAudience, " "), list(me.OBOScopes))
	d.emit("Graph /v1.0/me as the user: %s <%s>", me.DisplayName, me.UPN)
	return nil
}
