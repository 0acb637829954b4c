// Package bearer validates the Microsoft Entra ID access tokens a web API
// receives (RFC 6750 bearer tokens) and hands the validated claims, with
// the raw token for on-behalf-of, to the handlers.
//
// A Validator checks, for one API (tenant and client ID): the RS256
// signature against the tenant's published keys (found through the cloud's
// OpenID metadata, cached, refreshed, refetched on an unknown kid at most
// once per window without ever making a request wait), the signing key's
// own issuer, iss in the cloud's v1 or v2 form for the token's tenant with a
// matching ver, the tenant (one, or an allow-list in multi-tenant mode),
// aud (the client ID or the App ID URI), exp and nbf with a 5-minute skew,
// and that the token carries scp or roles. A token for Microsoft Graph is
// refused with the reason: it was meant for Graph, and the client must
// request this API's scope. Results are cached per token until it expires.
//
// Middleware answers rejections with RFC 6750 challenges (401
// invalid_token, 400 invalid_request, 403 insufficient_scope) and logs the
// reason, never the token.
package bearer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/internal/jwks"
)

// graphAppID is Microsoft Graph's client ID, an audience of Graph tokens.
const graphAppID = "00000003-0000-0000-c000-000000000000"

// Validator validates access tokens for one API. Create it once with New
// and share it: it is safe for concurrent use.
type Validator struct {
	tenantID    string // lower-case GUID; "" in multi-tenant mode
	clientID    string
	appIDURI    string
	cloud       entra.Cloud
	allowed     map[string]bool // multi-tenant allow-list (lower-case GUIDs)
	allowAll    bool
	allowNoScp  bool
	skew        time.Duration
	realm       string
	log         *slog.Logger
	now         func() time.Time
	keys        *jwks.Set
	cache       *cache // nil when disabled
	scopeAdvice string // "api://<client id>/<scope>"
}

