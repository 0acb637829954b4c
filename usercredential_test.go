package entra

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// A sign-out while a refresh of the account is on the wire waits for it,
// then removes everything: the refresh cannot bring the account back.
func TestSignOutDuringARefresh(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	cred, _ := m.deviceCred(t, m.demo.User.Username, nil)
	acct, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Delay: time.Second}) // the refresh, held
	done := make(chan error, 1)
	go func() { _, err := cred.Token(t.Context(), acct, m.demo.API.Scope); done <- err }()
	time.Sleep(200 * time.Millisecond)
	if err := cred.SignOut(t.Context(), acct); err != nil {
		t.Fatal(err)
	}
	<-done
	if accts, _ := cred.Accounts(t.Context()); len(accts) != 0 {
		t.Errorf("accounts after sign-out: %v, want none", accts)
	}
	for _, scope := range []string{"User.Read", m.demo.API.Scope, "api://another/.default"} {
		if _, err := cred.Token(t.Context(), acct, scope); !errors.Is(err, ErrInteractionRequired) {
			t.Errorf("%s after sign-out: got %v, want ErrInteractionRequired", scope, err)
		}
	}
}

// Refreshes of one account are serialised: with strict rotation, two
// scope sets refreshing at once never redeem the same refresh token.
func TestConcurrentRefreshesOfOneAccount(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, &entratest.Options{StrictRefreshTokens: true, TokenLifetime: time.Minute})
	fc := newFakeClock(time.Now())
	cred, _ := m.deviceCred(t, m.demo.User.Username, func(o *Options) { o.Clock = fc })
	acct, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		fc.Advance(time.Minute)
		var wg sync.WaitGroup
		for _, scope := range []string{"User.Read", m.demo.API.Scope, m.demo.OBOAPI.Scope} {
			wg.Go(func() {
				if _, err := cred.Token(t.Context(), acct, scope); err != nil {
					t.Errorf("round %d, %s: %v", round, scope, err)
				}
			})
		}
		wg.Wait()
	}
}

// An expired refresh token (or any invalid_grant on a refresh) means a new
// sign-in, with no retry time; after that sign-in, the account's other
// scope sets work at once.
func TestInvalidGrantNeedsSignInThenWorks(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	cred, prompts := m.deviceCred(t, m.demo.User.Username, nil)
	acct, err := cred.SignIn(t.Context(), "User.Read")
	if err != nil {
		t.Fatal(err)
	}
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 400,
		Body: `{"error":"invalid_grant","error_description":"AADSTS700081: The refresh token has expired due to maximum lifetime.","error_codes":[700081]}`})
	_, err = cred.Token(t.Context(), acct, m.demo.API.Scope)
	var e *Error
	if !errors.Is(err, ErrInteractionRequired) || !errors.As(err, &e) || e.RetryAfter != 0 {
		t.Fatalf("got %v, want ErrInteractionRequired without a retry time", err)
	}
	if _, err := cred.SignIn(t.Context(), "User.Read"); err != nil {
		t.Fatal(err)
	}
	if _, err := cred.Token(t.Context(), acct, m.demo.API.Scope); err != nil {
		t.Errorf("after signing in again: %v", err)
	}
	if got := prompts.Load(); got != 2 {
		t.Errorf("prompts: got %d, want 2", got)
	}
}

// expiringCodes rewrites the emulator's device codes to live 2 seconds.
type expiringCodes struct{ base http.RoundTripper }

func (x expiringCodes) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := x.base.RoundTrip(r)
	if err != nil || !strings.HasSuffix(r.URL.Path, "/devicecode") {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b = bytes.Replace(b, []byte(`"expires_in":900`), []byte(`"expires_in":2`), 1)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// A code nobody enters before it expires gives ErrDeviceCodeExpired, even
// though MSAL ends its polling at the expiry with a deadline error.
func TestDeviceCodeExpiresUnused(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, nil)
	cred, _ := m.deviceCred(t, "", func(o *Options) {
		o.HTTPClient = &http.Client{Transport: expiringCodes{m.s.Client().Transport}}
	})
	_, err := cred.SignIn(t.Context(), "User.Read")
	if !errors.Is(err, ErrDeviceCodeExpired) {
		t.Errorf("got %v, want ErrDeviceCodeExpired", err)
	}
}

// After Close, SignIn fails with ErrClosed before showing anything.
func TestSignInAfterClose(t *testing.T) {
	m := newUserEmu(t, nil)
	cred, prompts := m.deviceCred(t, m.demo.User.Username, nil)
	cred.Close()
	if _, err := cred.SignIn(context.Background(), "User.Read"); !errors.Is(err, ErrClosed) || prompts.Load() != 0 {
		t.Errorf("got %v after %d prompts, want ErrClosed and none", err, prompts.Load())
	}
}
