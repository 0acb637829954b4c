package entratest

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// seeded starts a server with the demo directory.
func seeded(t *testing.T, opts *Options) (*Server, *Demo) {
	t.Helper()
	s := NewTestServer(t, opts)
	d, err := s.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

// post sends a form to path with the server's client and decodes the JSON answer.
func post(t *testing.T, s *Server, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().PostForm(s.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func get(t *testing.T, s *Server, path string) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status %d: body is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, m
}

// verifyWithJWKS verifies a JWT with go-jose against the key set served at
// the tenant's JWKS URL, and returns its claims.
func verifyWithJWKS(t *testing.T, s *Server, tenant, token string) (map[string]any, error) {
	t.Helper()
	resp, err := s.Client().Get(s.JWKSURL(tenant))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS does not parse with go-jose: %v", err)
	}
	sig, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, err
	}
	keys := set.Key(sig.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		return nil, errNoKey
	}
	payload, err := sig.Verify(keys[0])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims, nil
}

type testError string

func (e testError) Error() string { return string(e) }

const errNoKey = testError("no key with this kid in the JWKS")

// unverifiedClaims decodes a JWT payload without checking it (tests only).
func unverifiedClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	sig, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(sig.UnsafePayloadWithoutVerification(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestServerTLSAndClient(t *testing.T) {
	s := NewTestServer(t, nil)
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %q, want https://127.0.0.1:PORT", s.URL)
	}
	block, _ := pem.Decode(s.CACertPEM())
	if block == nil {
		t.Fatal("CACertPEM is not PEM")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CA cert: %v, IsCA=%v", err, ca != nil && ca.IsCA)
	}
	code, _ := get(t, s, "/common/v2.0/.well-known/openid-configuration")
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200", code)
	}
	// A default client must not trust the emulator.
	if _, err := http.Get(s.URL + "/common/discovery/keys"); err == nil {
		t.Fatal("default client trusted the emulator's CA")
	}
	// localhost also matches the leaf.
	u := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	resp, err := s.Client().Get(u + "/common/discovery/keys")
	if err != nil {
		t.Fatalf("localhost: %v", err)
	}
	resp.Body.Close()
	s.Close()
	s.Close() // twice is fine
}

func TestCloudIssuers(t *testing.T) {
	const tid = "11111111-2222-4333-8444-555555555555"
	tests := []struct {
		cloud          Cloud
		v1, v2, graphU string
	}{
		{"", "https://sts.windows.net/" + tid + "/", "https://login.microsoftonline.com/" + tid + "/v2.0", "https://graph.microsoft.com"},
		{CloudChina, "https://sts.chinacloudapi.cn/" + tid + "/", "https://login.partner.microsoftonline.cn/" + tid + "/v2.0", "https://microsoftgraph.chinacloudapi.cn"},
		{CloudUSGov, "https://login.microsoftonline.us/" + tid + "/", "https://login.microsoftonline.us/" + tid + "/v2.0", "https://graph.microsoft.us"},
		{CloudUSGovDoD, "https://login.microsoftonline.us/" + tid + "/", "https://login.microsoftonline.us/" + tid + "/v2.0", "https://dod-graph.microsoft.us"},
		{CloudGermany, "https://sts.microsoftonline.de/" + tid + "/", "https://login.microsoftonline.de/" + tid + "/v2.0", "https://graph.microsoft.de"},
	}
	for _, tt := range tests {
		t.Run(string(tt.cloud), func(t *testing.T) {
			s := NewTestServer(t, &Options{Cloud: tt.cloud})
			if got := s.IssuerV1(tid); got != tt.v1 {
				t.Errorf("IssuerV1 = %q, want %q", got, tt.v1)
			}
			if got := s.IssuerV2(tid); got != tt.v2 {
				t.Errorf("IssuerV2 = %q, want %q", got, tt.v2)
			}
			if got := s.GraphResource(); got != tt.graphU {
				t.Errorf("GraphURL = %q, want %q", got, tt.graphU)
			}
		})
	}
	if _, err := NewServer(&Options{Cloud: "mars"}); err == nil {
		t.Fatal("unknown cloud accepted")
	}
}

