package entra

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/entrakit/entra/internal/entrahttp"
)

// ErrNotFound is returned by a Store's Load when it holds no value for the
// key.
var ErrNotFound = errors.New("entra: not found in store")

// Store persists cache entries outside the process, one entry per key, so
// that a token survives a restart or is shared by several instances of a
// service. entra consults the Store before it asks Entra (for an empty
// entry, any usable stored token; for a background refresh, only a newer
// one, such as another instance's) and saves each token it fetched and
// installed (not tokens fetched for a claims challenge).
//
// Values hold access tokens: a Store must protect them at rest and in
// transit. Keys hold no secret (authority host, tenant, client ID, scopes).
//
// Implementations must be safe for concurrent use. ctx bounds each call
// with Options.StoreTimeout. A Store never fails or noticeably delays a
// call: an error or a timeout is logged at Warn and entra carries on with
// its in-memory cache and Entra; saves run in the background; a Store that
// hangs has at most a few calls in flight, the rest are skipped.
type Store interface {
	// Load returns the value saved under key, or an error wrapping
	// ErrNotFound.
	Load(ctx context.Context, key string) ([]byte, error)
	// Save stores value under key; the value is worthless after ttl.
	Save(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// storedToken is the JSON a cache entry is persisted as.
type storedToken struct {
	AccessToken string    `json:"access_token"`
	ExpiresOn   time.Time `json:"expires_on"`
	RefreshOn   time.Time `json:"refresh_on"`
}

// storeKey is the Store key of an app-only entry. It names everything the
// token depends on, so two credentials share a value only when Entra would
// have given them the same token.
func storeKey(authorityHost, tenantID, clientID, scopesKey string) string {
	return "entra/v1/app/" + authorityHost + "/" + tenantID + "/" + clientID + "/" + scopesKey
}

func encodeStored(t storedToken) ([]byte, error) { return json.Marshal(t) }

// decodeStored parses a stored value. It holds it to the rules a token
// from Entra must pass (a store can be written by anyone who can reach
// it): a bearer token that can be sent in a header, and an expiry at most
// 400 days ahead of now.
func decodeStored(b []byte, now time.Time) (storedToken, error) {
	var t storedToken
	if err := json.Unmarshal(b, &t); err != nil {
		return storedToken{}, errors.New("entra: stored value is not a token entry")
	}
	if t.AccessToken == "" || t.ExpiresOn.IsZero() {
		return storedToken{}, errors.New("entra: stored value is incomplete")
	}
	if !entrahttp.IsB64Token(t.AccessToken) {
		return storedToken{}, errors.New("entra: stored access token has characters a bearer token cannot carry")
	}
	if t.ExpiresOn.Sub(now) > entrahttp.MaxLifetime || !t.RefreshOn.IsZero() && t.RefreshOn.After(t.ExpiresOn) {
		return storedToken{}, errors.New("entra: stored expiry or refresh time is out of range")
	}
	return t, nil
}
