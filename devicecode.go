package entra

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/entrakit/entra/flows"
)

// DeviceCode is what a user needs to sign in on another device (a phone,
// a laptop with a browser): open VerificationURI and enter UserCode before
// ExpiresAt. Message is Entra's own sentence saying so, in the user's
// language.
type DeviceCode struct {
	UserCode        string
	VerificationURI string
	ExpiresAt       time.Time
	Message         string
}

// NewDeviceCodeCredential returns a UserCredential whose SignIn uses the
// device code flow (RFC 8628), for CLIs and machines without a browser.
// tenantID is a tenant ID or domain, or "organizations", "common" or
// "consumers"; clientID is a public client (Authentication > Allow public
// client flows). prompt shows the code to the user: SignIn calls it once
// per sign-in with SignIn's ctx, then waits for the user. Polling honours
// Entra's interval and adds 5 seconds on every slow_down, whatever MSAL Go's
// own loop does; cancelling SignIn's ctx stops it at once. Inputs are
// validated here, before any network call.
func NewDeviceCodeCredential(tenantID, clientID string, prompt func(context.Context, DeviceCode) error, opts *Options) (*UserCredential, error) {
	if prompt == nil {
		return nil, configErrorHint("pass a function that shows DeviceCode.Message (or the code and URI) to the user",
			"the device code prompt is nil")
	}
	c, err := newUserCredential(tenantID, clientID, opts)
	if err != nil {
		return nil, err
	}
	c.signIn = func(ctx context.Context, ac flows.AccountCache, scopes []string, claims string) (flows.UserResult, error) {
		var mu sync.Mutex
		var promptErr error
		var expires time.Time
		r, err := c.app.DeviceCode(ctx, ac, scopes, claims, func(ctx context.Context, info flows.DeviceCodeInfo) error {
			err := prompt(ctx, DeviceCode{UserCode: info.UserCode, VerificationURI: info.VerificationURI,
				ExpiresAt: info.ExpiresOn, Message: info.Message})
			mu.Lock()
			promptErr, expires = err, info.ExpiresOn
			mu.Unlock()
			return err
		})
		if err == nil {
			return r, nil
		}
		mu.Lock()
		defer mu.Unlock()
		// MSAL bounds its polling by the code's expiry: that deadline
		// passing (not the caller's) means nobody entered the code in time.
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil && !expires.IsZero() && !time.Now().Before(expires) {
			return r, &Error{Op: "sign-in", Code: "expired_token", Description: "the device code expired before anyone entered it",
				Hint: "nobody entered the code in time: call SignIn again for a new code", Err: ErrDeviceCodeExpired}
		}
		return r, signInError(err, promptErr)
	}
	return c, nil
}
