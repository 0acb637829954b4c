package jwks

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA modulus accepted in a key set.
const minRSABits = 2048

// key is one usable signing key.
type key struct {
	pub    *rsa.PublicKey
	issuer string // the JWKS key's "issuer" (may hold "{tenantid}"); "" if none
}

// keySet is one loaded key set; immutable once published.
type keySet struct {
	keys       map[string]*key // by kid
	metaIssuer string          // the metadata document's issuer ("{tenantid}" kept)
	fetchedAt  int64           // s.now() in unix nanoseconds
}

// metadata is the part of an OpenID configuration document read here.
type metadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// fetch reads the metadata document, then its jwks_uri, and returns the
// usable keys. ctx bounds both requests.
func (s *Set) fetch(ctx context.Context) (*keySet, error) {
	var md metadata
	if err := s.getJSON(ctx, s.metadataURL, &md); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	ju, err := url.Parse(md.JWKSURI)
	if err != nil || ju.Scheme != "https" || ju.Host == "" {
		return nil, fmt.Errorf("metadata %s: jwks_uri is missing or not an https URL", s.shownURL)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := s.getJSON(ctx, md.JWKSURI, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	ks := &keySet{keys: make(map[string]*key, len(doc.Keys)), metaIssuer: md.Issuer}
	for i, rk := range doc.Keys {
		kid, k, why := parseKey(rk)
		if why != "" {
			s.log.LogAttrs(ctx, slog.LevelDebug, "entra: jwks: key skipped",
				slog.Int("index", i), slog.String("kid", kid), slog.String("reason", why))
			continue
		}
		if _, dup := ks.keys[kid]; !dup {
			ks.keys[kid] = k
		}
	}
	if len(ks.keys) == 0 {
		return nil, fmt.Errorf("jwks %s: no usable RS256 signing key", cleanURL(ju))
	}
	return ks, nil
}

// parseKey turns one JWKS entry into a key, or says why it is skipped.
func parseKey(raw json.RawMessage) (kid string, k *key, why string) {
	var extra struct {
		Kid    string `json:"kid"`
		Use    string `json:"use"`
		Alg    string `json:"alg"`
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(raw, &extra); err != nil {
		return "", nil, "not a JSON object"
	}
	kid = extra.Kid
	if len(kid) > 256 {
		kid = kid[:256]
	}
	switch {
	case extra.Kid == "":
		return kid, nil, "no kid"
	case extra.Use != "" && extra.Use != "sig":
		return kid, nil, "use is not sig"
	case extra.Alg != "" && extra.Alg != "RS256":
		return kid, nil, "alg is not RS256"
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return kid, nil, "unreadable key"
	}
	pub, ok := jwk.Key.(*rsa.PublicKey)
	if !ok || !jwk.IsPublic() {
		return kid, nil, "not an RSA public key"
	}
	if pub.N.BitLen() < minRSABits {
		return kid, nil, "RSA key shorter than 2048 bits"
	}
	return kid, &key{pub: pub, issuer: extra.Issuer}, ""
}

// getJSON GETs u and decodes a JSON object from a 200 answer.
func (s *Set) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("bad URL")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", cleanURLString(u), err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", cleanURLString(u), resp.StatusCode)
	}
	if len(body) > maxBody {
		return fmt.Errorf("GET %s: body larger than %d bytes", cleanURLString(u), maxBody)
	}
	if !isObject(body) || json.Unmarshal(body, v) != nil {
		return fmt.Errorf("GET %s: body is not the expected JSON object", cleanURLString(u))
	}
	return nil
}

// cleanURL drops user info, query and fragment, for logs and errors.
func cleanURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	out := c.String()
	if len(out) > 200 {
		out = out[:200]
	}
	return strings.ToValidUTF8(out, "?")
}

func cleanURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return cleanURL(u)
}
