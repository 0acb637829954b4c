package entra

import (
	"log/slog"
	"net/http"
	"time"
)

// Defaults applied when an Options field is left at its zero value.
const (
	defaultFetchTimeout    = 30 * time.Second
	defaultMaxCacheEntries = 10000
	defaultIdleTTL         = 30 * time.Minute
	defaultStoreTimeout    = 500 * time.Millisecond
)

// Options configures a Credential. The zero value (or a nil *Options) works:
// Microsoft's public cloud, the default HTTP transport, no logging, no
// persistence. Options are copied when a Credential is made; changing them
// afterwards has no effect. Nothing is ever read from the environment.
type Options struct {
	// Cloud selects the authority host, Microsoft Graph and the issuers.
	// The zero Cloud means Public.
	Cloud Cloud

	// HTTPClient supplies the transport (TLS trust, proxy) used to talk to
	// Entra and, for Client and Graph, to the resource. Its CheckRedirect and
	// Timeout are ignored for Entra: entra never follows a redirect from the
	// token endpoint and bounds each fetch with FetchTimeout.
	// nil means http.DefaultTransport.
	HTTPClient *http.Client

	// Logger receives fetches, refresh failures and store failures. No log
	// line ever carries a token, secret or assertion. nil discards.
	Logger *slog.Logger

	// Store optionally persists cache entries so another process (or a
	// restart) can reuse a token. Values hold access tokens: use a store
	// that protects them at rest. Store failures are logged and ignored.
	Store Store

	// StoreTimeout bounds each Store call, separately from FetchTimeout: a
	// Load that takes longer counts as a miss (entra asks Entra), and saves
	// run in the background, so a slow Store never delays a caller by more
	// than this. 0 means 500 milliseconds.
	StoreTimeout time.Duration

	// DisableInstanceDiscovery skips MSAL's instance discovery call; needed
	// for authority hosts Microsoft does not know, such as an emulator.
	DisableInstanceDiscovery bool

	// SendCertificateChain sends the certificate chain (x5c) with a
	// certificate credential, for subject name + issuer (SN+I) auth.
	SendCertificateChain bool

	// FetchTimeout bounds one fetch from Entra, retries included. 0 means
	// 30 seconds.
	FetchTimeout time.Duration

	// MaxCacheEntries caps the number of scope sets cached by one
	// Credential; beyond it, the least recently used entry of a small
	// random sample is evicted (an entry that remembers a failure, and so
	// when Entra may be asked again, only if the whole sample does), and
	// its token and timer are released at once. A TokenSource that still
	// holds an evicted entry moves to the live one. 0 means 10,000.
	MaxCacheEntries int

	// IdleTTL is how long an entry whose token has expired and which nobody
	// asked for is kept before it is removed. 0 means 30 minutes.
	IdleTTL time.Duration

	// AllowedHosts lists the hosts ("host" or "host:port") to which the
	// http.Client from Credential.Client attaches tokens when the scope's
	// resource is not an https URL (e.g. "api://<app-id>/.default"). For
	// an https resource, only its own host gets the token.
	AllowedHosts []string

	// EnableCAE announces that the app handles Continuous Access
	// Evaluation claims challenges (client capability "cp1"), which
	// entra's Client does: Entra may then issue long-lived (up to 28
	// hours) CAE tokens that a resource revokes at once when the user is
	// disabled or their session is revoked, answering with a claims
	// challenge that entra satisfies by getting a new token.
	EnableCAE bool

	// SignInKey seals the sign-in state a WebApp keeps in the browser's
	// cookie between StartSignIn and the callback (AES-256-GCM): 32
	// bytes. Give every instance of a web app the same key when the
	// callback may reach another instance than the sign-in. nil means a
	// random key per WebApp (one instance).
	SignInKey []byte

	// Clock is for tests; nil means the real clock.
	Clock Clock
}

// settings is Options with every default resolved; immutable after
// construction.
type settings struct {
	cloud                    Cloud
	httpClient               *http.Client
	logger                   *slog.Logger
	store                    Store
	storeTimeout             time.Duration
	disableInstanceDiscovery bool
	sendCertificateChain     bool
	fetchTimeout             time.Duration
	maxEntries               int
	idleTTL                  time.Duration
	allowedHosts             []string
	enableCAE                bool
	signInKey                []byte
	clock                    Clock
}

// resolve copies o and fills in defaults.
func (o *Options) resolve() settings {
	var in Options
	if o != nil {
		in = *o
	}
	s := settings{
		cloud:                    in.Cloud,
		httpClient:               in.HTTPClient,
		logger:                   in.Logger,
		store:                    in.Store,
		storeTimeout:             in.StoreTimeout,
		disableInstanceDiscovery: in.DisableInstanceDiscovery,
		sendCertificateChain:     in.SendCertificateChain,
		fetchTimeout:             in.FetchTimeout,
		maxEntries:               in.MaxCacheEntries,
		idleTTL:                  in.IdleTTL,
		allowedHosts:             append([]string(nil), in.AllowedHosts...),
		enableCAE:                in.EnableCAE,
		signInKey:                append([]byte(nil), in.SignInKey...),
		clock:                    in.Clock,
	}
	if s.cloud.IsZero() {
		s.cloud = Public
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.fetchTimeout <= 0 {
		s.fetchTimeout = defaultFetchTimeout
	}
	if s.storeTimeout <= 0 {
		s.storeTimeout = defaultStoreTimeout
	}
	if s.maxEntries <= 0 {
		s.maxEntries = defaultMaxCacheEntries
	}
	if s.idleTTL <= 0 {
		s.idleTTL = defaultIdleTTL
	}
	if s.clock == nil {
		s.clock = realClock{}
	}
	return s
}

// capabilities returns the client capabilities announced to Entra.
func (s *settings) capabilities() []string {
	if s.enableCAE {
		return []string{"cp1"}
	}
	return nil
}

// transport returns the RoundTripper of the configured HTTP client.
func (s *settings) transport() http.RoundTripper {
	if s.httpClient != nil && s.httpClient.Transport != nil {
		return s.httpClient.Transport
	}
	return http.DefaultTransport
}
