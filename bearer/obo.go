package bearer

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/oauth2"
)

// OnBehalfOf is what this package needs from an on-behalf-of credential
// (entra.OnBehalfOfCredential implements it): a token source for the user
// whose access token is userAssertion, for a downstream API's scopes.
type OnBehalfOf interface {
	TokenSource(ctx context.Context, userAssertion string, scopes ...string) oauth2.TokenSource
}

// ErrNoUser: the request has no validated user token to act on behalf of.
var ErrNoUser = errors.New("entra: bearer: no validated user token on the request for on-behalf-of; put the handler behind Validator.Middleware, and let only user (delegated) tokens reach it")

// TokenSource returns the downstream token source acting as the user of
// r's validated token (on r's context, from Middleware): obo.TokenSource
// with the token as the user assertion. It fails with ErrNoUser when r has
// no validated claims or its token is app-only (no user). r's context is
// passed to obo as its ctx. Safe for concurrent use.
func TokenSource(r *http.Request, obo OnBehalfOf, scopes ...string) (oauth2.TokenSource, error) {
	c, ok := FromContext(r.Context())
	if !ok || c.AppOnly() || c.Assertion() == "" {
		return nil, ErrNoUser
	}
	return obo.TokenSource(r.Context(), c.Assertion(), scopes...), nil
}
