package entratest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzTokenForm: no body sent to /token makes the server fail (5xx) or
// answer anything but OAuth JSON.
func FuzzTokenForm(f *testing.F) {
	s := NewTestServer(f, nil)
	d, err := s.SeedDemo()
	if err != nil {
		f.Fatal(err)
	}
	h := s.handler()
	f.Add(ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default openid").Encode(), false)
	f.Add(url.Values{"grant_type": {"client_credentials"}, "client_id": {d.Daemon.ClientID},
		"client_assertion_type": {assertionType}, "client_assertion": {"a.b.c"}, "scope": {"x/.default"}}.Encode(), false)
	f.Add("grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=e30.e30.&scope=User.Read", false)
	f.Add("grant_type=refresh_token&refresh_token=x&client_id="+d.PublicClient.ClientID+"&scope=openid", false)
	f.Add("grant_type=device_code&device_code=x&client_id="+d.PublicClient.ClientID, false)
	f.Add("grant_type=authorization_code&code=x&client_id="+d.PublicClient.ClientID+"&redirect_uri=http://localhost", false)
	f.Add("resource=https%3A%2F%2Fmanagement.azure.com%2F&grant_type=client_credentials", true)
	f.Add("%zz&&==;", false)
	f.Fuzz(func(t *testing.T, body string, v1 bool) {
		path := "/" + d.TenantID + "/oauth2/v2.0/token"
		if v1 {
			path = "/" + d.TenantID + "/oauth2/token"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("not JSON for %q: %s", body, rec.Body)
		}
		if rec.Code == http.StatusOK {
			if _, ok := m["access_token"].(string); !ok {
				t.Fatalf("200 without access_token: %v", m)
			}
			return
		}
		desc, _ := m["error_description"].(string)
		if e, _ := m["error"].(string); e == "" || !descRE.MatchString(desc) {
			t.Fatalf("status %d, not an Entra error: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzClientAssertion: parsing arbitrary assertions never panics and gives
// either success or one of the documented client-authentication errors.
func FuzzClientAssertion(f *testing.F) {
	s := NewTestServer(f, nil)
	d, err := s.SeedDemo()
	if err != nil {
		f.Fatal(err)
	}
	ten := s.lookupTenant(d.TenantID)
	daemon := s.lookupApp(ten, d.Daemon.ClientID)
	sum := sha256.Sum256(d.Daemon.Certificate.Raw)
	tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
		"aud": s.Authority(d.TenantID) + "/oauth2/v2.0/token", "iss": d.Daemon.ClientID, "sub": d.Daemon.ClientID,
		"nbf": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	valid, err := tok.SignedString(d.Daemon.Key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("")
	f.Add("...")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
	f.Add(valid[:len(valid)-4] + "AAAA")
	allowed := map[int]bool{50027: true, 700027: true, 700024: true, 700021: true}
	f.Fuzz(func(t *testing.T, a string) {
		req := &tokenRequest{r: httptest.NewRequest(http.MethodPost, "/", nil), form: url.Values{}, tenant: ten, tenantPath: d.TenantID}
		e := s.checkAssertion(req, daemon, a)
		if e == nil {
			if a != valid {
				// A different string can only pass if it is the same JWT (e.g. padding variants).
				if strings.Split(a, ".")[2] == "" {
					t.Fatalf("unsigned assertion accepted: %q", a)
				}
			}
			return
		}
		if !allowed[e.code] || e.status >= 500 {
			t.Fatalf("assertion %q gave %d AADSTS%d", a, e.status, e.code)
		}
	})
}
