package entra

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// Client returns an *http.Client that sends requests with a token for
// scopes, through a Transport that attaches it only to https requests for
// the scope's resource host (or, for a resource that is not an https URL
// such as api://..., to Options.AllowedHosts) and answers a claims
// challenge at most once per request, with at most one token request per
// challenge however many requests receive it.
//
// Each request's context bounds the wait for a token and supplies its
// values; ctx here supplies values only for fetches made without a
// request. Options.HTTPClient's Transport, Timeout, CheckRedirect and Jar
// apply to the requests. Invalid scopes or a missing AllowedHosts make
// every request fail with an *Error. Safe for concurrent use.
func (c *Credential) Client(ctx context.Context, scopes ...string) *http.Client {
	set, err := appScopes(c.s.cloud, scopes)
	return newClient(c.s, c.cache, ctx, set, err)
}

// newClient returns the *http.Client of Credential.Client and
// UserCredential.Client for set's entry in c (or one whose requests fail
// with err).
func newClient(s settings, c *cache, ctx context.Context, set scopeSet, err error) *http.Client {
	src := newSource(c, ctx, set, err)
	t := &Transport{Source: src, Base: s.transport(), logger: s.logger, cloud: s.cloud}
	if err == nil {
		t.token = src.tokenCtx
		t.challenge = func(ctx context.Context, sent *oauth2.Token, claims string) (*oauth2.Token, error) {
			return liveEntry(c, src, set).claimsToken(ctx, sent, claims)
		}
	}
	switch host := resourceHostIn(s.cloud, set.resource); {
	case err != nil:
		t.err = err
	case host != "":
		t.AllowedHosts = []string{host}
	case len(s.allowedHosts) > 0:
		t.AllowedHosts = s.allowedHosts
	default:
		t.err = configErrorHint("set Options.AllowedHosts to the hosts of your API, e.g. []string{\"api.example.com\"} (or \"api.example.com:8443\")", "resource %q is not an https URL, so entra cannot tell which host may receive its token: set Options.AllowedHosts", set.resource)
	}
	hc := &http.Client{Transport: t}
	if base := s.httpClient; base != nil {
		hc.Timeout, hc.CheckRedirect, hc.Jar = base.Timeout, base.CheckRedirect, base.Jar
	}
	return hc
}

// liveEntry returns the entry src stands for now (after an eviction, the
// live one).
func liveEntry(c *cache, src *tokenSource, set scopeSet) *entry {
	if e := c.live(src.entry()); e != nil {
		return e
	}
	return c.entry(set)
}

// resourceHost returns the host that may receive tokens for resource in
// the credential's cloud; see resourceHostIn.
func (c *Credential) resourceHost(resource string) string { return resourceHostIn(c.s.cloud, resource) }

// resourceHostIn returns the host that may receive tokens for resource: the
// host of an https resource, with the cloud's aliases resolved (Graph's
// audience and application ID are served at the cloud's GraphURL; ARM's
// audience by the ARM endpoint), or "" when the resource names no host.
func resourceHostIn(cloud Cloud, resource string) string {
	switch {
	case cloud.GraphURL() != "" && sameResource(resource, cloud.GraphAudience(), cloud):
		return resourceHost(cloud.GraphURL())
	case cloud.ARMScope() != "" && sameResource(resource, strings.TrimSuffix(cloud.ARMScope(), defaultSuffix), cloud):
		return resourceHost(cloud.ARMEndpoint())
	}
	return resourceHost(resource)
}

// trustedHosts lists the hosts the credential's HTTP client may talk to:
// the authority host, the cloud's aliases and, with instance discovery on,
// the host MSAL asks for discovery. The client secret or assertion can
// reach no other host, whatever a metadata document says.
func trustedHosts(s settings) []string {
	hosts := append([]string{resourceHost(s.cloud.AuthorityHost())}, s.cloud.Aliases()...)
	if !s.disableInstanceDiscovery {
		hosts = append(hosts, "login.microsoftonline.com")
	}
	return hosts
}

// logWithheld logs at Debug that a request got no token because of its
// host; only the scheme and host are logged.
func logWithheld(l *slog.Logger, req *http.Request, allowed []string) {
	if l == nil || !l.Enabled(req.Context(), slog.LevelDebug) {
		return
	}
	l.LogAttrs(req.Context(), slog.LevelDebug, "entra: token withheld: the request's host may not receive it",
		slog.String("scheme", req.URL.Scheme), slog.String("host", req.URL.Host), slog.Any("allowed_hosts", allowed))
}
