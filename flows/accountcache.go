package flows

import (
	"context"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
)

// AccountCache holds one account's MSAL cache (its account record, id
// token, refresh token and access tokens) between calls, as MSAL's
// serialized JSON. The root package keeps one per signed-in account and
// persists it; every call here builds an MSAL client over one
// AccountCache, so MSAL never sees two accounts at once and a refresh
// token redeemed by MSAL is replaced, in the AccountCache, by the one
// Entra returned with it.
type AccountCache interface {
	// Load returns the serialized cache; nil means empty.
	Load(ctx context.Context) ([]byte, error)
	// Save keeps blob, the whole serialized cache after a change.
	Save(ctx context.Context, blob []byte) error
}

// accessor adapts an AccountCache to MSAL's cache.ExportReplace.
type accessor struct{ ac AccountCache }

func (a accessor) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := a.ac.Load(ctx)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		b = []byte("{}")
	}
	return u.Unmarshal(b)
}

func (a accessor) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	return a.ac.Save(ctx, b)
}

// MemoryAccountCache is an AccountCache in memory, for a call whose
// account is not known yet (a sign-in) and for tests. Not safe for
// concurrent use.
type MemoryAccountCache struct{ Blob []byte }

// Load returns the blob.
func (m *MemoryAccountCache) Load(context.Context) ([]byte, error) { return m.Blob, nil }

// Save replaces the blob.
func (m *MemoryAccountCache) Save(_ context.Context, b []byte) error {
	m.Blob = append([]byte(nil), b...)
	return nil
}
