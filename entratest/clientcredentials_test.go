package entratest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func ccForm(clientID, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {secret}, "scope": {scope}}
}

func TestClientCredentialsResponseShape(t *testing.T) {
	s, d := seeded(t, nil)
	resp, err := s.Client().PostForm(s.Authority(d.TenantID)+"/oauth2/v2.0/token",
		ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default openid offline_access profile"))
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store, no-cache", "Pragma": "no-cache",
		"Content-Type": "application/json; charset=utf-8"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("x-ms-ests-server") == "" {
		t.Error("x-ms-request-id or x-ms-ests-server missing")
	}
	code, body := decode(t, resp)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body["error_description"])
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["ext_expires_in"] != float64(3600) {
		t.Errorf("body = %v", body)
	}
	for _, k := range []string{"scope", "refresh_token", "id_token", "client_info", "refresh_in"} {
		if _, ok := body[k]; ok {
			t.Errorf("client credentials answer has %q", k)
		}
	}
}

func TestClientCredentialsV1Endpoint(t *testing.T) {
	s, d := seeded(t, nil)
	v1api := newGUID()
	if err := s.AddApp(d.TenantID, App{ClientID: v1api, AppIDURI: "https://api.contoso.com", AppRoles: []string{"R"}}); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {d.Daemon.ClientID},
		"client_secret": {d.Daemon.ClientSecret}, "resource": {"https://api.contoso.com"}}
	code, body := post(t, s, "/"+d.TenantID+"/oauth2/token", form)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	for _, k := range []string{"expires_in", "ext_expires_in", "expires_on", "not_before"} {
		if _, ok := body[k].(string); !ok {
			t.Errorf("%s = %#v, want a JSON string", k, body[k])
		}
	}
	if body["resource"] != "https://api.contoso.com" {
		t.Errorf("resource = %v", body["resource"])
	}
	claims, err := verifyWithJWKS(t, s, d.TenantID, body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != "https://api.contoso.com" || claims["iss"] != s.IssuerV1(d.TenantID) || claims["appid"] != d.Daemon.ClientID {
		t.Errorf("claims aud/iss/appid = %v/%v/%v", claims["aud"], claims["iss"], claims["appid"])
	}
	// The endpoint version does not pick the token version: a v2 resource gets v2 tokens.
	form.Set("resource", d.API.AppIDURI)
	code, body = post(t, s, "/"+d.TenantID+"/oauth2/token", form)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	claims, err = verifyWithJWKS(t, s, d.TenantID, body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != d.API.ClientID || claims["iss"] != s.IssuerV2(d.TenantID) || claims["ver"] != "2.0" {
		t.Errorf("v2 resource on v1 endpoint: aud/iss/ver = %v/%v/%v", claims["aud"], claims["iss"], claims["ver"])
	}
}

// TestTokenVersionByResource: the resource's accessTokenAcceptedVersion picks
// v1 or v2 (issuer, aud, client claim, x5t header), whatever endpoint is used.
func TestTokenVersionByResource(t *testing.T) {
	s, d := seeded(t, nil)
	tests := []struct {
		version             int
		scopeBy             string // "uri" or "guid"
		wantVer, wantClient string
		wantX5t             bool
	}{
		{0, "uri", "1.0", "appid", true},
		{1, "guid", "1.0", "appid", true},
		{2, "uri", "2.0", "azp", false},
		{2, "guid", "2.0", "azp", false},
	}
	for _, tt := range tests {
		id := newGUID()
		uri := "api://res-" + id[:8]
		if err := s.AddApp(d.TenantID, App{ClientID: id, AppIDURI: uri, AccessTokenAcceptedVersion: tt.version}); err != nil {
			t.Fatal(err)
		}
		ident := uri
		if tt.scopeBy == "guid" {
			ident = id
		}
		code, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, ident+"/.default"))
		if code != http.StatusOK {
			t.Fatalf("v%d: status %d: %v", tt.version, code, body["error_description"])
		}
		tok := body["access_token"].(string)
		c, err := verifyWithJWKS(t, s, d.TenantID, tok)
		if err != nil {
			t.Fatal(err)
		}
		wantIss, wantAud := s.IssuerV1(d.TenantID), ident
		if tt.wantVer == "2.0" {
			wantIss, wantAud = s.IssuerV2(d.TenantID), id
		}
		if c["ver"] != tt.wantVer || c["iss"] != wantIss || c["aud"] != wantAud || c[tt.wantClient] != d.Daemon.ClientID {
			t.Errorf("version %d by %s: ver/iss/aud = %v/%v/%v, %s = %v", tt.version, tt.scopeBy, c["ver"], c["iss"], c["aud"], tt.wantClient, c[tt.wantClient])
		}
		if _, ok := c["roles"]; ok {
			t.Errorf("version %d: roles %v without any grant", tt.version, c["roles"])
		}
		h, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		if _, has := h.Header["x5t"]; has != tt.wantX5t {
			t.Errorf("version %d: x5t header present = %v, want %v", tt.version, has, tt.wantX5t)
		}
	}
}

