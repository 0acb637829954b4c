package bearer

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/entrakit/entra"
)

// Defaults for Options.
const (
	DefaultSkew      = 5 * time.Minute
	DefaultCacheSize = 10000
	// MaxTokenBytes is the longest token accepted (longer ones are refused
	// before anything is decoded).
	MaxTokenBytes = 16 << 10
)

// Options configures a Validator. A nil *Options means the defaults; New
// copies it, so later changes have no effect.
type Options struct {
	// Cloud gives the authority host the keys come from and the v1/v2
	// issuers and Graph audience tokens are checked against; zero means
	// entra.Public.
	Cloud entra.Cloud
	// AppIDURI is this API's App ID URI; default "api://" + client ID.
	// Tokens whose aud is the client ID or this URI are accepted.
	AppIDURI string
	// AllowedTenants are the tenant IDs (GUIDs) accepted in multi-tenant
	// mode (tenantID "organizations" or "common").
	AllowedTenants []string
	// AllowAllTenants accepts tokens from every tenant in multi-tenant
	// mode. Multi-tenant mode needs it or AllowedTenants.
	AllowAllTenants bool
	// AllowTokensWithoutScopesOrRoles accepts tokens that carry neither
	// scp nor roles (an app-only token for an API whose app role was not
	// granted has none). Off by default, as Microsoft.Identity.Web.
	AllowTokensWithoutScopesOrRoles bool
	// Skew is the clock skew allowed on exp and nbf; default 5 minutes.
	Skew time.Duration
	// Realm is the realm of WWW-Authenticate challenges; default AppIDURI.
	Realm string
	// HTTPClient supplies the transport for the metadata and key-set
	// requests (TLS trust, proxy); nil means http.DefaultTransport.
	HTTPClient *http.Client
	// Logger receives rejections (reason, never the token) and key-set
	// events; nil discards.
	Logger *slog.Logger
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// CacheSize bounds the validated-token cache (entries); 0 means
	// DefaultCacheSize, negative disables the cache.
	CacheSize int
	// KeysRefreshInterval and UnknownKeyInterval tune the key set: a
	// periodic refresh (default 24h) and the least time between two
	// refetches for an unknown kid (default 5m).
	KeysRefreshInterval time.Duration
	UnknownKeyInterval  time.Duration
}
