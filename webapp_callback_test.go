package entra

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// errCode returns the Code of err's *Error ("" if none).
func errCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// TestWebAppCallbackAnsweredTwice: the handler deletes the sign-in cookie,
// so the same answer loaded again (back button, a replay in the same
// browser) finds no pending sign-in, and no code is redeemed for it.
func TestWebAppCallbackAnsweredTwice(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	nofollow := &http.Client{Transport: w.browser.Transport, Jar: w.browser.Jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// /login sets the cookie and points at Entra; Entra points back.
	resp, err := nofollow.Get(w.base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = nofollow.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answer := resp.Header.Get("Location")
	if !strings.HasPrefix(answer, w.base+"/auth/callback?") {
		t.Fatalf("Entra answered %q", answer)
	}
	codes := w.m.s.GrantCount("authorization_code")
	for i, want := range []string{"", "no_sign_in"} {
		resp, err := w.browser.Get(answer)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		w.mu.Lock()
		got, acct := errCode(w.last.err), w.last.acct
		w.mu.Unlock()
		if got != want || (want == "") != (acct.ObjectID != "") {
			t.Fatalf("answer %d: code %q account %+v, want code %q", i+1, got, acct, want)
		}
	}
	if n := w.m.s.GrantCount("authorization_code") - codes; n != 1 {
		t.Fatalf("%d codes redeemed, want 1", n)
	}
}

// TestWebAppPendingSignInExpires: a sign-in left pending for more than 10
// minutes is refused before its code is redeemed; within 10 minutes it
// completes.
func TestWebAppPendingSignInExpires(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Now())
	w := newWebEnv(t, nil, func(o *Options) { o.Clock = clock })
	ctx := context.Background()

	signInURL, pending := w.startSignIn(t)
	state, code := w.code(t, signInURL)
	clock.Advance(signInLifetime + time.Second)
	codes := w.m.s.GrantCount("authorization_code")
	r, _ := http.NewRequest(http.MethodGet, w.base+"/auth/callback?"+url.Values{"state": {state}, "code": {code}}.Encode(), nil)
	if _, err := w.app.CompleteSignIn(ctx, r, pending); errCode(err) != "no_sign_in" {
		t.Fatalf("after 10 minutes: %v, want no_sign_in", err)
	}
	if w.m.s.GrantCount("authorization_code") != codes {
		t.Fatal("an expired sign-in's code was redeemed")
	}

	signInURL, pending = w.startSignIn(t)
	state, code = w.code(t, signInURL)
	clock.Advance(signInLifetime - time.Second)
	r, _ = http.NewRequest(http.MethodGet, w.base+"/auth/callback?"+url.Values{"state": {state}, "code": {code}}.Encode(), nil)
	if acct, err := w.app.CompleteSignIn(ctx, r, pending); err != nil || acct.ObjectID != w.m.demo.User.ObjectID {
		t.Fatalf("within 10 minutes: %+v, %v", acct, err)
	}
}

// TestWebAppSignInKeys: a pending sign-in sealed under another key (another
// app, a key rotated away, an attacker's own) is refused; WebApps sharing
// Options.SignInKey (instances behind a load balancer, one redirect URI)
// complete each other's sign-ins.
func TestWebAppSignInKeys(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	key := randomKey()
	a := newWebEnvOn(t, m, func(o *Options) { o.SignInKey = key })
	instance := func(k []byte) *WebApp {
		opts := m.opts
		opts.SignInKey = k
		app, err := NewWebApp(m.demo.TenantID, m.demo.WebApp.ClientID, a.base+"/auth/callback", ClientSecret(m.demo.WebApp.ClientSecret), &opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		return app
	}
	ctx := context.Background()
	callback := func(state, code string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, a.base+"/auth/callback?"+url.Values{"state": {state}, "code": {code}}.Encode(), nil)
		return r
	}

	signInURL, pending := a.startSignIn(t)
	state, code := a.code(t, signInURL)
	p := mustOpen(t, a, pending)
	attacker, _ := newSealer(randomKey())
	for name, app := range map[string]*WebApp{"another key": instance(randomKey()), "a random key (nil)": instance(nil)} {
		if _, err := app.CompleteSignIn(ctx, callback(state, code), pending); errCode(err) != "no_sign_in" {
			t.Errorf("%s: %v, want no_sign_in", name, err)
		}
	}
	if _, err := a.app.CompleteSignIn(ctx, callback(state, code), seal(attacker, p)); errCode(err) != "no_sign_in" {
		t.Errorf("state sealed by an attacker's key: %v, want no_sign_in", err)
	}

	// Another instance with the same key completes A's sign-in, and its
	// token calls work; A's own sign-ins go on too.
	b := instance(key)
	acct, err := b.CompleteSignIn(ctx, callback(state, code), pending)
	if err != nil || acct.ObjectID != m.demo.User.ObjectID {
		t.Fatalf("instance B completing A's sign-in: %+v, %v", acct, err)
	}
	if _, err := b.Token(ctx, acct, "User.Read"); err != nil {
		t.Fatal(err)
	}
	signInURL, pending = a.startSignIn(t)
	state, code = a.code(t, signInURL)
	if _, err := instance(key).CompleteSignIn(ctx, callback(state, code), pending); err != nil {
		t.Fatalf("instance C completing A's second sign-in: %v", err)
	}
	// A key of the wrong size is refused at construction.
	opts := m.opts
	opts.SignInKey = key[:16]
	if _, err := NewWebApp(m.demo.TenantID, m.demo.WebApp.ClientID, a.base+"/auth/callback", ClientSecret(m.demo.WebApp.ClientSecret), &opts); !errors.Is(err, ErrConfig) {
		t.Errorf("16-byte SignInKey: %v, want ErrConfig", err)
	}
}

// TestWebAppCallbackBodies: the callback's form is bounded and must be a
// form; a form_post answer of any size up to the bound reaches the state
// check, through CompleteSignIn and through the handler.
func TestWebAppCallbackBodies(t *testing.T) {
	t.Parallel()
	w := newWebEnv(t, nil, nil)
	ctx := context.Background()
	_, pending := w.startSignIn(t)
	post := func(body, contentType string) *http.Request {
		r, _ := http.NewRequest(http.MethodPost, w.base+"/auth/callback", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		return r
	}
	form := "application/x-www-form-urlencoded"
	padded := func(n int) string { // state=forged&code=x&pad=... of n bytes
		s := "state=forged&code=x&pad="
		return s + strings.Repeat("a", n-len(s))
	}
	cases := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"oversized form_post", post(padded(maxCallbackBody+1), form), "bad_callback"},
		{"huge form_post", post(padded(4*maxCallbackBody), form), "bad_callback"},
		{"form_post at the bound", post(padded(maxCallbackBody), form), "state_mismatch"},
		{"form_post over the query bound", post(padded(maxCallbackQuery+100), form), "state_mismatch"},
		{"not a form", post(`{"state":"forged"}`, "application/json"), "bad_callback"},
		{"no content type", post("state=forged", ""), "bad_callback"},
		{"malformed form", post("state=%zz", form), "bad_callback"},
		{"small form_post", post("state=forged&code=x", form+"; charset=utf-8"), "state_mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The request's body is read once: a copy goes to the handler.
			body, _ := c.r.GetBody()
			hr := c.r.Clone(ctx)
			hr.Body = body
			if _, err := w.app.CompleteSignIn(ctx, c.r, pending); errCode(err) != c.want {
				t.Errorf("CompleteSignIn: %v, want %s", err, c.want)
			}
			hr.AddCookie(&http.Cookie{Name: cookieName("forged"), Value: pending})
			var got error
			w.app.CallbackHandler(func(_ http.ResponseWriter, _ *http.Request, _ Account, _ string, err error) { got = err }).
				ServeHTTP(discard{}, hr)
			if errCode(got) != c.want {
				t.Errorf("CallbackHandler: %v, want %s", got, c.want)
			}
		})
	}
}

// discard is an http.ResponseWriter that drops everything.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
