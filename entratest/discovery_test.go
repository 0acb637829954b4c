package entratest

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestMetadataV2(t *testing.T) {
	s, d := seeded(t, nil)
	tests := []struct {
		seg, wantIssuer, wantSeg string
	}{
		{d.TenantID, s.IssuerV2(d.TenantID), d.TenantID},
		{"contoso.onmicrosoft.com", s.IssuerV2(d.TenantID), d.TenantID},
		{strings.ToUpper(d.TenantID), s.IssuerV2(d.TenantID), d.TenantID},
		{"common", "https://login.microsoftonline.com/{tenantid}/v2.0", "common"},
		{"organizations", "https://login.microsoftonline.com/{tenantid}/v2.0", "organizations"},
		{"consumers", s.IssuerV2(ConsumersTenantID), "consumers"},
	}
	for _, tt := range tests {
		t.Run(tt.seg, func(t *testing.T) {
			resp, err := s.Client().Get(s.URL + "/" + tt.seg + "/v2.0/.well-known/openid-configuration")
			if err != nil {
				t.Fatal(err)
			}
			for h, want := range map[string]string{"Cache-Control": "max-age=86400, private",
				"Access-Control-Allow-Origin": "*", "Content-Type": "application/json; charset=utf-8"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("header %s = %q, want %q", h, got, want)
				}
			}
			code, m := decode(t, resp)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			base := s.URL + "/" + tt.wantSeg
			want := map[string]any{
				"issuer":                        tt.wantIssuer,
				"token_endpoint":                base + "/oauth2/v2.0/token",
				"authorization_endpoint":        base + "/oauth2/v2.0/authorize",
				"device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
				"jwks_uri":                      base + "/discovery/v2.0/keys",
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			// MSAL derives the device endpoint by replacing every "token".
			if got := strings.ReplaceAll(m["token_endpoint"].(string), "token", "devicecode"); got != m["device_authorization_endpoint"] {
				t.Errorf("MSAL's device URL %s != advertised %v", got, m["device_authorization_endpoint"])
			}
		})
	}
}

func TestMetadataV1(t *testing.T) {
	s, d := seeded(t, nil)
	code, m := get(t, s, "/"+d.TenantID+"/.well-known/openid-configuration")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if m["issuer"] != s.IssuerV1(d.TenantID) || m["token_endpoint"] != s.Authority(d.TenantID)+"/oauth2/token" ||
		m["microsoft_multi_refresh_token"] != true || m["jwks_uri"] != s.URL+"/common/discovery/keys" {
		t.Errorf("v1 metadata = %v", m)
	}
	code, m = get(t, s, "/common/.well-known/openid-configuration")
	if code != http.StatusOK || m["issuer"] != "https://sts.windows.net/{tenantid}/" {
		t.Errorf("common v1 issuer = %v (status %d)", m["issuer"], code)
	}
}

func TestDiscoveryErrors(t *testing.T) {
	s := NewTestServer(t, nil)
	for _, p := range []string{"/nosuch/v2.0/.well-known/openid-configuration", "/nosuch/.well-known/openid-configuration",
		"/nosuch/discovery/v2.0/keys", "/" + newGUID() + "/v2.0/.well-known/openid-configuration"} {
		code, m := get(t, s, p)
		codes, _ := m["error_codes"].([]any)
		if code != http.StatusBadRequest || m["error"] != "invalid_tenant" || len(codes) != 1 || codes[0] != float64(90002) {
			t.Errorf("%s: got %d %v %v, want 400 invalid_tenant [90002]", p, code, m["error"], codes)
		}
		if !strings.HasPrefix(m["error_description"].(string), "AADSTS90002: Tenant '") {
			t.Errorf("%s: description %q", p, m["error_description"])
		}
	}
	resp, err := s.Client().PostForm(s.URL+"/common/v2.0/.well-known/openid-configuration", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	if code, m := decode(t, resp); code != http.StatusMethodNotAllowed || m["error"] != "invalid_request" {
		t.Errorf("POST metadata: got %d %v, want 405 invalid_request", code, m["error"])
	}
}

func TestJWKS(t *testing.T) {
	s, d := seeded(t, nil)
	if _, err := s.AddSigningKey(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, wantIssuer string
	}{
		{"/" + d.TenantID + "/discovery/v2.0/keys", "https://login.microsoftonline.com/{tenantid}/v2.0"},
		{"/common/discovery/v2.0/keys", "https://login.microsoftonline.com/{tenantid}/v2.0"},
		{"/consumers/discovery/v2.0/keys", s.IssuerV2(ConsumersTenantID)},
		{"/common/discovery/keys", ""},
		{"/" + d.TenantID + "/discovery/keys", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, m := get(t, s, tt.path)
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			keys, _ := m["keys"].([]any)
			if len(keys) != 2 {
				t.Fatalf("%d keys, want 2", len(keys))
			}
			for _, k := range keys {
				key := k.(map[string]any)
				x5c := key["x5c"].([]any)
				der, err := base64.StdEncoding.DecodeString(x5c[0].(string))
				if err != nil {
					t.Fatalf("x5c is not standard base64: %v", err)
				}
				if _, err := x509.ParseCertificate(der); err != nil {
					t.Fatal(err)
				}
				sum := sha1.Sum(der)
				want := base64.RawURLEncoding.EncodeToString(sum[:])
				if key["kid"] != want || key["x5t"] != want {
					t.Errorf("kid %v x5t %v, want both %s", key["kid"], key["x5t"], want)
				}
				if key["kty"] != "RSA" || key["use"] != "sig" || key["e"] != "AQAB" {
					t.Errorf("key = %v", key)
				}
				if got, _ := key["issuer"].(string); got != tt.wantIssuer {
					t.Errorf("issuer %q, want %q", got, tt.wantIssuer)
				}
			}
		})
	}
}

func TestInstanceDiscovery(t *testing.T) {
	s := NewTestServer(t, nil)
	host := strings.TrimPrefix(s.URL, "https://")
	tests := []struct {
		authz      string
		wantStatus int
		wantTDE    string
	}{
		{s.URL + "/contoso.onmicrosoft.com/oauth2/v2.0/authorize", 200, s.URL + "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"},
		{strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + "/organizations/oauth2/v2.0/authorize", 200,
			strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + "/organizations/v2.0/.well-known/openid-configuration"},
		{"https://login.microsoftonline.com/common/oauth2/v2.0/authorize", 200, "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"},
		{"https://evil.example.com/common/oauth2/v2.0/authorize", 400, ""},
		{"http://" + host + "/common/oauth2/v2.0/authorize", 400, ""},
	}
	for _, tt := range tests {
		q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {tt.authz}}
		code, m := get(t, s, "/common/discovery/instance?"+q.Encode())
		if code != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.authz, code, tt.wantStatus)
			continue
		}
		if code != 200 {
			codes, _ := m["error_codes"].([]any)
			if m["error"] != "invalid_instance" || len(codes) != 1 || codes[0] != float64(50049) {
				t.Errorf("%s: got %v %v, want invalid_instance [50049]", tt.authz, m["error"], codes)
			}
			continue
		}
		if m["tenant_discovery_endpoint"] != tt.wantTDE || m["api-version"] != "1.1" {
			t.Errorf("%s: got %v", tt.authz, m)
		}
		meta, _ := m["metadata"].([]any)
		if len(meta) < 5 {
			t.Errorf("%s: %d metadata entries, want >= 5", tt.authz, len(meta))
		}
	}
}
