package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/entrakit/entra"
)

// web is the app's handlers: pages, sessions and the entra.WebApp.
type web struct {
	cfg      config
	base     string // http://localhost:port
	app      *entra.WebApp
	sessions *sessions
	apiURL   string
}

// newServer builds the WebApp and the app's routes. The app's HTTP client
// trusts Entra (or the emulator) and the in-process API, which is the one
// host allowed to receive the API's tokens (its scope, api://..., names
// no host).
func newServer(cfg config, base string, api *httptest.Server) (http.Handler, *entra.WebApp, error) {
	pool := cfg.pool.Clone()
	pool.AddCert(api.Certificate())
	opts := cfg.opts
	opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	u, _ := url.Parse(api.URL)
	opts.AllowedHosts = []string{u.Host}
	app, err := entra.NewWebApp(cfg.tenantID, cfg.clientID, base+"/auth/callback", entra.ClientSecret(cfg.secret), &opts)
	if err != nil {
		return nil, nil, err
	}
	w := &web{cfg: cfg, base: base, app: app, sessions: newSessions(base), apiURL: api.URL}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", w.home)
	mux.HandleFunc("GET /login", w.login)
	mux.Handle("/auth/callback", app.CallbackHandler(w.signedIn))
	mux.HandleFunc("GET /profile", w.profile)
	mux.HandleFunc("POST /logout", w.logout)
	return mux, app, nil
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>entra web app</title></head><body>
<h1>entra web app</h1>
{{if .Error}}<p id="error">{{.Error}}</p>{{end}}
{{if .User}}<p id="user">signed in as {{.User}}</p>
<ul>{{range .Lines}}<li class="result">{{.}}</li>{{end}}</ul>
<p><a href="/profile">profile</a></p>
<form method="post" action="/logout"><button>sign out</button></form>
{{else}}<p id="user">signed out</p><p><a href="/login">sign in</a></p>{{end}}
</body></html>`))

type view struct {
	User, Error string
	Lines       []string
}

func render(w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	page.Execute(w, v)
}

func (w *web) home(rw http.ResponseWriter, r *http.Request) {
	acct, _ := w.sessions.get(r)
	render(rw, http.StatusOK, view{User: acct.Username})
}

// login sends the browser to Entra. The sign-in asks for the API's scope
// (or Graph's without an API); other scopes come silently later.
func (w *web) login(rw http.ResponseWriter, r *http.Request) {
	scope := w.cfg.apiScope
	if scope == "" {
		scope = "User.Read"
	}
	opts := &entra.SignInOptions{ReturnTo: "/profile", Claims: r.URL.Query().Get("claims")}
	if err := w.app.RedirectToSignIn(rw, r, opts, scope); err != nil {
		render(rw, http.StatusBadGateway, view{Error: err.Error()})
	}
}

// signedIn is the callback's done function: start a session and go on.
func (w *web) signedIn(rw http.ResponseWriter, r *http.Request, acct entra.Account, returnTo string, err error) {
	if err != nil {
		render(rw, http.StatusUnauthorized, view{Error: err.Error()})
		return
	}
	w.sessions.start(rw, acct)
	if !strings.HasPrefix(returnTo, "/") || strings.HasPrefix(returnTo, "//") || strings.HasPrefix(returnTo, "/\\") {
		returnTo = "/" // only our own paths: no open redirect
	}
	http.Redirect(rw, r, returnTo, http.StatusSeeOther)
}

// profile calls the API and Graph as the signed-in user.
func (w *web) profile(rw http.ResponseWriter, r *http.Request) {
	acct, ok := w.sessions.get(r)
	if !ok {
		http.Redirect(rw, r, "/login", http.StatusSeeOther)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	var lines []string
	if w.cfg.apiScope != "" {
		body, err := w.get(ctx, w.app.Client(ctx, acct, w.cfg.apiScope), w.apiURL+"/hello")
		if w.reauth(rw, r, err) {
			return
		}
		lines = append(lines, "API: "+result(body, err))
	}
	body, err := w.get(ctx, w.app.Client(ctx, acct, "User.Read"), w.app.Cloud().GraphURL()+"/v1.0/me")
	if w.reauth(rw, r, err) {
		return
	}
	if err == nil {
		var me struct{ DisplayName, UserPrincipalName string }
		if json.Unmarshal([]byte(body), &me) == nil {
			body = me.DisplayName + " <" + me.UserPrincipalName + ">"
		}
	}
	lines = append(lines, "Graph /v1.0/me: "+result(body, err))
	render(rw, http.StatusOK, view{User: acct.Username, Lines: lines})
}

// reauth sends the browser to sign in again when the user's tokens need
// it (signed out elsewhere, refresh token revoked, MFA or a claims
// challenge to satisfy); it reports whether it did.
func (w *web) reauth(rw http.ResponseWriter, r *http.Request, err error) bool {
	if !errors.Is(err, entra.ErrInteractionRequired) {
		return false
	}
	to := "/login"
	var e *entra.Error
	if errors.As(err, &e) && e.Claims != "" {
		to += "?claims=" + url.QueryEscape(e.Claims)
	}
	http.Redirect(rw, r, to, http.StatusSeeOther)
	return true
}

// get GETs u with hc; a non-200 answer is an error.
func (w *web) get(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %.200s", resp.Status, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

func result(body string, err error) string {
	if err != nil {
		return "FAILED: " + err.Error()
	}
	return body
}

// logout forgets the user in the app (tokens and session), then sends the
// browser to Entra's sign-out page, which comes back home. (A POST: a
// SameSite=Lax cookie is not sent with another site's POST, so no other
// site can sign the user out.)
func (w *web) logout(rw http.ResponseWriter, r *http.Request) {
	if acct, ok := w.sessions.get(r); ok {
		if err := w.app.SignOut(r.Context(), acct); err != nil {
			render(rw, http.StatusInternalServerError, view{Error: err.Error()})
			return
		}
	}
	w.sessions.end(rw, r)
	to := "/"
	if w.cfg.entraSignOut {
		to = w.app.SignOutURL(w.base + "/")
	}
	http.Redirect(rw, r, to, http.StatusSeeOther)
}
