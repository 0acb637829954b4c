package bearer

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"
)

// Claims are the validated claims of an access token, with the raw token
// (the user assertion for on-behalf-of). Claims values are shared between
// requests that present the same token: treat them, and their slices, as
// read-only. Safe for concurrent use.
type Claims struct {
	Issuer   string
	Audience string
	TenantID string // tid
	ObjectID string // oid: the user, or the client's service principal
	Subject  string // sub
	ClientID string // azp (v2) or appid (v1): the app that requested the token
	Version  string // "1.0" or "2.0"
	Name     string
	Username string   // preferred_username (v2) or upn (v1)
	Scopes   []string // scp, split on spaces (delegated: a user is present)
	Roles    []string
	// Capabilities are the client capabilities (xms_cc); "cp1" marks a
	// CAE-capable client, which understands Challenge.
	Capabilities []string
	IssuedAt     time.Time
	NotBefore    time.Time
	ExpiresAt    time.Time
	KeyID        string // kid of the key that signed the token

	payload   json.RawMessage
	assertion string
}

// AppOnly reports whether the token was issued to an application acting
// as itself (no scp): there is no user to act on behalf of.
func (c *Claims) AppOnly() bool { return len(c.Scopes) == 0 }

// HasScope reports whether scp holds scope (exact, case-sensitive).
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// HasRole reports whether roles holds role (exact, case-sensitive).
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// Assertion returns the raw access token, for an on-behalf-of exchange.
// Never log or store it: it is a bearer credential.
func (c *Claims) Assertion() string { return c.assertion }

// Decode unmarshals the verified payload into v, for claims this type
// does not carry (wids, groups, custom optional claims).
func (c *Claims) Decode(v any) error { return json.Unmarshal(c.payload, v) }

// String describes the claims without the token.
func (c *Claims) String() string {
	kind := "user"
	if c.AppOnly() {
		kind = "app"
	}
	return "bearer.Claims{" + kind + " tid=" + c.TenantID + " oid=" + c.ObjectID + " client=" + c.ClientID +
		" aud=" + c.Audience + " ver=" + c.Version + " assertion=[REDACTED]}"
}

// LogValue logs the claims without the token.
func (c *Claims) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tid", c.TenantID), slog.String("oid", c.ObjectID), slog.String("client", c.ClientID),
		slog.String("aud", c.Audience), slog.String("ver", c.Version), slog.Bool("app_only", c.AppOnly()),
		slog.String("assertion", "[REDACTED]"))
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying c, as the middleware does.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the validated claims the middleware put on a
// request's context.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok && c != nil
}
