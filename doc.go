// Package entra gets OAuth 2.0 access tokens from Microsoft Entra ID
// (formerly Azure AD) and hands them out as golang.org/x/oauth2 token
// sources, cached and refreshed in the background. It uses MSAL Go to speak
// the protocol and adds what a service needs around it: a per-scope cache
// whose steady-state cost is an atomic load, hardened HTTP to Entra, typed
// errors with hints, and sovereign clouds as values.
//
// # Quick start
//
// A daemon (no user) calling an API with its own identity uses client
// credentials. Register an app, give it a secret or a certificate, grant it
// the API's application permission (app role) and grant admin consent;
// then:
//
//	cred, err := entra.NewClientSecretCredential(tenantID, clientID, secret, nil)
//	if err != nil { ... } // *entra.Error, Op "config": invalid input, nothing was sent
//	ts := cred.TokenSource(ctx, "api://<api-app-id>/.default")
//	client := oauth2.NewClient(ctx, ts) // or cred.Client(ctx, scope), see below
//
// Make one Credential per app and tenant and share it: it is safe for
// concurrent use, and every TokenSource, Client and GraphClient made from
// it shares its cache.
//
// # Flows
//
// App-only tokens (OAuth client credentials), for daemons and services:
//
//   - NewClientSecretCredential: a client secret.
//   - NewClientCertificateCredential: a certificate and its private key
//     (ParseCertificates reads PEM and PKCS#12), or any RSA crypto.Signer
//     (an HSM or Azure Key Vault key: only Sign is called);
//     Options.SendCertificateChain sends x5c for subject name + issuer
//     authentication.
//   - NewClientAssertionCredential: a callback returning a client
//     assertion made elsewhere, such as a federated workload identity
//     token.
//
// App-only tokens take exactly one "<resource>/.default" scope, e.g.
// "api://<api-app-id>/.default" or "https://graph.microsoft.com/.default":
// the token then carries, in its roles claim, the app roles granted to the
// app on that resource. A token without roles almost always means the
// permission was added but admin consent was not granted. Scope mistakes
// (none, several resources, "User.Read" instead of ".default", another
// cloud's Graph) are reported before any request as an *Error with Op
// "scope", the AADSTS code Entra would have answered with, and a hint.
//
// # Tokens, contexts and errors
//
// Credential.Token(ctx, scopes...) is ctx-aware: if ctx ends while a fetch
// is under way, it returns an error for which errors.Is(err,
// context.Canceled) holds, and the fetch goes on to fill the cache.
// oauth2.TokenSource.Token has no ctx, so the ctx given to TokenSource and
// Client supplies values only; every fetch is bounded by
// Options.FetchTimeout (30 s by default), retries included.
//
// Every failure is an *Error carrying Op, the HTTP status, the OAuth error,
// AADSTS codes, trace and correlation IDs and a Hint; test it with
// errors.Is against ErrConfig, ErrNoScopes, ErrMultipleResources,
// ErrNeedDefaultScope, ErrWrongCloud, ErrInvalidResponse, ErrRedirect, and
// with HasCode(7000215). No error text or log line contains a secret,
// token, assertion or response body.
//
// # Signing users in
//
// NewDeviceCodeCredential returns a UserCredential for CLIs and machines
// without a browser: SignIn shows a code through the prompt function and
// waits for the user (polling as RFC 8628 asks), then returns the Account.
// NewBrowserCredential signs the user in through the browser instead
// (authorization code with PKCE, answered to a loopback listener).
// Token, TokenSource and Client take the Account: tokens for other scopes
// and other APIs come silently from its refresh token, which is replaced
// by the newest one on every use, each (account, scopes) in its own cache
// entry with the app-only hot path. When only a new sign-in helps,
// errors.Is(err, ErrInteractionRequired) holds, and Error.Claims may carry
// the claims a new sign-in must satisfy (SignInWithClaims). Accounts live
// in memory and, with Options.Store, per account in the Store.
//
// NewWebApp signs users in to a web app (a confidential client with a
// ClientSecret, ClientCertificate or ClientAssertion): RedirectToSignIn
// and CallbackHandler (or StartSignIn and CompleteSignIn) run the
// authorization code flow with PKCE, state and nonce, validate the id
// token through the tenant's keys, and give the Account; Token,
// TokenSource and Client then work per account as above.
//
// # Web APIs
//
// Package bearer validates the access tokens a web API receives
// (signature through the tenant's keys, issuer, audience, lifetime,
// scopes or roles) as net/http middleware. NewOnBehalfOfCredential gets
// tokens for other APIs as the calling user (the on-behalf-of flow), one
// cache entry per user and scope set, keyed by a hash of the user's token;
// a Graph token or a token for another app is refused before any request
// (ErrBadAssertion). StartSession keeps acting for a user after their
// token expires.
//
// # Explaining tokens
//
// Inspect and InspectWith decode a token without verifying it and report
// what it is (kind, version, cloud, audience, app-only or delegated,
// roles and scopes, lifetime) and the known mistakes it shows, each with
// its fix; InspectVerified also checks the signature. Explain gives the
// findings of the token entra's Client sent with a request that got 401
// or 403. The entra command (cmd/entra) does the same on the command line
// and gets tokens: entra token, entra inspect, entra demo.
//
// # Calling APIs
//
// Credential.Client returns an *http.Client whose Transport attaches the
// token only to https requests for the scope's resource host, so a wrong
// URL or a redirect never leaks it. For a resource that is not an https URL
// (api://...) set Options.AllowedHosts to the API's host. The request's
// context bounds the wait for a token. The transport also answers a claims
// challenge (401 with error="insufficient_claims") with a fresh token
// carrying the claims, retrying each request at most once; concurrent
// challenges share one token request, a token that already carried the
// claims is not replaced, and challenge-driven fetches are rate-limited
// per entry, so a resource that challenges every call cannot multiply the
// traffic to Entra.
//
// # Clouds
//
// Options.Cloud selects the cloud: Public (default), USGovernment,
// USGovernmentDoD, China, Germany (closed in October 2021; kept for legacy
// tenants and tests) or a custom Cloud from NewCloud. A Cloud carries the
// authority host, Microsoft Graph and ARM endpoints and issuers from one
// setting. Credential.Graph builds Graph requests from the credential's
// own cloud, so a token of one cloud is never sent to another cloud's
// Graph. Cloud.WithAuthorityHost points a cloud at a proxy or an emulator.
//
// # Caching
//
// A Credential caches one entry per normalized scope set. A TokenSource is
// bound to its entry: at steady state Token is two atomic pointer loads,
// with no lock, map lookup, clock read or allocation: a few nanoseconds
// whatever the number of entries, where MSAL Go's own cache hit costs
// about a microsecond and grows linearly with the number of cached tokens
// (see bench_test.go). Each entry has one state machine, described in
// entry.go, with one time for its next change (one timer per cache, a
// heap of those times, wakes each entry then):
//
//   - fresh: served from memory.
//   - refresh, from Entra's refresh_in, else half the lifetime, and never
//     later than 5 minutes before expiry (margins shrink continuously for
//     short-lived tokens; the time is jittered so instances sharing a Store
//     do not refresh together): callers still get the current token at
//     once while one background fetch per entry replaces it. If that fetch
//     fails, the valid token keeps being served and the refresh is retried
//     with jittered exponential backoff (10 s doubling to 5 minutes).
//   - expired (up to 30 s before the real expiry), or no token yet: callers
//     wait, and all concurrent callers of an entry share one request.
//
// A failure is remembered: until its retry time (backoff from 1 s doubling
// to a minute, or Entra's Retry-After up to 10 minutes) callers get the
// same *Error at once, with RetryAfter saying when entra asks again, so an
// outage or throttling does not turn every call into a request.
//
// Entries whose token expired and that nobody used for Options.IdleTTL are
// dropped, and Options.MaxCacheEntries caps their number (the least
// recently used of a random sample goes first, and its token and timer are
// released at once); a TokenSource whose entry was dropped moves to the
// live entry for its scopes. Timers run on the monotonic clock, which stops
// while a machine is suspended, so the cache compares the wall clock every
// second: after a resume, a token whose expiry passed during the sleep is
// dropped within about a second. Credential.Close stops all of it.
//
// Options.Store optionally persists entries (one key per entry, never a
// whole-cache blob) so a restart or another instance reuses a token; its
// values hold access tokens, so it must protect them. A Store failure is
// logged and never fails a call; each Store call has its own short budget
// (Options.StoreTimeout) and saves run in the background. Package store
// has an encrypted file store (one machine, several processes) and the
// key ring encrypting every value; the nested module store/redis a Redis
// store for many instances.
//
// # Testing
//
// Package entratest is an Entra ID emulator (like net/http/httptest):
// point a Credential at it with Options{Cloud:
// entra.Public.WithAuthorityHost(srv.URL), HTTPClient: srv.Client(),
// DisableInstanceDiscovery: true}. It also serves a minimal Microsoft
// Graph: Cloud.WithGraphURL(srv.GraphURL()) sends Credential.Graph there
// while tokens keep Graph's audience. The examples run against it.
package entra
