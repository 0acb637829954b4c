package bearer_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/bearer"
	"github.com/entrakit/entra/entratest"
	"github.com/golang-jwt/jwt/v5"
)

// Identifiers of the fake provider's API.
const (
	tenantA  = "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b"
	tenantB  = "0b0b0b0b-1c2d-4e3f-9a8b-0c1d2e3f4a5b"
	apiID    = "1b2c3d4e-0002-4000-8000-00000000a001"
	clientID = "1b2c3d4e-0003-4000-8000-00000000c001"
)

var (
	keyOnce sync.Once
	keyA    *rsa.PrivateKey
	keyB    *rsa.PrivateKey
)

func keys() (*rsa.PrivateKey, *rsa.PrivateKey) {
	keyOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

// fakeEntra serves Entra-shaped metadata and a key set holding keyA as
// kid "a" (issuer template of the public cloud), so tests can sign any claims.
type fakeEntra struct {
	srv       *httptest.Server
	jwksCount atomic.Int64
	mu        sync.Mutex
	kids      []string // published kids, all for keyA
}

func newFakeEntra(t testing.TB) *fakeEntra {
	f := &fakeEntra{kids: []string{"a"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		tid := r.PathValue("tenant")
		if tid == "organizations" || tid == "common" {
			tid = "{tenantid}"
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer":   "https://login.microsoftonline.com/" + tid + "/v2.0",
			"jwks_uri": f.srv.URL + "/" + r.PathValue("tenant") + "/discovery/v2.0/keys",
		})
	})
	mux.HandleFunc("/{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, r *http.Request) {
		f.jwksCount.Add(1)
		a, _ := keys()
		f.mu.Lock()
		kids := append([]string(nil), f.kids...)
		f.mu.Unlock()
		var out []map[string]any
		for _, kid := range kids {
			out = append(out, map[string]any{"kty": "RSA", "use": "sig", "kid": kid,
				"n":      base64.RawURLEncoding.EncodeToString(a.N.Bytes()),
				"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(a.E)).Bytes()),
				"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": out})
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEntra) cloud(t testing.TB) entra.Cloud {
	c, err := entra.Public.WithAuthorityHost(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// validator returns a Validator for apiID in tenant over f.
func (f *fakeEntra) validator(t testing.TB, tenant string, o *bearer.Options) *bearer.Validator {
	t.Helper()
	if o == nil {
		o = &bearer.Options{}
	}
	o.Cloud, o.HTTPClient = f.cloud(t), f.srv.Client()
	v, err := bearer.New(tenant, apiID, o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// v2Claims are valid claims of a delegated v2 token for apiID in tenantA.
func v2Claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": apiID, "iss": "https://login.microsoftonline.com/" + tenantA + "/v2.0", "ver": "2.0",
		"tid": tenantA, "azp": clientID, "oid": "1b2c3d4e-0005-4000-8000-0000000000e1", "sub": "s",
		"scp": "access_as_user", "name": "Alice", "preferred_username": "alice@contoso.example",
		"iat": now.Add(-5 * time.Minute).Unix(), "nbf": now.Add(-5 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// v1Claims are valid claims of an app-only v1 token for api://apiID.
func v1Claims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": "api://" + apiID, "iss": "https://sts.windows.net/" + tenantA + "/", "ver": "1.0",
		"tid": tenantA, "appid": clientID, "oid": "o", "sub": "o", "roles": []string{"Data.Read.All"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// signWith signs c with key and kid (RS256).
func signWith(t testing.TB, key *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signA(t testing.TB, c jwt.MapClaims) string {
	a, _ := keys()
	return signWith(t, a, "a", c)
}

// emulator starts an emulator with the demo directory.
func emulator(t testing.TB, o *entratest.Options) (*entratest.Server, *entratest.Demo, entra.Cloud) {
	t.Helper()
	srv := entratest.NewTestServer(t, o)
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	c, err := entra.Public.WithAuthorityHost(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, demo, c
}

// appToken gets an app-only token through entra's own credential.
func appToken(t testing.TB, srv *entratest.Server, demo *entratest.Demo, cloud entra.Cloud, scope string) string {
	t.Helper()
	cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret,
		&entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.Token(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// userToken gets a delegated token for the demo user through the device
// code grant (the server must auto-approve the demo user).
func userToken(t testing.TB, srv *entratest.Server, demo *entratest.Demo, scope string) string {
	t.Helper()
	post := func(path string, form url.Values, v any) {
		resp, err := srv.Client().PostForm(srv.URL+"/"+demo.TenantID+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var dc struct {
		DeviceCode string `json:"device_code"`
	}
	post("/oauth2/v2.0/devicecode", url.Values{"client_id": {demo.PublicClient.ClientID}, "scope": {scope}}, &dc)
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	post("/oauth2/v2.0/token", url.Values{"client_id": {demo.PublicClient.ClientID}, "device_code": {dc.DeviceCode},
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, &tok)
	if tok.AccessToken == "" {
		t.Fatalf("device code token: %s", tok.Error)
	}
	return tok.AccessToken
}

func cloudByName(n string) (entra.Cloud, error) { return entra.CloudByName(n) }

// secretToken gets an app-only token for any client of the emulator.
func secretToken(t testing.TB, srv *entratest.Server, tenant string, cloud entra.Cloud, client, secret, scope string) string {
	t.Helper()
	cred, err := entra.NewClientSecretCredential(tenant, client, secret,
		&entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.Token(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// atomicTime is a settable clock.
type atomicTime struct{ ns atomic.Int64 }

func (a *atomicTime) set(t time.Time) { a.ns.Store(t.UnixNano()) }
func (a *atomicTime) now() time.Time  { return time.Unix(0, a.ns.Load()) }

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
