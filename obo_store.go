package entra

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// storeKeyOf returns the Store key of a cache key: storeKeyCtx when set
// (its key needs what the fetch's ctx carries), else storeKey.
func (c *cache) storeKeyOf(ctx context.Context, key string) string {
	if c.storeKeyCtx != nil {
		return c.storeKeyCtx(ctx, key)
	}
	return c.storeKey(key)
}

// storeKeyOf is the Store key of an on-behalf-of entry:
//
//	entra/v1/obo/<authority host>/<tenant>/<client ID>/a/<SHA-256 of the assertion>/<scopes>
//	entra/v1/obo/<authority host>/<tenant>/<client ID>/s/<SHA-256 of the session key>/<scopes>
//
// (SHA-256 in unpadded base64url). It is the same in every process, so
// instances sharing a Store share entries, and it holds no assertion or
// session key: neither can be recovered from a SHA-256 of a random-looking
// token. The assertion (or session key) comes from the fetch's ctx.
func (c *OnBehalfOfCredential) storeKeyOf(ctx context.Context, key string) string {
	// A key is the account (accountLen bytes of kind and hash, which may
	// include 0 bytes), a 0 separator and the scopes: the scopes start at
	// a fixed offset, not at the first 0 byte.
	scopes := ""
	if len(key) > accountLen && key[accountLen] == 0 {
		scopes = key[accountLen+1:]
	}
	if strings.HasPrefix(key, "s") {
		if sk, _ := ctx.Value(sessionCtxKey{}).(string); sk != "" {
			return c.storePrefix + "s/" + sha256Key(sk) + "/" + scopes
		}
	} else if a, _ := ctx.Value(assertionKey{}).(string); a != "" {
		return c.storePrefix + "a/" + sha256Key(a) + "/" + scopes
	}
	// Not reached through the public API; such a fetch fails before any
	// save, and nothing is saved under this key.
	return c.storePrefix + "unkeyed"
}

// sessionStoreKey is the Store key of a session's state (its refresh
// token).
func (c *OnBehalfOfCredential) sessionStoreKey(sessionKey string) string {
	return c.storePrefix + "session/" + sha256Key(sessionKey)
}

// sha256Key is the unpadded base64url SHA-256 of s.
func sha256Key(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
