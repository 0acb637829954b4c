package entra

import (
	"context"
	"errors"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

var (
	formAction = regexp.MustCompile(`action="([^"]*)"`)
	formField  = regexp.MustCompile(`name="([^"]*)" value="([^"]*)"`)
)

// browserDriver plays the user's browser: it loads the sign-in page (the
// emulator signs the user in at once and answers with an auto-submitting
// form_post page) and submits the answer to the app's loopback listener,
// after stray requests when stray is set. It records the redirect URI.
type browserDriver struct {
	t        *testing.T
	m        *userEmu
	stray    bool
	redirect atomic.Value
}

func (b *browserDriver) open(_ context.Context, authURL string) error {
	u, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	b.redirect.Store(u.Query().Get("redirect_uri"))
	go func() {
		c := b.m.s.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Get(authURL)
		if err != nil {
			b.t.Error(err)
			return
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		action := formAction.FindSubmatch(page)
		if action == nil {
			b.t.Errorf("sign-in page without a form_post form (status %d)", resp.StatusCode)
			return
		}
		form := url.Values{}
		for _, f := range formField.FindAllSubmatch(page, -1) {
			form.Set(html.UnescapeString(string(f[1])), html.UnescapeString(string(f[2])))
		}
		to := html.UnescapeString(string(action[1]))
		if b.stray {
			for _, r := range []func() (*http.Response, error){
				func() (*http.Response, error) { return http.Get(strings.TrimSuffix(to, "/") + "/favicon.ico") },
				func() (*http.Response, error) {
					return http.PostForm(to, url.Values{"code": {"forged"}, "state": {"guess"}})
				},
				func() (*http.Response, error) { return http.Post(to, "text/plain", strings.NewReader("noise")) },
			} {
				if resp, err := r(); err == nil {
					resp.Body.Close()
				}
			}
		}
		resp, err = http.PostForm(to, form)
		if err != nil {
			b.t.Error(err)
			return
		}
		resp.Body.Close()
	}()
	return nil
}

func (m *userEmu) browserCred(t *testing.T, redirect string, b *browserDriver) *UserCredential {
	t.Helper()
	o := m.opts
	c, err := NewBrowserCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, redirect, b.open, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The browser sign-in completes through the loopback listener even after
// stray requests to it, binds loopback only, and the account then gets
// silent tokens.
func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	b := &browserDriver{t: t, m: m, stray: true}
	cred := m.browserCred(t, "", b)
	acct, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	if acct.ObjectID != m.demo.User.ObjectID {
		t.Errorf("account %+v, want the demo user", acct)
	}
	ru, _ := url.Parse(b.redirect.Load().(string))
	if ru.Scheme != "http" || ru.Hostname() != "localhost" || ru.Port() == "" {
		t.Errorf("redirect URI %v, want http://localhost:<port>/", ru)
	}
	// The listener is gone after the sign-in.
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", ru.Port())); err == nil {
		c.Close()
		t.Error("the loopback listener is still open after the sign-in")
	}
	if _, err := cred.Token(t.Context(), acct, m.demo.API.Scope); err != nil {
		t.Errorf("silent token after the browser sign-in: %v", err)
	}
}

// An error answered to the redirect becomes a typed *Error; a redirect URI
// that is not loopback is refused before anything listens.
func TestBrowserSignInErrors(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	// A login_hint of an unknown user makes the emulator answer access_denied.
	o := m.opts
	cred, err := NewBrowserCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, "", func(ctx context.Context, u string) error {
		return (&browserDriver{t: t, m: m}).open(ctx, u+"&login_hint=nobody%40contoso.onmicrosoft.com")
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	_, err = cred.SignIn(t.Context(), "User.Read")
	var e *Error
	if !errors.Is(err, ErrAuthorizationDeclined) || !errors.As(err, &e) || e.Code != "access_denied" {
		t.Errorf("got %v, want access_denied as ErrAuthorizationDeclined", err)
	}
	for _, bad := range []string{"https://localhost", "http://example.com", "http://10.0.0.1:8400", "http://localhost/?x=1"} {
		c, err := NewBrowserCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, bad, func(context.Context, string) error { return nil }, &o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.SignIn(t.Context(), "User.Read"); !errors.Is(err, ErrConfig) {
			t.Errorf("redirect %q: got %v, want ErrConfig", bad, err)
		}
		c.Close()
	}
	failing := errors.New("no display")
	c, _ := NewBrowserCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, "", func(context.Context, string) error { return failing }, &o)
	defer c.Close()
	if _, err := c.SignIn(t.Context(), "User.Read"); !errors.Is(err, failing) {
		t.Errorf("failing open: got %v, want its error wrapped", err)
	}
}

// Cancelling SignIn's ctx while nobody answers ends the sign-in and shuts
// the listener down.
func TestBrowserSignInCancel(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	opened := make(chan string, 1)
	o := m.opts
	cred, err := NewBrowserCredential(m.demo.TenantID, m.demo.PublicClient.ClientID, "http://127.0.0.1", func(_ context.Context, u string) error {
		pu, _ := url.Parse(u)
		opened <- pu.Query().Get("redirect_uri")
		return nil
	}, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer cred.Close()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-opened; cancel() }()
	if _, err := cred.SignIn(ctx, "User.Read"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
