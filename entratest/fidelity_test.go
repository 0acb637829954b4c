package entratest

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	scopesAPIID    = "5c0be000-0001-4000-8000-0000000000a1"
	scopesClientID = "5c0be000-0002-4000-8000-0000000000c1"
)

// scopesEnv adds an API exposing Read, Write and Admin, and a public client
// consented (in lower case) to read and Write.
func scopesEnv(t *testing.T) *ufEnv {
	t.Helper()
	e := ufNew(t, nil)
	apps := []App{
		{ClientID: scopesAPIID, DisplayName: "scopes-api", AppIDURI: "api://scopes-api",
			Scopes: []string{"Read", "Write", "Admin"}, AccessTokenAcceptedVersion: 2},
		{ClientID: scopesClientID, DisplayName: "scopes-client", PublicClient: true, RedirectURIs: []string{"http://localhost"},
			Grants: []Grant{{Resource: "api://scopes-api", DelegatedScopes: []string{"read", "Write"}}}},
	}
	for _, a := range apps {
		if err := e.s.AddApp(e.tid, a); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestUserResponseScopeIsEntras(t *testing.T) {
	e := scopesEnv(t)
	tests := []struct {
		name, scope, want string
	}{
		{"offline_access dropped, earlier consent included", "api://scopes-api/Read openid profile offline_access",
			"openid profile api://scopes-api/Read api://scopes-api/Write"},
		{".default expands to the consented scopes", "api://scopes-api/.default offline_access",
			"api://scopes-api/Read api://scopes-api/Write api://scopes-api/.default"},
		{"case normalized", "API://SCOPES-API/read OPENID",
			"openid api://scopes-api/Read api://scopes-api/Write"},
		{"by client ID", scopesAPIID + "/Write",
			scopesAPIID + "/Read " + scopesAPIID + "/Write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := e.authQuery(tt.scope)
			q.Set("client_id", scopesClientID)
			code := e.code(t, e.tid, q)
			f := e.redeemForm(code, "", tt.scope)
			f.Set("client_id", scopesClientID)
			status, body := e.token(t, e.tid, f)
			if status != http.StatusOK {
				t.Fatalf("token: %d %v", status, body["error_description"])
			}
			if got := body["scope"]; got != tt.want {
				t.Errorf("scope = %q, want %q", got, tt.want)
			}
			if got := ufClaims(t, body["access_token"])["scp"]; got != "Read Write" {
				t.Errorf("scp = %v, want every consented scope \"Read Write\"", got)
			}
		})
	}
	t.Run("unconsented scope still refused", func(t *testing.T) {
		q := e.authQuery("api://scopes-api/Admin")
		q.Set("client_id", scopesClientID)
		v := e.redirectParams(t, e.tid, q)
		if v.Get("error") == "" {
			t.Fatalf("authorize for an unconsented scope: %v, want an error", v)
		}
	})
}

func TestIDTypOnlyAsOptionalClaim(t *testing.T) {
	s, d := seeded(t, nil)
	const withID = "1d7e0000-0001-4000-8000-0000000000a1"
	if err := s.AddApp(d.TenantID, App{ClientID: withID, AppIDURI: "api://with-idtyp", AppRoles: []string{"R"},
		AccessTokenAcceptedVersion: 2, OptionalClaims: []string{"idtyp"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, scope string
		want        any
	}{
		{"v2 API without the optional claim", d.API.AppIDURI + "/.default", nil},
		{"v2 API requesting idtyp", "api://with-idtyp/.default", "app"},
		{"Graph (requests idtyp)", s.GraphResource() + "/.default", "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := appToken(t, s, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, tt.scope)
			if got := unverifiedClaims(t, tok)["idtyp"]; got != tt.want {
				t.Errorf("idtyp = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUserTokenLifetimes(t *testing.T) {
	tests := []struct {
		name     string
		opts     *Options
		min, max float64
		varies   bool
	}{
		{"Entra's default: 60 to 90 minutes", nil, 3600, 5400, true},
		{"fixed by the test", &Options{TokenLifetime: 2 * time.Hour}, 7200, 7200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ufNew(t, tt.opts)
			rt := e.signInRT(t)
			seen := map[float64]bool{}
			for range 12 {
				status, body := e.token(t, e.tid, e.refreshForm(rt, e.demo.API.Scope))
				if status != http.StatusOK {
					t.Fatalf("refresh: %d %v", status, body["error_description"])
				}
				exp := body["expires_in"].(float64)
				if exp < tt.min || exp > tt.max {
					t.Fatalf("expires_in %v, want within [%v, %v]", exp, tt.min, tt.max)
				}
				c := ufClaims(t, body["access_token"])
				if got := c["exp"].(float64) - c["iat"].(float64); got != exp+300 {
					t.Fatalf("exp - iat = %v, want expires_in + 300 s of backdating", got)
				}
				seen[exp] = true
			}
			if tt.varies != (len(seen) > 1) {
				t.Errorf("%d distinct lifetimes in 12 tokens; varies = %v", len(seen), tt.varies)
			}
		})
	}
	t.Run("app-only tokens live an hour", func(t *testing.T) {
		s, d := seeded(t, nil)
		status, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default"))
		if status != http.StatusOK || body["expires_in"] != float64(3600) {
			t.Fatalf("got %d expires_in %v, want 3600", status, body["expires_in"])
		}
	})
}

func TestUnspecifiedAddressGivesReachableURL(t *testing.T) {
	tests := []struct{ addr string }{{"0.0.0.0:0"}, {"[::]:0"}}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if strings.HasPrefix(tt.addr, "[") {
				if ln, err := net.Listen("tcp", tt.addr); err != nil {
					t.Skipf("no IPv6: %v", err)
				} else {
					ln.Close()
				}
			}
			s := NewTestServer(t, &Options{Addr: tt.addr})
			if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
				t.Fatalf("URL = %q, want https://127.0.0.1:PORT", s.URL)
			}
			if status, _ := get(t, s, "/common/v2.0/.well-known/openid-configuration"); status != http.StatusOK {
				t.Fatalf("metadata: %d", status)
			}
		})
	}
}

func TestClaimsRequestParsing(t *testing.T) {
	tests := []struct {
		name, raw string
		caps      string
		nbf       int64
	}{
		{"MSAL capabilities", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`, "cp1", 0},
		{"merged with a CAE challenge", `{"access_token":{"nbf":{"essential":true,"value":"1604106651"},"xms_cc":{"values":["cp1","cp2","cp1"]}}}`, "cp1 cp2", 1604106651},
		{"numeric nbf", `{"access_token":{"nbf":{"value":1604106651}}}`, "", 1604106651},
		{"not JSON", `{"access_token":`, "", 0},
		{"wrong types", `{"access_token":{"xms_cc":{"values":"cp1"},"nbf":{"value":true}}}`, "", 0},
		{"id_token only", `{"id_token":{"xms_cc":{"values":["cp1"]}}}`, "", 0},
		{"negative nbf", `{"access_token":{"nbf":{"value":"-5"}}}`, "", 0},
		{"oversized", `{"access_token":{"xms_cc":{"values":["` + strings.Repeat("x", maxClaimsRequest) + `"]}}}`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseClaimsRequest(tt.raw)
			if strings.Join(got.capabilities, " ") != tt.caps || got.nbf != tt.nbf {
				t.Errorf("got caps %v nbf %d, want %q %d", got.capabilities, got.nbf, tt.caps, tt.nbf)
			}
		})
	}
}

func TestClaimsChallengeHeader(t *testing.T) {
	got := ClaimsChallenge(`{"access_token":{"nbf":{"essential":true,"value":"1"}}}`)
	want := `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxIn19fQ=="`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}
