package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"

	"github.com/entrakit/entra/entratest"
)

var (
	userLine   = regexp.MustCompile(`<p id="user">([^<]*)</p>`)
	resultLine = regexp.MustCompile(`<li class="result">([^<]*)</li>`)
	errorLine  = regexp.MustCompile(`<p id="error">([^<]*)</p>`)
)

// browser is an automated browser: it follows redirects, keeps cookies,
// and trusts the emulator. (The emulator signs the demo user in at once.)
type browser struct {
	follow, stay *http.Client // stay does not follow redirects
	setCookies   []*http.Cookie
}

func newBrowser(cfg config) *browser {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cfg.pool}}
	b := &browser{}
	b.follow = &http.Client{Transport: tr, Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		if req.Response != nil { // what the redirecting page set
			b.setCookies = append(b.setCookies, req.Response.Cookies()...)
		}
		return nil
	}}
	b.stay = &http.Client{Transport: tr, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

// visit loads u (following redirects) and returns the page's user line
// and result lines.
func (b *browser) visit(method, u string) (user string, lines []string, err error) {
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		return "", nil, err
	}
	resp, err := b.follow.Do(req)
	if err != nil {
		return "", nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if m := errorLine.FindSubmatch(body); m != nil {
		return "", nil, fmt.Errorf("%s %s: %s", resp.Request.URL.Path, resp.Status, html.UnescapeString(string(m[1])))
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s answered %s", resp.Request.URL.Path, resp.Status)
	}
	if m := userLine.FindSubmatch(body); m != nil {
		user = html.UnescapeString(string(m[1]))
	}
	for _, m := range resultLine.FindAllSubmatch(body, -1) {
		lines = append(lines, html.UnescapeString(string(m[1])))
	}
	return user, lines, nil
}

// where returns the status and redirect target of GET u, not followed;
// cookie, if not nil, replaces the browser's cookies.
func (b *browser) where(u string, cookie *http.Cookie) (string, error) {
	c := b.stay
	if cookie != nil {
		c = &http.Client{Transport: b.stay.Transport, CheckRedirect: b.stay.CheckRedirect}
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location")), nil
}

// selftest walks through the app as a user would and prints a transcript.
func selftest(cfg config, base string, out io.Writer) error {
	b := newBrowser(cfg)
	step := func(format string, a ...any) { fmt.Fprintf(out, "  "+format+"\n", a...) }
	signedOut := func(what string, cookie *http.Cookie) error {
		got, err := b.where(base+"/profile", cookie)
		if err != nil {
			return err
		}
		step("%s: GET /profile -> %s", what, got)
		if got != "303 /login" {
			return fmt.Errorf("%s: /profile answered %q, want a redirect to /login", what, got)
		}
		return nil
	}
	if err := signedOut("before sign-in", nil); err != nil {
		return err
	}

	authorizes := cfg.emu.Count(entratest.EndpointAuthorize)
	user, lines, err := b.visit(http.MethodGet, base+"/login")
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	step("sign-in: %s", user)
	var session *http.Cookie
	for _, c := range b.setCookies {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || len(session.Value) != 43 {
		return fmt.Errorf("session cookie %v: want an opaque 43-character ID, HttpOnly, SameSite=Lax", session)
	}
	step("session cookie: opaque ID, HttpOnly, SameSite=Lax")
	if !strings.Contains(user, cfg.user) {
		return fmt.Errorf("signed in as %q, want %s", user, cfg.user)
	}
	if err := expect(lines, out); err != nil {
		return err
	}

	// A second visit uses the session and the cached tokens: no sign-in.
	if _, lines, err = b.visit(http.MethodGet, base+"/profile"); err != nil {
		return err
	}
	if err := expect(lines, nil); err != nil {
		return err
	}
	if n := cfg.emu.Count(entratest.EndpointAuthorize) - authorizes; n != 1 {
		return fmt.Errorf("%d sign-ins, want 1", n)
	}
	step("second visit: same session, no new sign-in")

	user, _, err = b.visit(http.MethodPost, base+"/logout")
	if err != nil {
		return fmt.Errorf("sign-out: %w", err)
	}
	step("sign-out: home page says %q", user)
	if user != "signed out" {
		return errors.New("the home page still shows a user after sign-out")
	}
	if err := signedOut("after sign-out", nil); err != nil {
		return err
	}
	return signedOut("old session cookie replayed", &http.Cookie{Name: sessionCookie, Value: session.Value})
}

// expect checks the profile page's API and Graph results, printing them
// to out when it is not nil.
func expect(lines []string, out io.Writer) error {
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "API: hello ") || !strings.HasPrefix(lines[1], "Graph /v1.0/me: ") || strings.Contains(lines[1], "FAILED") {
		return fmt.Errorf("profile page: %q, want the API's hello and Graph's /me", lines)
	}
	if out != nil {
		for _, l := range lines {
			fmt.Fprintln(out, "  "+l)
		}
	}
	return nil
}
