package entra

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/entrakit/entra/entratest"
)

// webEnv is a web app signing users in against the emulator, served on a
// loopback port, and a browser (an http.Client with a cookie jar).
type webEnv struct {
	m       *userEmu
	app     *WebApp
	srv     *http.Server
	base    string // http://localhost:port
	browser *http.Client

	mu   sync.Mutex
	last struct {
		acct     Account
		returnTo string
		err      error
	}
}

func newWebEnv(t *testing.T, o *entratest.Options, edit func(*Options)) *webEnv {
	t.Helper()
	return newWebEnvOn(t, newUserEmu(t, o), edit)
}

func newWebEnvOn(t *testing.T, m *userEmu, edit func(*Options)) *webEnv {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &webEnv{m: m, base: "http://localhost:" + strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")}
	opts := m.opts
	if edit != nil {
		edit(&opts)
	}
	w.app, err = NewWebApp(m.demo.TenantID, m.demo.WebApp.ClientID, w.base+"/auth/callback", ClientSecret(m.demo.WebApp.ClientSecret), &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.app.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(rw http.ResponseWriter, r *http.Request) {
		o := &SignInOptions{LoginHint: r.URL.Query().Get("user"), ReturnTo: "/home", FormPost: r.URL.Query().Has("post"),
			Claims: r.URL.Query().Get("claims")}
		if err := w.app.RedirectToSignIn(rw, r, o, m.demo.API.Scope); err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
		}
	})
	mux.Handle("/auth/callback", w.app.CallbackHandler(func(rw http.ResponseWriter, r *http.Request, acct Account, returnTo string, err error) {
		w.mu.Lock()
		w.last.acct, w.last.returnTo, w.last.err = acct, returnTo, err
		w.mu.Unlock()
		if err != nil {
			http.Error(rw, err.Error(), http.StatusUnauthorized)
			return
		}
		json.NewEncoder(rw).Encode(acct)
	}))
	w.srv = &http.Server{Handler: mux}
	go w.srv.Serve(l)
	t.Cleanup(func() { w.srv.Close() })
	jar, _ := cookiejar.New(nil)
	w.browser = &http.Client{Transport: m.s.Client().Transport, Jar: jar}
	return w
}

