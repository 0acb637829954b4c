package bearer

import (
	"github.com/entrakit/entra"

	"errors"
	"net/http"

	"github.com/entrakit/entra/internal/jwks"
)

// RFC 6750 error codes, as Error.Code carries them.
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
)

// Sentinel errors: every *Error unwraps to exactly one of them.
var (
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("entra: no bearer token")
	// ErrBadRequest: the Authorization header or the token's placement is malformed.
	ErrBadRequest = errors.New("entra: malformed bearer request")
	// ErrMalformed: the token is not a compact JWS within the size limits.
	ErrMalformed = jwks.ErrMalformed
	// ErrAlgorithm: the token's alg is not RS256.
	ErrAlgorithm = jwks.ErrAlgorithm
	// ErrUnknownKey: the token's kid is not in the tenant's key set.
	ErrUnknownKey = jwks.ErrUnknownKey
	// ErrSignature: the signature does not verify.
	ErrSignature = jwks.ErrSignature
	// ErrKeyIssuer: the signing key's issuer does not match the token's.
	ErrKeyIssuer = jwks.ErrKeyIssuer
	// ErrKeysUnavailable: the tenant's signing keys could not be loaded.
	ErrKeysUnavailable = jwks.ErrKeysUnavailable
	// ErrGraphToken: the token was issued for Microsoft Graph, not this API.
	ErrGraphToken = errors.New("entra: token is for Microsoft Graph")
	// ErrIDToken: an ID token was sent instead of an access token.
	ErrIDToken = errors.New("entra: token is an ID token")
	// ErrAudience: the token was issued for another API.
	ErrAudience = errors.New("entra: token audience is not this API")
	// ErrIssuer: iss is not this cloud's v1 or v2 issuer for the token's
	// tenant, or ver does not match the issuer's form.
	ErrIssuer = errors.New("entra: token issuer not accepted")
	// ErrTenant: the token's tenant is not accepted.
	ErrTenant = errors.New("entra: token tenant not accepted")
	// ErrExpired: exp (plus the allowed skew) has passed, or exp is missing.
	ErrExpired = errors.New("entra: token expired")
	// ErrNotYetValid: nbf lies further ahead than the allowed skew.
	ErrNotYetValid = errors.New("entra: token not yet valid")
	// ErrNoScopes: the token has neither scp nor roles.
	ErrNoScopes = errors.New("entra: token has no scopes or roles")
	// ErrInsufficientScope: the token lacks the scope or role a route requires.
	ErrInsufficientScope = errors.New("entra: token lacks the required scope or role")
)

// Error is a rejected request or token. Its fields are the contract; its
// text is one line that never contains the token. Error values are
// immutable once returned and safe for concurrent use.
type Error struct {
	// Status is the HTTP status the middleware answers: 400, 401, 403 or
	// 503 (the signing keys could not be loaded).
	Status int
	// Code is the RFC 6750 error code ("" for a request without a token).
	Code string
	// Reason says what is wrong, in one line, without the token.
	Reason string
	// Hint says what the client (or the API's operator) should do.
	Hint string
	// Scope lists the scopes or roles a route required (insufficient_scope).
	Scope string
	// Findings are what entra.Inspect finds in a refused token (an
	// invalid_token rejection): a Graph token, an id token, another
	// cloud's or tenant's token, an expired one... They are logged with
	// the rejection; the client only gets Reason and Hint.
	Findings []entra.Finding

	err error // one of the sentinel errors, possibly wrapping a cause
}

// Error returns "entra: bearer: <reason>[: <hint>]".
func (e *Error) Error() string {
	s := "entra: bearer: " + e.Reason
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Unwrap returns the sentinel error (and, through it, any cause).
func (e *Error) Unwrap() error { return e.err }

func invalidToken(sentinel error, reason, hint string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Reason: reason, Hint: hint, err: sentinel}
}
