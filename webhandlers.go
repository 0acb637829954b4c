package entra

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// RedirectToSignIn starts a sign-in for scopes (as StartSignIn) and answers
// w with a redirect to Entra's sign-in page, keeping the pending sign-in in
// a short-lived cookie (HttpOnly, Secure for an https redirect URI, scoped
// to the redirect URI's path) that CallbackHandler reads. Nothing is
// written to w when it fails: the app shows its own error page. r's ctx
// bounds the metadata request. Safe for concurrent use.
func (a *WebApp) RedirectToSignIn(w http.ResponseWriter, r *http.Request, opts *SignInOptions, scopes ...string) error {
	signInURL, pending, err := a.StartSignIn(r.Context(), opts, scopes...)
	if err != nil {
		return err
	}
	p, _ := open(a.sealer, pending, a.s.clock.Now())
	http.SetCookie(w, a.cookie(cookieName(p.State), pending, int(signInLifetime/time.Second), opts != nil && opts.FormPost))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, signInURL, http.StatusFound)
	return nil
}

// CallbackHandler returns the http.Handler to mount at the redirect URI's
// path. It completes the sign-in whose cookie RedirectToSignIn set (as
// CompleteSignIn: state, code with PKCE, id token), deletes the cookie and
// calls done with the account, or with the error (an *Error; the account
// is then zero), and the sign-in's SignInOptions.ReturnTo. done writes the
// answer: set the app's session and redirect, or show the error. Requests
// that are not a GET or POST get 405. Safe for concurrent use.
func (a *WebApp) CallbackHandler(done func(w http.ResponseWriter, r *http.Request, account Account, returnTo string, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		form, err := callbackForm(r)
		if err != nil {
			done(w, r, Account{}, "", err)
			return
		}
		// callbackForm consumed a posted body: done gets the parsed form
		// as the query.
		if r.Method == http.MethodPost {
			r = r.Clone(r.Context())
			r.Method = http.MethodGet
			r.URL.RawQuery = form.Encode()
			r.Body = http.NoBody
		}
		var pending string
		name := cookieName(form.Get("state"))
		if c, err := r.Cookie(name); err == nil {
			pending = c.Value
			http.SetCookie(w, a.cookie(name, "", -1, false))
		}
		ctx := r.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		acct, p, err := a.complete(ctx, form, pending)
		done(w, r, acct, p.ReturnTo, err)
	})
}

// cookie returns the sign-in cookie name=value living maxAge seconds (-1
// deletes it).
func (a *WebApp) cookie(name, value string, maxAge int, formPost bool) *http.Cookie {
	path, secure := "/", false
	if u, err := url.Parse(a.redirectURI); err == nil {
		if u.Path != "" {
			path = u.Path
		}
		secure = u.Scheme == "https"
	}
	site := http.SameSiteLaxMode
	if formPost && secure {
		site = http.SameSiteNoneMode // Entra's form POST is a cross-site request
	}
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: site}
}
