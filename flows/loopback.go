package flows

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// Browser sign-in for CLIs and desktop apps (RFC 8252): the authorization
// code flow with PKCE (S256) and a one-shot HTTP listener on the loopback
// interface that receives the code. Unlike MSAL Go's listener it binds
// 127.0.0.1 (and ::1) for a "localhost" redirect URI, accepts the code by
// query or form_post, ignores stray requests (another path or method, a
// wrong state) instead of giving up, and always shuts down.

// BrowserConfig configures Browser.
type BrowserConfig struct {
	// RedirectURI is the loopback redirect URI registered for the app:
	// "http://localhost" (any free port), "http://localhost:8400",
	// "http://127.0.0.1[:port]" or "http://[::1][:port]", with an
	// optional path.
	RedirectURI string
	// Open shows the authorization URL to the user (opens a browser).
	// Required.
	Open func(ctx context.Context, authURL string) error
	// Timeout bounds the sign-in when ctx has no deadline; 0 means 5
	// minutes.
	Timeout time.Duration
	// LoginHint, DomainHint and Prompt are passed to /authorize as is.
	LoginHint, DomainHint, Prompt string
	// Claims, if set, is a claims request (a step-up or Conditional
	// Access challenge) sent with the sign-in and the code redemption.
	Claims string
}

// CallbackError is an error the authorization server sent to the
// redirect URI (error, error_description).
type CallbackError struct {
	Code        string // e.g. access_denied, consent_required
	Description string
}

func (e *CallbackError) Error() string { return "flows: sign-in answered " + e.Code }

// ErrOpen wraps an error of BrowserConfig.Open.
var ErrOpen = errors.New("flows: showing the sign-in page failed")

// maxCallbackBody bounds a form_post callback.
const maxCallbackBody = 64 << 10

// defaultSignInTimeout bounds a browser sign-in whose ctx has no deadline.
const defaultSignInTimeout = 5 * time.Minute