// signIn plays the browser through /login?query; it returns the callback's
// account and error.
func (w *webEnv) signIn(t *testing.T, query string) (Account, error) {
	t.Helper()
	resp, err := w.browser.Get(w.base + "/login?" + query)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(query, "post") { // the emulator's auto-submitting form
		action := formAction.FindSubmatch(page)
		if action == nil {
			t.Fatalf("no form_post page: %d %s", resp.StatusCode, page)
		}
		form := url.Values{}
		for _, f := range formField.FindAllSubmatch(page, -1) {
			form.Set(string(f[1]), string(f[2]))
		}
		resp, err = w.browser.PostForm(string(action[1]), form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.acct, w.last.err
}

func TestWebAppSignInThenTokensForOtherResources(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	acct, err := w.signIn(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if acct.HomeAccountID == "" || acct.ObjectID != w.m.demo.User.ObjectID || acct.Username != w.m.demo.User.Username {
		t.Fatalf("account %+v, want the demo user", acct)
	}
	if w.last.returnTo != "/home" {
		t.Errorf("returnTo %q, want /home", w.last.returnTo)
	}
	codes, refreshes := w.m.s.GrantCount("authorization_code"), w.m.s.GrantCount("refresh_token")
	ctx := context.Background()
	// The sign-in's own token is cached.
	if _, err := w.app.Token(ctx, acct, w.m.demo.API.Scope); err != nil {
		t.Fatal(err)
	}
	if got := w.m.s.GrantCount("refresh_token"); got != refreshes {
		t.Fatalf("token for the sign-in's scope made %d refresh requests, want 0", got-refreshes)
	}
	// Another resource: exactly one refresh request, then cached.
	for i := 0; i < 3; i++ {
		if _, err := w.app.Token(ctx, acct, "User.Read"); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.m.s.GrantCount("refresh_token") - refreshes; got != 1 {
		t.Fatalf("Graph token: %d refresh requests, want 1", got)
	}
	if got := w.m.s.GrantCount("authorization_code"); got != codes {
		t.Fatalf("codes redeemed after sign-in: %d", got-codes)
	}
	// The Graph client reaches /me as the user.
	resp, err := w.app.Client(ctx, acct, "User.Read").Get(w.app.Cloud().GraphURL() + "/v1.0/me")
	if err != nil {
		t.Fatal(err)
	}
	var me struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if me.ID != w.m.demo.User.ObjectID {
		t.Fatalf("/me id %q, want %q (status %d)", me.ID, w.m.demo.User.ObjectID, resp.StatusCode)
	}
	if got, _ := w.app.Accounts(ctx); len(got) != 1 || got[0] != acct {
		t.Fatalf("Accounts %+v", got)
	}
}

func TestWebAppFormPostCallback(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	acct, err := w.signIn(t, "post=1")
	if err != nil || acct.ObjectID != w.m.demo.User.ObjectID {
		t.Fatalf("form_post sign-in: %+v, %v", acct, err)
	}
}

func TestWebAppRejectsForgedCallbacks(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	ctx := context.Background()
	signInURL, pending, err := w.app.StartSignIn(ctx, nil, w.m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(signInURL)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || len(q.Get("state")) != 43 {
		t.Fatalf("authorize URL lacks PKCE S256, nonce or state: %v", q)
	}
	if strings.Contains(pending, q.Get("state")) || strings.Contains(pending, q.Get("nonce")) {
		t.Fatal("pending sign-in shows its state or nonce in clear")
	}
	// The real answer, captured without completing it.
	nofollow := &http.Client{Transport: w.m.s.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nofollow.Get(signInURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answer, _ := url.Parse(resp.Header.Get("Location"))
	state, code := answer.Query().Get("state"), answer.Query().Get("code")
	cb := func(v url.Values) *http.Request {
		r, _ := http.NewRequest("GET", w.base+"/auth/callback?"+v.Encode(), nil)
		return r
	}
	cases := []struct {
		name    string
		r       *http.Request
		pending string
		code    string
	}{
		{"state mismatch (CSRF)", cb(url.Values{"state": {"attacker-state-value"}, "code": {code}}), pending, "state_mismatch"},
		{"no pending sign-in", cb(url.Values{"state": {state}, "code": {code}}), "", "no_sign_in"},
		{"altered pending", cb(url.Values{"state": {state}, "code": {code}}), pending[:len(pending)-2] + "AA", "no_sign_in"},
		{"no code", cb(url.Values{"state": {state}}), pending, "no_code"},
		{"oversized query", cb(url.Values{"state": {state}, "x": {strings.Repeat("a", 20000)}}), pending, "bad_callback"},
		{"malformed query", func() *http.Request { r, _ := http.NewRequest("GET", w.base+"/cb?state=%zz", nil); return r }(), pending, "bad_callback"},
	}
	for _, c := range cases {
		_, err := w.app.CompleteSignIn(ctx, c.r, c.pending)
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code {
			t.Errorf("%s: got %v, want Code %q", c.name, err, c.code)
			continue
		}
		if strings.Contains(err.Error(), "attacker-state-value") || strings.Contains(err.Error(), code) {
			t.Errorf("%s: error echoes the callback: %v", c.name, err)
		}
	}
	// An error answer becomes a typed error with Entra's description.
	_, err = w.app.CompleteSignIn(ctx, cb(url.Values{"state": {state}, "error": {"access_denied"},
		"error_description": {"AADSTS65004: User declined to consent to access the app."}}), pending)
	if !errors.Is(err, ErrAuthorizationDeclined) || !strings.Contains(err.Error(), "65004") {
		t.Errorf("access_denied answer: %v", err)
	}
	_, err = w.app.CompleteSignIn(ctx, cb(url.Values{"state": {state}, "error": {"consent_required"},
		"error_description": {"AADSTS65001: The user or administrator has not consented."}}), pending)
	if !errors.Is(err, ErrInteractionRequired) {
		t.Errorf("consent_required answer: %v", err)
	}
	// The genuine answer still works once...
	acct, err := w.app.CompleteSignIn(ctx, cb(url.Values{"state": {state}, "code": {code}}), pending)
	if err != nil || acct.ObjectID != w.m.demo.User.ObjectID {
		t.Fatalf("genuine answer: %+v, %v", acct, err)
	}
	// ...and a replayed code is refused by Entra, surfaced as invalid_grant.
	_, err = w.app.CompleteSignIn(ctx, cb(url.Values{"state": {state}, "code": {code}}), pending)
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_grant" {
		t.Errorf("replayed code: %v, want invalid_grant", err)
	}
}

func TestWebAppWrongVerifierIsInvalidGrant(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	ctx := context.Background()
	signInURL, pending, err := w.app.StartSignIn(ctx, nil, w.m.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	// Re-seal the pending sign-in with another verifier (as an attacker
	// who stole the code but not the verifier would have to).
	p, err := open(w.app.sealer, pending, w.app.s.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.Verifier = randomValue()
	forged := seal(w.app.sealer, p)
	nofollow := &http.Client{Transport: w.m.s.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nofollow.Get(signInURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r, _ := http.NewRequest("GET", resp.Header.Get("Location"), nil)
	_, err = w.app.CompleteSignIn(ctx, r, forged)
	var e *Error
	if !errors.As(err, &e) || e.Code != "invalid_grant" || e.Description == "" {
		t.Fatalf("wrong verifier: %v, want invalid_grant with Entra's description", err)
	}
}

func TestWebAppTwoUsersNeverShareTokens(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	bob, err := w.m.s.AddUser(w.m.demo.TenantID, entratest.User{Username: "bob@contoso.onmicrosoft.com", DisplayName: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := w.signIn(t, "user="+url.QueryEscape(w.m.demo.User.Username))
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.signIn(t, "user="+url.QueryEscape(bob.Username))
	if err != nil {
		t.Fatal(err)
	}
	if alice.HomeAccountID == b.HomeAccountID {
		t.Fatal("two users, one account")
	}
	ctx := context.Background()
	for _, c := range []struct {
		acct Account
		oid  string
	}{{alice, w.m.demo.User.ObjectID}, {b, bob.ObjectID}} {
		for _, scope := range []string{w.m.demo.API.Scope, "User.Read"} {
			tok, err := w.app.Token(ctx, c.acct, scope)
			if err != nil {
				t.Fatal(err)
			}
			if got := claims(t, tok.AccessToken)["oid"]; got != c.oid {
				t.Errorf("%s's %s token is for oid %v", c.acct.Username, scope, got)
			}
		}
	}
	if err := w.app.SignOut(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Token(ctx, alice, "User.Read"); !errors.Is(err, ErrInteractionRequired) {
		t.Fatalf("after sign-out: %v, want ErrInteractionRequired", err)
	}
	if _, err := w.app.Token(ctx, b, "User.Read"); err != nil {
		t.Fatalf("bob after alice signed out: %v", err)
	}
}
