package jwks_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// provider is a fake OpenID provider whose key set a test controls.
type provider struct {
	srv       *httptest.Server
	metaCount atomic.Int64
	jwksCount atomic.Int64

	mu      sync.Mutex
	keys    []testKey
	status  int           // answer status for the key set; 0 = 200
	gate    chan struct{} // when non-nil, key-set answers wait for it to close
	issuer  string        // metadata issuer
	rawJWKS []byte        // when non-nil, served instead of the keys
}

type testKey struct {
	kid    string
	priv   *rsa.PrivateKey
	issuer string
}

var (
	keyOnce sync.Once
	keyPool []*rsa.PrivateKey
)

// rsaKey returns one of a few pre-generated 2048-bit keys.
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	keyOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyPool = append(keyPool, k)
		}
	})
	return keyPool[i%len(keyPool)]
}

const testIssuerTemplate = "https://login.microsoftonline.com/{tenantid}/v2.0"

func newProvider(t testing.TB) *provider {
	p := &provider{issuer: testIssuerTemplate}
	p.keys = []testKey{{kid: "k1", priv: rsaKey(t, 0), issuer: testIssuerTemplate}}
	mux := http.NewServeMux()
	mux.HandleFunc("/tenant/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.metaCount.Add(1)
		p.mu.Lock()
		iss := p.issuer
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": p.srv.URL + "/tenant/discovery/v2.0/keys"})
	})
	mux.HandleFunc("/tenant/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		p.jwksCount.Add(1)
		p.mu.Lock()
		gate, status, raw := p.gate, p.status, p.rawJWKS
		keys := append([]testKey(nil), p.keys...)
		p.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if raw != nil {
			_, _ = w.Write(raw)
			return
		}
		out := []map[string]any{}
		for _, k := range keys {
			m := map[string]any{
				"kty": "RSA", "use": "sig", "kid": k.kid,
				"n": base64.RawURLEncoding.EncodeToString(k.priv.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.priv.E)).Bytes()),
			}
			if k.issuer != "" {
				m["issuer"] = k.issuer
			}
			out = append(out, m)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": out})
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) metadataURL() string {
	return p.srv.URL + "/tenant/v2.0/.well-known/openid-configuration"
}

func (p *provider) set(f func(p *provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

const testTID = "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b"

// claims returns valid v2 claims for testTID.
func claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": "https://login.microsoftonline.com/" + testTID + "/v2.0",
		"tid": testTID, "aud": "api", "ver": "2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// sign makes an RS256 token with kid.
func sign(t testing.TB, priv *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func newTLSServer(t testing.TB, h http.Handler) *httptest.Server {
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	return s
}
