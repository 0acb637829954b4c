// Package entratest is an offline Microsoft Entra ID emulator, in the spirit
// of net/http/httptest: NewServer starts an HTTPS server on 127.0.0.1 with a
// CA of its own, and Client returns an *http.Client that trusts it. Point
// MSAL Go (with WithInstanceDiscovery(false) and WithHTTPClient(s.Client())),
// golang.org/x/oauth2 or curl at s.Authority(tenantID) and they get real,
// RS256-signed tokens.
//
// The emulator speaks the Entra paths: /{tenant}/v2.0/.well-known/openid-configuration
// (and v1), /{tenant}/discovery/v2.0/keys (and v1), /common/discovery/instance,
// /{tenant}/oauth2/v2.0/token, /{tenant}/oauth2/token (v1, resource=),
// /{tenant}/oauth2/v2.0/devicecode and /{tenant}/oauth2/v2.0/authorize, where
// {tenant} is a tenant GUID, its domain, common, organizations or consumers.
// It also serves a minimal Microsoft Graph of its cloud at GraphURL
// (/v1.0/me, /v1.0/users, /v1.0/users/{id}, /v1.0/applications,
// /v1.0/servicePrincipals), which validates tokens as Graph does.
//
// What it models:
//   - a directory of tenants, apps (secrets, certificates, App ID URIs,
//     app roles, delegated scopes, grants with or without admin consent)
//     and users; Microsoft Graph exists in every tenant;
//   - client authentication by client_secret_post, client_secret_basic and
//     private_key_jwt (PS256, RS256, ES256; x5t#S256 or x5t);
//   - Entra's scope rules (one resource per token, /.default for client
//     credentials, OIDC scopes stripped, trailing-slash resources);
//   - v1 or v2 access tokens chosen by the resource's
//     AccessTokenAcceptedVersion, app roles only when admin-consented,
//     Graph tokens with a header nonce that defeats standard verification,
//     the optional claims idtyp and xms_cc only when the resource requests
//     them (App.OptionalClaims), user tokens living a random 60 to 90
//     minutes (Options.TokenLifetime fixes it);
//   - Entra's response scope for user flows: offline_access dropped,
//     .default expanded to the consented scopes, earlier consent included,
//     case normalized;
//   - interaction_required answers a test can trigger: SetMFA (AADSTS50076,
//     50079), ChallengeNextToken (a conditional-access claims challenge),
//     and CAE (client capabilities honoured; RevokeRefreshTokens makes
//     Graph challenge CAE-capable tokens, see ClaimsChallenge);
//   - Entra's error JSON (AADSTS codes, trace and correlation IDs);
//   - signing-key rotation (AddSigningKey, RetireSigningKey);
//   - faults (InjectFault: status codes, Retry-After, delays, resets,
//     malformed or truncated bodies, redirects) and a redacted, bounded
//     request log; request bodies must arrive within 10 seconds, as headers
//     must.
//
// Issuers are those of the impersonated cloud (e.g.
// https://login.microsoftonline.com/{tid}/v2.0), which MSAL trusts, while
// every endpoint URL is on the emulator. Every method of Server is safe for
// concurrent use. SeedDemo creates a ready-made directory.
package entratest
