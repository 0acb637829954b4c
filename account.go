package entra

import "errors"

// Account is a signed-in user account, as a UserCredential knows it. It is
// a plain, comparable value holding no secret: safe to keep in a session
// or a file and to pass back to Token, TokenSource and SignOut.
type Account struct {
	// HomeAccountID identifies the account across tenants:
	// "<oid>.<tid>" of its home tenant. It is the key of its tokens.
	HomeAccountID string
	// ObjectID is the user's object ID (the tokens' oid) and TenantID the
	// tenant of the sign-in (tid).
	ObjectID string
	TenantID string
	// Username is the sign-in name (preferred_username), for display.
	Username string
	// AuthorityHost is the host that issued its tokens, e.g.
	// "login.microsoftonline.com".
	AuthorityHost string
}

// Errors of user sign-in flows. Test for them with errors.Is; they are the
// cause of the *Error that reports them.
var (
	// ErrInteractionRequired: the user must sign in again (no account, a
	// refresh token revoked or expired, MFA or a Conditional Access
	// requirement). Call SignIn.
	ErrInteractionRequired = errors.New("entra: the user must sign in interactively")
	// ErrAuthorizationDeclined: the user declined the sign-in.
	ErrAuthorizationDeclined = errors.New("entra: the user declined the sign-in")
	// ErrDeviceCodeExpired: nobody entered the device code before it
	// expired.
	ErrDeviceCodeExpired = errors.New("entra: the device code expired")
	// ErrBadDeviceCode: Entra does not know the device code.
	ErrBadDeviceCode = errors.New("entra: the device code is not valid")
)

// classifyUserError sets the cause of a user-flow error from Entra's
// answer, so errors.Is tells the app what to do.
func classifyUserError(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Err != nil {
		return err
	}
	switch {
	case e.Code == "authorization_declined" || e.Code == "access_denied":
		e.Err = ErrAuthorizationDeclined
		e.Hint = "the user declined the sign-in on the verification page: ask again, or stop"
	case e.Code == "expired_token":
		e.Err = ErrDeviceCodeExpired
		e.Hint = "nobody entered the code in time: call SignIn again for a new code"
	case e.Code == "bad_verification_code":
		e.Err = ErrBadDeviceCode
		e.Hint = "Entra does not know this device code: call SignIn again for a new code"
	case e.Code == "interaction_required" || e.Code == "invalid_grant":
		// invalid_grant from a refresh: expired, revoked, password changed,
		// MFA or policy required (refreshes of one account are serialised,
		// so it is never a race between two of them).
		e.Err = ErrInteractionRequired
		if e.Hint == "" {
			e.Hint = "the user must sign in again: call SignIn"
		}
	}
	return e
}