// New returns a Validator for the API clientID registered in tenantID (a
// GUID), or, with tenantID "organizations" or "common", a multi-tenant
// Validator accepting the tenants of Options.AllowedTenants (or every
// tenant with Options.AllowAllTenants). Nothing is fetched until the first
// token arrives. opts may be nil.
func New(tenantID, clientID string, opts *Options) (*Validator, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	v := &Validator{
		clientID:   strings.ToLower(strings.TrimSpace(clientID)),
		appIDURI:   strings.TrimSpace(o.AppIDURI),
		cloud:      o.Cloud,
		allowAll:   o.AllowAllTenants,
		allowNoScp: o.AllowTokensWithoutScopesOrRoles,
		skew:       o.Skew,
		realm:      o.Realm,
		log:        o.Logger,
		now:        o.Clock,
	}
	if !isGUID(v.clientID) {
		return nil, fmt.Errorf("entra: bearer: client ID %q is not a GUID; give the API's application (client) ID", short(clientID))
	}
	if v.cloud.IsZero() {
		v.cloud = entra.Public
	}
	if v.appIDURI == "" {
		v.appIDURI = "api://" + v.clientID
	}
	if v.skew <= 0 {
		v.skew = DefaultSkew
	}
	if v.realm == "" {
		v.realm = v.appIDURI
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.now == nil {
		v.now = time.Now
	}
	segment := strings.ToLower(strings.TrimSpace(tenantID))
	switch {
	case segment == "organizations" || segment == "common":
		v.allowed = map[string]bool{}
		for _, t := range o.AllowedTenants {
			t = strings.ToLower(strings.TrimSpace(t))
			if !isGUID(t) {
				return nil, fmt.Errorf("entra: bearer: allowed tenant %q is not a GUID; list tenant IDs, not domain names", short(t))
			}
			v.allowed[t] = true
		}
		if len(v.allowed) == 0 && !v.allowAll {
			return nil, errors.New("entra: bearer: multi-tenant mode needs Options.AllowedTenants, or Options.AllowAllTenants to accept every tenant")
		}
	case isGUID(segment):
		v.tenantID = segment
	default:
		return nil, fmt.Errorf("entra: bearer: tenant %q is not a tenant ID (GUID), \"organizations\" or \"common\"; use the directory (tenant) ID", short(tenantID))
	}
	v.scopeAdvice = v.appIDURI + "/<scope>"
	v.keys = jwks.New(v.cloud.AuthorityHost()+"/"+segment+"/v2.0/.well-known/openid-configuration", jwks.Options{
		HTTPClient: o.HTTPClient, Logger: v.log, Clock: v.now,
		RefreshInterval: o.KeysRefreshInterval, UnknownKeyInterval: o.UnknownKeyInterval,
	})
	switch size := o.CacheSize; {
	case size == 0:
		v.cache = newCache(DefaultCacheSize)
	case size > 0:
		v.cache = newCache(size)
	}
	return v, nil
}

// Validate validates the access token raw (without "Bearer ") and returns
// its claims. ctx bounds the wait for the tenant's signing keys when they
// must be fetched (a fetch shared with other callers is not cancelled by
// it). A rejection is an *Error carrying the HTTP status, RFC 6750 code,
// reason and hint; it never contains the token. Safe for concurrent use.
func (v *Validator) Validate(ctx context.Context, raw string) (*Claims, error) {
	c, err := v.validate(ctx, raw)
	if e, ok := err.(*Error); ok && e.Code == CodeInvalidToken && len(raw) <= MaxTokenBytes {
		e.Findings = entra.InspectFindings(raw, &entra.InspectOptions{Audience: v.appIDURI, Cloud: v.cloud, Now: v.now()})
	}
	return c, err
}

func (v *Validator) validate(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > MaxTokenBytes {
		return nil, invalidToken(ErrMalformed, fmt.Sprintf("token longer than %d bytes", MaxTokenBytes), "send an Entra ID access token")
	}
	now := v.now()
	if v.cache != nil {
		if c := v.cache.get(raw, now.UnixNano(), v.keys.HasKey); c != nil {
			return c, nil
		}
	}
	parts, err := jwks.Parse(raw)
	if err != nil {
		return nil, invalidToken(err, trimSentinel(err), "send an Entra ID access token (a JWT) for this API")
	}
	if e := v.explainForeign(parts); e != nil {
		return nil, e
	}
	verified, err := v.keys.Verify(ctx, raw)
	if err != nil {
		return nil, v.verifyError(err)
	}
	c, e := v.checkClaims(verified, now)
	if e != nil {
		return nil, e
	}
	c.assertion = raw
	if v.cache != nil {
		v.cache.put(raw, c, c.ExpiresAt.Add(v.skew).UnixNano(), now.UnixNano())
	}
	return c, nil
}

// explainForeign refuses, with the reason, tokens that can never be valid
// here whatever their signature: Microsoft Graph's (header nonce or Graph
// audience). It reads unverified data only to refuse, never to accept.
func (v *Validator) explainForeign(p *jwks.Parts) *Error {
	var c struct {
		Aud any `json:"aud"`
	}
	_ = jsonUnmarshal(p.Payload, &c)
	graph := p.Header.Nonce != ""
	for _, a := range audList(c.Aud) {
		a = strings.TrimSuffix(a, "/")
		if strings.EqualFold(a, graphAppID) || strings.EqualFold(a, v.cloud.GraphAudience()) ||
			strings.EqualFold(a, "https://graph.microsoft.com") {
			graph = true
		}
	}
	if !graph {
		return nil
	}
	return invalidToken(ErrGraphToken, "the token was issued for Microsoft Graph, not this API (its header nonce makes it verifiable by Graph only)",
		"the client must request this API's scope, "+v.scopeAdvice+" (or "+v.appIDURI+"/.default for an app), and send that token; a Graph token cannot be validated here or exchanged on-behalf-of (AADSTS50013)")
}

// verifyError turns a jwks error into an *Error.
func (v *Validator) verifyError(err error) *Error {
	switch {
	case errors.Is(err, jwks.ErrKeysUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Reason: "the tenant's signing keys could not be loaded",
			Hint: "check the API's network access to " + v.cloud.AuthorityHost() + " and its tenant and cloud settings; retry later", err: err}
	case errors.Is(err, jwks.ErrUnknownKey):
		return invalidToken(err, trimSentinel(err), "the token was not signed by this tenant's keys in "+v.cloud.Name()+
			" (another tenant, cloud or a forged token), or the keys just rotated: get a new token and retry in a few minutes")
	case errors.Is(err, jwks.ErrAlgorithm):
		return invalidToken(err, trimSentinel(err), "only RS256 tokens issued by Entra ID are accepted")
	case errors.Is(err, jwks.ErrKeyIssuer):
		return invalidToken(err, trimSentinel(err), "the token was not issued by the authority its signing key belongs to")
	}
	return invalidToken(err, trimSentinel(err), "send an unmodified Entra ID access token for this API")
}

// trimSentinel is err's text without its "entra: " prefix.
func trimSentinel(err error) string { return strings.TrimPrefix(err.Error(), "entra: ") }