// Browser signs a user in through the browser for scopes and returns the
// token MSAL redeemed the code for. ctx bounds the whole sign-in, the
// user's part included (BrowserConfig.Timeout when ctx has no deadline);
// the listener is closed on every return, after the page answering the
// browser has been sent.
func (a *PublicApp) Browser(ctx context.Context, ac AccountCache, scopes []string, bc BrowserConfig) (UserResult, error) {
	if bc.Open == nil {
		return UserResult{}, fmt.Errorf("%w: BrowserConfig.Open is required", ErrConfig)
	}
	if _, ok := ctx.Deadline(); !ok {
		timeout := bc.Timeout
		if timeout <= 0 {
			timeout = defaultSignInTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ls, redirect, err := listenLoopback(bc.RedirectURI)
	if err != nil {
		return UserResult{}, err
	}
	verifier, state := randomString(), randomString()
	sum := sha256.Sum256([]byte(verifier))
	var opts []public.AuthCodeURLOption
	if bc.LoginHint != "" {
		opts = append(opts, public.WithLoginHint(bc.LoginHint))
	}
	if bc.DomainHint != "" {
		opts = append(opts, public.WithDomainHint(bc.DomainHint))
	}
	if bc.Claims != "" {
		opts = append(opts, public.WithClaims(bc.Claims))
	}
	c, err := a.client(ac)
	if err != nil {
		closeAll(ls)
		return UserResult{}, err
	}
	authURL, err := c.AuthCodeURL(ctx, a.cfg.ClientID, redirect, scopes, opts...)
	if err != nil {
		closeAll(ls)
		return UserResult{}, err
	}
	u, err := url.Parse(authURL)
	if err != nil {
		closeAll(ls)
		return UserResult{}, err
	}
	q := u.Query()
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	q.Set("state", state)
	q.Set("response_mode", "form_post")
	if bc.Prompt != "" {
		q.Set("prompt", bc.Prompt)
	}
	u.RawQuery = q.Encode()

	got := make(chan callback, 1)
	srv := &http.Server{Handler: callbackHandler(redirect, state, got), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	for _, l := range ls {
		go srv.Serve(l)
	}
	defer func() {
		// Let the page answering the browser go out, then close
		// everything, listeners Serve may not have registered yet included.
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		srv.Shutdown(sctx)
		cancel()
		srv.Close()
		closeAll(ls)
	}()

	if err := bc.Open(ctx, u.String()); err != nil {
		return UserResult{}, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	var cb callback
	select {
	case cb = <-got:
	case <-ctx.Done():
		return UserResult{}, ctx.Err()
	}
	if cb.err != nil {
		return UserResult{}, cb.err
	}
	codeOpts := []public.AcquireByAuthCodeOption{public.WithChallenge(verifier)}
	if bc.Claims != "" {
		codeOpts = append(codeOpts, public.WithClaims(bc.Claims))
	}
	ar, err := c.AcquireTokenByAuthCode(ctx, cb.code, redirect, scopes, codeOpts...)
	if err != nil {
		return UserResult{}, err
	}
	return userResult(ar), nil
}

// callback is what the redirect delivered: a code or an error.
type callback struct {
	code string
	err  error
}

// callbackHandler answers the redirect: the code (or error) of a request
// to the redirect path carrying the expected state is delivered once;
// anything else gets an error page and the listener keeps waiting.
func callbackHandler(redirect, state string, got chan<- callback) http.Handler {
	path := "/"
	if ru, err := url.Parse(redirect); err == nil && ru.Path != "" {
		path = ru.Path
	}
	var answered atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.URL.Path != path || r.Method != http.MethodGet && r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxCallbackBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed sign-in answer", http.StatusBadRequest)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Form.Get("state")), []byte(state)) != 1 {
			http.Error(w, "this sign-in answer is not for the sign-in in progress", http.StatusBadRequest)
			return
		}
		cb := callback{code: r.Form.Get("code")}
		if e := r.Form.Get("error"); e != "" {
			cb = callback{err: &CallbackError{Code: e, Description: r.Form.Get("error_description")}}
		} else if cb.code == "" {
			http.Error(w, "the sign-in answer has no code", http.StatusBadRequest)
			return
		}
		if !answered.CompareAndSwap(false, true) {
			http.Error(w, "the sign-in was already answered", http.StatusConflict)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if cb.err != nil {
			fmt.Fprint(w, "<!doctype html><title>Sign-in failed</title><p>Sign-in failed. You can close this window and go back to the application.")
		} else {
			fmt.Fprint(w, "<!doctype html><title>Signed in</title><p>You are signed in. You can close this window.")
		}
		got <- cb // room for one, and only one answer gets here
	})
}

// listenLoopback listens for redirectURI, which must be an http loopback
// URI: on 127.0.0.1 and, best effort, ::1 for "localhost". It returns the
// listeners and the redirect URI with the port bound.
func listenLoopback(redirectURI string) ([]net.Listener, string, error) {
	if redirectURI == "" {
		redirectURI = "http://localhost"
	}
	u, err := url.Parse(redirectURI)
	if err != nil || u.Scheme != "http" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, "", fmt.Errorf("%w: the redirect URI must be an http loopback URI such as http://localhost", ErrConfig)
	}
	host := u.Hostname()
	var ips []string
	switch {
	case strings.EqualFold(host, "localhost"):
		ips = []string{"127.0.0.1", "::1"}
	case host == "127.0.0.1" || host == "::1":
		ips = []string{host}
	default:
		return nil, "", fmt.Errorf("%w: the redirect URI must be a loopback URI (localhost, 127.0.0.1 or [::1]): a sign-in listener never binds another address", ErrConfig)
	}
	port := u.Port()
	if port == "" {
		port = "0"
	}
	for attempt := 0; ; attempt++ {
		ls, bound, err := listenAll(ips, port)
		if errors.Is(err, syscall.EADDRINUSE) && port == "0" && attempt < 5 {
			continue // the free port of 127.0.0.1 is taken on ::1: another one
		}
		if err != nil {
			return nil, "", fmt.Errorf("%w: cannot listen for the sign-in answer: %w", ErrConfig, err)
		}
		u.Host = net.JoinHostPort(host, bound)
		return ls, u.String(), nil
	}
}

// listenAll listens on port of every address in ips (the port the first
// one got, for port "0"). Another address without IPv6 support is skipped;
// one whose port another process holds fails the whole (that process
// would receive the answer of a browser that resolves localhost to it).
func listenAll(ips []string, port string) ([]net.Listener, string, error) {
	first, err := net.Listen("tcp", net.JoinHostPort(ips[0], port))
	if err != nil {
		return nil, "", err
	}
	ls := []net.Listener{first}
	_, bound, _ := net.SplitHostPort(first.Addr().String())
	for _, ip := range ips[1:] {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, bound))
		switch {
		case err == nil:
			ls = append(ls, l)
		case errors.Is(err, syscall.EADDRINUSE):
			closeAll(ls)
			return nil, "", err
		}
	}
	return ls, bound, nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// randomString returns 32 random bytes, base64url-encoded (43 characters:
// a PKCE verifier, a state or a nonce).
func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
