package entra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/entrakit/entra/flows"
)

// NewBrowserCredential returns a UserCredential whose SignIn opens the
// system browser on Entra's sign-in page (the authorization code flow with
// PKCE) and receives the answer on a loopback listener, for CLIs and
// desktop apps. redirectURI is the app's registered loopback redirect URI:
// "" or "http://localhost" (a free port; Entra accepts any port for it),
// "http://localhost:8400", or "http://127.0.0.1[:port]"; the listener only
// ever binds loopback addresses, accepts the answer by query or form_post,
// ignores stray requests and always shuts down. open shows the URL; nil
// prints it to stderr and opens the system browser when there is a
// display. SignIn's ctx bounds the whole sign-in (5 minutes when it has no
// deadline).
func NewBrowserCredential(tenantID, clientID, redirectURI string, open func(ctx context.Context, url string) error, opts *Options) (*UserCredential, error) {
	if open == nil {
		open = openBrowser
	}
	c, err := newUserCredential(tenantID, clientID, opts)
	if err != nil {
		return nil, err
	}
	c.signIn = func(ctx context.Context, ac flows.AccountCache, scopes []string, claims string) (flows.UserResult, error) {
		r, err := c.app.Browser(ctx, ac, scopes, flows.BrowserConfig{RedirectURI: redirectURI, Open: open, Claims: claims})
		if err == nil {
			return r, nil
		}
		var cbe *flows.CallbackError
		switch {
		case errors.Is(err, flows.ErrOpen):
			return r, &Error{Op: "sign-in", Code: "prompt_failed", Description: "opening the sign-in page failed (its error is wrapped)",
				Hint: "check the open function given to the credential", Err: err}
		case errors.As(err, &cbe):
			return r, callbackError(cbe)
		}
		return r, signInError(err, nil)
	}
	return c, nil
}

// callbackError turns an error the sign-in page sent back into an *Error.
func callbackError(cbe *flows.CallbackError) *Error {
	sc := newScrubber(nil)
	e := &Error{Op: "sign-in", Code: safeCode(sc.text(cbe.Code)), Description: sc.line(cbe.Description, maxDescription)}
	if c, _, ok := leadingAADSTS(e.Description); ok {
		e.AADSTS = []int{c}
	}
	e.Hint = hintFor(e.AADSTS)
	switch cbe.Code {
	case "access_denied":
		e.Err = ErrAuthorizationDeclined
		if e.Hint == "" {
			e.Hint = "the user cancelled the sign-in or was refused: ask again, or stop"
		}
	case "consent_required", "interaction_required", "login_required":
		e.Err = ErrInteractionRequired
		if e.Hint == "" {
			e.Hint = "the user (or an administrator) must consent to the app's permissions or complete the sign-in: call SignIn again"
		}
	}
	return e
}

// openBrowser prints url (a browser that fails to open says nothing
// here) and opens it in the system browser when there is a display. The
// opener runs detached from the sign-in's ctx and is waited for, so it is
// neither killed mid-launch nor left as a zombie. No shell is involved:
// the URL is one argument.
func openBrowser(_ context.Context, url string) error {
	fmt.Fprintln(os.Stderr, "To sign in, open this page in a browser (entra is opening it for you):\n"+url)
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return nil // no display (SSH, a container): the printed URL is the way
		}
		cmd = exec.Command("xdg-open", url)
	}
	if cmd.Start() == nil {
		go cmd.Wait()
	}
	return nil
}
