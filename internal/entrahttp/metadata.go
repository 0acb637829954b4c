package entrahttp

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// metadataTTL is how long an authority's metadata answer is reused.
const metadataTTL = time.Hour

// maxMetadata bounds the metadata answers kept per Client.
const maxMetadata = 64

// metadataCache keeps the authority's metadata answers (OpenID
// configuration, instance discovery) for metadataTTL. MSAL Go asks for
// them once per MSAL client; entra builds an MSAL client per user account
// call, so without this every refresh would cost two metadata requests.
// Safe for concurrent use.
type metadataCache struct {
	mu sync.Mutex
	m  map[string]metadataAnswer
}

type metadataAnswer struct {
	at     time.Time
	header http.Header
	body   []byte
}

// isMetadataRequest reports whether r asks for an authority's metadata.
func isMetadataRequest(r *http.Request) bool {
	return r.Method == http.MethodGet && (strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") ||
		strings.HasSuffix(r.URL.Path, "/discovery/instance"))
}

// get returns the kept answer to r, if fresh.
func (c *metadataCache) get(r *http.Request, now time.Time) *http.Response {
	c.mu.Lock()
	a, ok := c.m[r.URL.String()]
	c.mu.Unlock()
	if !ok || now.Sub(a.at) >= metadataTTL || now.Before(a.at) {
		return nil
	}
	return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: a.header.Clone(), Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: int64(len(a.body)), Request: r}
}

// put keeps a 200 answer to r.
func (c *metadataCache) put(r *http.Request, resp *http.Response, body []byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]metadataAnswer{}
	}
	if len(c.m) >= maxMetadata {
		for k, a := range c.m { // drop stale answers, else one at random
			if now.Sub(a.at) >= metadataTTL {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < maxMetadata {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[r.URL.String()] = metadataAnswer{at: now, header: resp.Header.Clone(), body: bytes.Clone(body)}
}