func TestDirectoryValidation(t *testing.T) {
	s, d := seeded(t, nil)
	tests := []struct {
		name string
		err  error
	}{
		{"tenant not a GUID", s.AddTenant(Tenant{ID: "contoso"})},
		{"duplicate tenant", s.AddTenant(Tenant{ID: d.TenantID})},
		{"duplicate domain", s.AddTenant(Tenant{ID: newGUID(), Domain: "CONTOSO.onmicrosoft.com"})},
		{"app in unknown tenant", s.AddApp(newGUID(), App{ClientID: newGUID()})},
		{"client ID not a GUID", s.AddApp(d.TenantID, App{ClientID: "daemon"})},
		{"duplicate app", s.AddApp(d.TenantID, App{ClientID: d.Daemon.ClientID})},
		{"bad token version", s.AddApp(d.TenantID, App{ClientID: newGUID(), AccessTokenAcceptedVersion: 3})},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: got nil error, want one", tt.name)
		} else if !strings.HasPrefix(tt.err.Error(), "entratest: ") {
			t.Errorf("%s: error %q lacks the package prefix", tt.name, tt.err)
		}
	}
	if _, err := s.AddUser(d.TenantID, User{Username: d.User.Username}); err == nil {
		t.Error("duplicate user accepted")
	}
	msa, err := s.AddUser(ConsumersTenantID, User{Username: "bob@outlook.com"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msa.ObjectID, "00000000-0000-0000-") || !isGUID(msa.ObjectID) {
		t.Errorf("MSA oid = %q, want 00000000-0000-0000-XXXX-XXXXXXXXXXXX", msa.ObjectID)
	}
	if u := s.lookupUser(s.lookupTenant("consumers"), "BOB@outlook.com"); u == nil || !u.personal {
		t.Errorf("lookupUser(consumers) = %v, want the personal account", u)
	}
	if a := s.lookupApp(s.lookupTenant(d.TenantID), "https://graph.microsoft.com/"); a == nil || a.ClientID != GraphAppID {
		t.Errorf("Graph by URL: got %v", a)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, d := seeded(t, nil)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {d.Daemon.ClientID},
		"client_secret": {d.Daemon.ClientSecret}, "scope": {d.API.AppIDURI + "/.default"}}
	const workers, calls = 6, 5
	errs := make(chan error, workers*calls+8)
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < calls; i++ {
				resp, err := s.Client().PostForm(s.Authority(d.TenantID)+"/oauth2/v2.0/token", form)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- testError("status " + resp.Status)
				}
			}
		}()
	}
	go func() {
		defer func() { done <- struct{}{} }()
		for i := 0; i < 3; i++ {
			if err := s.AddApp(d.TenantID, App{ClientID: newGUID()}); err != nil {
				errs <- err
			}
			_ = s.Requests()
			_ = s.SigningKeyIDs()
			s.InjectFault(EndpointMetadata, Fault{Status: 500})
			s.ClearFaults()
		}
		if _, err := s.AddSigningKey(); err != nil {
			errs <- err
		}
	}()
	for i := 0; i < workers+1; i++ {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.GrantCount("client_credentials"); got != workers*calls {
		t.Errorf("GrantCount = %d, want %d", got, workers*calls)
	}
}

func BenchmarkClientCredentials(b *testing.B) {
	s := NewTestServer(b, nil)
	d, err := s.SeedDemo()
	if err != nil {
		b.Fatal(err)
	}
	h := s.handler()
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {d.Daemon.ClientID},
		"client_secret": {d.Daemon.ClientSecret}, "scope": {d.API.AppIDURI + "/.default"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/"+d.TenantID+"/oauth2/v2.0/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