// TestRolesOnlyWithAdminConsent is seed pitfall 1.
func TestRolesOnlyWithAdminConsent(t *testing.T) {
	s, d := seeded(t, nil)
	tests := []struct {
		name      string
		grant     Grant
		wantRoles []string
	}{
		{"consented", Grant{Resource: d.API.ClientID, AppRoles: []string{d.API.Role}, AdminConsent: true}, []string{d.API.Role}},
		{"by App ID URI", Grant{Resource: d.API.AppIDURI, AppRoles: []string{d.API.Role}, AdminConsent: true}, []string{d.API.Role}},
		{"requested, not consented", Grant{Resource: d.API.ClientID, AppRoles: []string{d.API.Role}}, nil},
		{"role the API does not expose", Grant{Resource: d.API.ClientID, AppRoles: []string{"Other"}, AdminConsent: true}, nil},
		{"no grant", Grant{Resource: GraphAppID, AppRoles: []string{"User.Read.All"}, AdminConsent: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := newGUID()
			if err := s.AddApp(d.TenantID, App{ClientID: id, Secrets: []Secret{{Value: "s"}}, Grants: []Grant{tt.grant}}); err != nil {
				t.Fatal(err)
			}
			code, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(id, "s", d.API.AppIDURI+"/.default"))
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, body["error_description"])
			}
			c, err := verifyWithJWKS(t, s, d.TenantID, body["access_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := c["roles"].([]any)
			if len(got) != len(tt.wantRoles) || (len(got) == 1 && got[0] != tt.wantRoles[0]) {
				t.Errorf("roles = %v, want %v", c["roles"], tt.wantRoles)
			}
		})
	}
}

func TestTrailingSlashResource(t *testing.T) {
	s, d := seeded(t, nil)
	if err := s.AddApp(d.TenantID, App{ClientID: newGUID(), AppIDURI: "https://management.azure.com/"}); err != nil {
		t.Fatal(err)
	}
	code, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token",
		ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, "https://management.azure.com//.default"))
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body["error_description"])
	}
	if c := unverifiedClaims(t, body["access_token"].(string)); c["aud"] != "https://management.azure.com/" {
		t.Errorf("aud = %v, want https://management.azure.com/", c["aud"])
	}
}

