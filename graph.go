package entra

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// GraphClient calls Microsoft Graph of the credential's cloud with the
// credential's app-only token. Its base URL and scope both come from the
// Credential's Cloud, and NewRequest only builds URLs under that base, so a
// Graph call can never go to another cloud's Graph (or anywhere else) with
// this token. Safe for concurrent use.
type GraphClient struct {
	base   string // e.g. "https://graph.microsoft.com"
	scope  string // e.g. "https://graph.microsoft.com/.default"
	client *http.Client
}

// Graph returns a GraphClient for the credential's cloud. ctx supplies
// values only, as for TokenSource. Safe for concurrent use.
func (c *Credential) Graph(ctx context.Context) *GraphClient {
	scope := c.s.cloud.GraphScope()
	return &GraphClient{base: strings.TrimRight(c.s.cloud.GraphURL(), "/"), scope: scope, client: c.Client(ctx, scope)}
}

// BaseURL returns Graph's base URL, e.g. "https://graph.microsoft.com".
func (g *GraphClient) BaseURL() string { return g.base }

// Scope returns the scope of Graph's tokens, e.g.
// "https://graph.microsoft.com/.default".
func (g *GraphClient) Scope() string { return g.scope }

// HTTPClient returns the client that sends Graph requests with the token.
func (g *GraphClient) HTTPClient() *http.Client { return g.client }

// NewRequest builds a request for path, relative to BaseURL and including
// the API version, e.g. "/v1.0/users?$top=5". Absolute URLs, "..", and
// anything else that could leave BaseURL are rejected with an *Error (Op
// "config"). ctx becomes the request's context.
func (g *GraphClient) NewRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	if g.base == "" {
		return nil, configErrorHint("build the cloud with NewCloud and set CloudConfig.GraphURL, e.g. \"https://graph.microsoft.com\"", "the credential's cloud has no Microsoft Graph URL (set CloudConfig.GraphURL)")
	}
	rel, err := url.Parse(path)
	if err != nil || rel.Scheme != "" || rel.Host != "" || rel.User != nil || strings.HasPrefix(path, "//") ||
		strings.ContainsAny(path, "\\\r\n") || rel.Fragment != "" {
		return nil, configErrorHint("pass a path below the Graph base URL, such as \"/v1.0/users\"; the host comes from the credential's cloud", "Graph path %q must be relative, such as /v1.0/users", path)
	}
	for _, seg := range strings.Split(rel.Path, "/") {
		if seg == ".." || seg == "." {
			return nil, configErrorHint("pass a clean path such as \"/v1.0/users/{id}\", without \".\" or \"..\" segments", "Graph path %q must not contain . or .. segments", path)
		}
	}
	u, err := url.Parse(g.base + "/" + strings.TrimLeft(rel.EscapedPath(), "/"))
	if err != nil {
		return nil, configErrorHint("pass a path such as \"/v1.0/users?$top=5\"; escape user-supplied segments with url.PathEscape", "Graph path %q is invalid", path)
	}
	u.RawQuery = rel.RawQuery
	if base, _ := url.Parse(g.base); base == nil || u.Host != base.Host || u.Scheme != base.Scheme {
		return nil, configErrorHint("pass a path that stays below the Graph base URL; never build it from untrusted input without url.PathEscape", "Graph path %q leaves %s", path, g.base)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, configErrorHint("use an HTTP method such as http.MethodGet or http.MethodPost", "cannot build a Graph request: invalid method %q", method)
	}
	return req, nil
}

// Do sends req with the Graph token. req must come from NewRequest.
func (g *GraphClient) Do(req *http.Request) (*http.Response, error) { return g.client.Do(req) }
