package jwks

import "errors"

// Sentinel errors. Every error Verify returns wraps exactly one of them
// (errors.Is), followed by a one-line detail that never contains the token.
var (
	// ErrMalformed: the token is not a compact JWS with a JSON header and
	// payload within the size limits, or its header lacks a kid.
	ErrMalformed = errors.New("entra: token is malformed")
	// ErrAlgorithm: the header's alg is not RS256 (none, HMAC and every
	// other algorithm are refused before any key lookup).
	ErrAlgorithm = errors.New("entra: token algorithm not allowed (only RS256)")
	// ErrUnknownKey: no key of the provider's key set has the token's kid,
	// even after a refetch (or a refetch was not allowed yet).
	ErrUnknownKey = errors.New("entra: token signing key is unknown")
	// ErrSignature: the signature does not verify with the key named by kid.
	ErrSignature = errors.New("entra: token signature is invalid")
	// ErrKeyIssuer: the signing key carries an issuer that does not match
	// the token's iss (and tid).
	ErrKeyIssuer = errors.New("entra: token issuer does not match its signing key's issuer")
	// ErrKeysUnavailable: the provider's key set could not be loaded (and
	// no earlier key set is held); check the metadata URL and the network.
	ErrKeysUnavailable = errors.New("entra: signing keys unavailable")
)