func TestRefreshIn(t *testing.T) {
	tests := []struct {
		opts *Options
		want any
	}{
		{&Options{RefreshIn: 90 * time.Second}, float64(90)},
		{&Options{TokenLifetime: 24 * time.Hour}, float64(12 * 3600)},
		{&Options{TokenLifetime: time.Hour}, nil},
	}
	for _, tt := range tests {
		s, d := seeded(t, tt.opts)
		code, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default"))
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		if got := body["refresh_in"]; got != tt.want {
			t.Errorf("%+v: refresh_in = %v, want %v", *tt.opts, got, tt.want)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	s, d := seeded(t, nil)
	mint := func() string {
		code, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default"))
		if code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
		return body["access_token"].(string)
	}
	kidOf := func(tok string) string {
		h, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		return h.Header["kid"].(string)
	}
	oldKid := s.SigningKeyIDs()[0]
	oldTok := mint()
	newKid, err := s.AddSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.SigningKeyIDs(); len(got) != 2 || got[1] != newKid {
		t.Fatalf("SigningKeyIDs = %v", got)
	}
	newTok := mint()
	if kidOf(newTok) != newKid || kidOf(oldTok) != oldKid {
		t.Fatalf("kids old=%s new=%s, want %s and %s", kidOf(oldTok), kidOf(newTok), oldKid, newKid)
	}
	for _, tok := range []string{oldTok, newTok} {
		if _, err := verifyWithJWKS(t, s, d.TenantID, tok); err != nil {
			t.Fatalf("before retirement: %v", err)
		}
	}
	if err := s.RetireSigningKey(oldKid); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyWithJWKS(t, s, d.TenantID, oldTok); err == nil {
		t.Error("a token of a retired key still verifies")
	}
	if _, err := s.verifyJWT(oldTok); err == nil {
		t.Error("verifyJWT accepts a token of a retired key")
	}
	if _, err := verifyWithJWKS(t, s, d.TenantID, newTok); err != nil {
		t.Errorf("new token: %v", err)
	}
	if err := s.RetireSigningKey(newKid); err == nil {
		t.Error("retiring the last key succeeded")
	}
	if err := s.RetireSigningKey("nope"); err == nil {
		t.Error("retiring an unknown key succeeded")
	}
}

// assertion builds a client assertion with golang-jwt.
func assertion(t *testing.T, m jwt.SigningMethod, key crypto.Signer, hdr map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	out, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestClientAssertionVariants(t *testing.T) {
	s, d := seeded(t, nil)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: randSerial(), Subject: pkix.Name{CommonName: "ec"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	ecCert, _ := x509.ParseCertificate(der)
	ecApp := newGUID()
	if err := s.AddApp(d.TenantID, App{ClientID: ecApp, Certificates: []*x509.Certificate{ecCert}}); err != nil {
		t.Fatal(err)
	}
	s256 := sha256.Sum256(d.Daemon.Certificate.Raw)
	s1 := sha1.Sum(d.Daemon.Certificate.Raw)
	tokenURL := s.Authority(d.TenantID) + "/oauth2/v2.0/token"
	now := time.Now()
	good := func(client, aud string) jwt.MapClaims {
		return jwt.MapClaims{"aud": aud, "iss": client, "sub": client, "jti": newGUID(),
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	}
	with := func(c jwt.MapClaims, k string, v any) jwt.MapClaims {
		c[k] = v
		if v == nil {
			delete(c, k)
		}
		return c
	}
	dc := d.Daemon.ClientID
	tests := []struct {
		name     string
		client   string
		method   jwt.SigningMethod
		key      crypto.Signer
		hdr      map[string]any
		claims   jwt.MapClaims
		wantCode int // 0 = success
	}{
		{"PS256 x5t#S256 std padded", dc, jwt.SigningMethodPS256, d.Daemon.Key, map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(s256[:])}, good(dc, tokenURL), 0},
		{"PS256 x5t#S256 url unpadded", dc, jwt.SigningMethodPS256, d.Daemon.Key, map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(s256[:])}, good(dc, tokenURL), 0},
		{"RS256 x5t url", dc, jwt.SigningMethodRS256, d.Daemon.Key, map[string]any{"x5t": base64.RawURLEncoding.EncodeToString(s1[:])}, good(dc, tokenURL), 0},
		{"RS256 x5t std padded", dc, jwt.SigningMethodRS256, d.Daemon.Key, map[string]any{"x5t": base64.StdEncoding.EncodeToString(s1[:])}, good(dc, tokenURL), 0},
		{"no thumbprint, with iat", dc, jwt.SigningMethodRS256, d.Daemon.Key, nil, with(good(dc, tokenURL), "iat", now.Unix()), 0},
		{"domain audience", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, good(dc, s.Authority("contoso.onmicrosoft.com")+"/oauth2/v2.0/token"), 0},
		{"v1 audience", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, good(dc, s.Authority(d.TenantID)+"/oauth2/token"), 0},
		{"cloud host audience", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, good(dc, "https://login.microsoftonline.com/"+d.TenantID+"/oauth2/v2.0/token"), 0},
		{"ES256", ecApp, jwt.SigningMethodES256, ecKey, nil, good(ecApp, tokenURL), 0},
		{"within skew", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, with(good(dc, tokenURL), "exp", now.Add(-time.Minute).Unix()), 0},
		{"expired", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, with(good(dc, tokenURL), "exp", now.Add(-10*time.Minute).Unix()), 700024},
		{"no exp", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, with(good(dc, tokenURL), "exp", nil), 700024},
		{"nbf in the future", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, with(good(dc, tokenURL), "nbf", now.Add(10*time.Minute).Unix()), 700024},
		{"wrong audience", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, good(dc, "https://example.com/token"), 700027},
		{"other tenant audience", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, good(dc, s.Authority(newGUID())+"/oauth2/v2.0/token"), 700027},
		{"iss mismatch", dc, jwt.SigningMethodPS256, d.Daemon.Key, nil, with(good(dc, tokenURL), "iss", ecApp), 700021},
		{"wrong key", dc, jwt.SigningMethodES256, ecKey, nil, good(dc, tokenURL), 700027},
		{"unknown thumbprint", dc, jwt.SigningMethodPS256, d.Daemon.Key, map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(make([]byte, 32))}, good(dc, tokenURL), 700027},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tt.client},
				"client_assertion_type": {assertionType}, "client_assertion": {assertion(t, tt.method, tt.key, tt.hdr, tt.claims)},
				"scope": {d.API.AppIDURI + "/.default"}}
			code, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", form)
			if tt.wantCode == 0 {
				if code != http.StatusOK {
					t.Fatalf("status %d: %v", code, body["error_description"])
				}
				c := unverifiedClaims(t, body["access_token"].(string))
				if c["azpacr"] != "2" {
					t.Errorf("azpacr = %v, want 2", c["azpacr"])
				}
				return
			}
			codes, _ := body["error_codes"].([]any)
			if code != http.StatusUnauthorized || len(codes) != 1 || codes[0] != float64(tt.wantCode) || body["error"] != "invalid_client" {
				t.Errorf("got %d %v %v, want 401 invalid_client [%d]", code, body["error"], codes, tt.wantCode)
			}
		})
	}
}

func TestSecretBasicAndGraphByGUID(t *testing.T) {
	s, d := seeded(t, nil)
	id, secret := newGUID(), "a+b/c=d~e%f"
	if err := s.AddApp(d.TenantID, App{ClientID: id, Secrets: []Secret{{Value: "other"}, {Value: secret}},
		Grants: []Grant{{Resource: "https://graph.microsoft.com", AppRoles: []string{"User.Read.All"}, AdminConsent: true}}}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, user, pass string
		want             int
	}{
		{"form-encoded (RFC 6749)", url.QueryEscape(id), url.QueryEscape(secret), 200},
		{"raw", id, secret, 200},
		{"wrong", id, "a b/c=d~e%f", 401},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.Authority(d.TenantID)+"/oauth2/v2.0/token",
			strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {GraphAppID + "/.default"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(tt.user, tt.pass)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		code, body := decode(t, resp)
		if code != tt.want {
			t.Fatalf("%s: status %d, want %d: %v", tt.name, code, tt.want, body["error_description"])
		}
		if code != 200 {
			continue
		}
		c := unverifiedClaims(t, body["access_token"].(string))
		roles, _ := c["roles"].([]any)
		if c["aud"] != s.GraphResource() || len(roles) != 1 || roles[0] != "User.Read.All" || c["appidacr"] != "1" {
			t.Errorf("%s: aud %v roles %v appidacr %v", tt.name, c["aud"], c["roles"], c["appidacr"])
		}
	}
}
