package entratest

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestInteropMSALConfidential(t *testing.T) {
	s, d := seeded(t, nil)
	secretCred, err := confidential.NewCredFromSecret(d.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	certCred, err := confidential.NewCredFromCert([]*x509.Certificate{d.Daemon.Certificate}, d.Daemon.Key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		authority string
		cred      confidential.Credential
		opts      []confidential.Option
		wantACR   string
	}{
		{"secret", s.Authority(d.TenantID), secretCred, nil, "1"},
		{"certificate", s.Authority(d.TenantID), certCred, nil, "2"},
		{"certificate x5c by domain", s.Authority("contoso.onmicrosoft.com"), certCred,
			[]confidential.Option{confidential.WithX5C()}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]confidential.Option{confidential.WithInstanceDiscovery(false),
				confidential.WithHTTPClient(s.Client())}, tt.opts...)
			app, err := confidential.New(tt.authority, d.Daemon.ClientID, tt.cred, opts...)
			if err != nil {
				t.Fatal(err)
			}
			res, err := app.AcquireTokenByCredential(context.Background(), []string{d.API.AppIDURI + "/.default"})
			if err != nil {
				t.Fatalf("AcquireTokenByCredential: %v", err)
			}
			claims, err := verifyWithJWKS(t, s, d.TenantID, res.AccessToken)
			if err != nil {
				t.Fatalf("token does not verify against the JWKS: %v", err)
			}
			checks := map[string]any{
				"aud": d.API.ClientID, "iss": s.IssuerV2(d.TenantID), "ver": "2.0", "azp": d.Daemon.ClientID,
				"azpacr": tt.wantACR, "tid": d.TenantID, "idtyp": nil, // not an optional claim of the demo API
			}
			for k, want := range checks {
				if got := claims[k]; got != want {
					t.Errorf("claim %s = %v, want %v", k, got, want)
				}
			}
			roles, _ := claims["roles"].([]any)
			if len(roles) != 1 || roles[0] != d.API.Role {
				t.Errorf("roles = %v, want [%s]", claims["roles"], d.API.Role)
			}
			if _, ok := claims["scp"]; ok {
				t.Errorf("app-only token has scp %v", claims["scp"])
			}
			// A second call is served from MSAL's cache.
			before := s.GrantCount("client_credentials")
			if _, err := app.AcquireTokenByCredential(context.Background(), []string{d.API.AppIDURI + "/.default"}); err != nil {
				t.Fatal(err)
			}
			if got := s.GrantCount("client_credentials"); got != before {
				t.Errorf("second call hit the token endpoint: count %d -> %d", before, got)
			}
		})
	}
}

func TestInteropMSALCommonFailsAndGraph(t *testing.T) {
	s, d := seeded(t, nil)
	cred, err := confidential.NewCredFromSecret(d.Daemon.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	app, err := confidential.New(s.Authority(d.TenantID), d.Daemon.ClientID, cred,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := app.AcquireTokenByCredential(context.Background(), []string{"https://graph.microsoft.com/.default"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyWithJWKS(t, s, d.TenantID, res.AccessToken); err == nil {
		t.Fatal("Graph token verified with standard JWT verification; real Graph tokens do not")
	}
	c := unverifiedClaims(t, res.AccessToken)
	if c["aud"] != "https://graph.microsoft.com" || c["ver"] != "1.0" || c["iss"] != s.IssuerV1(d.TenantID) {
		t.Errorf("Graph token aud/ver/iss = %v/%v/%v", c["aud"], c["ver"], c["iss"])
	}
	if got, want := fmt.Sprint(c["roles"]), "[User.Read.All Application.Read.All]"; got != want {
		t.Errorf("Graph token roles = %s, want the seed's admin-consented %s", got, want)
	}
	if _, err := s.verifyJWT(res.AccessToken); err == nil {
		t.Error("verifyJWT accepted a Graph token")
	}
	// A wrong secret surfaces as an MSAL error carrying AADSTS7000215, not the secret.
	bad, _ := confidential.NewCredFromSecret("wrong-secret-canary")
	app2, _ := confidential.New(s.Authority(d.TenantID), d.Daemon.ClientID, bad,
		confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(s.Client()))
	_, err = app2.AcquireTokenByCredential(context.Background(), []string{d.API.AppIDURI + "/.default"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("got %v, want an AADSTS7000215 error", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-canary") {
		t.Fatal("the error echoes the secret")
	}
}

func TestInteropXOAuth2ClientCredentials(t *testing.T) {
	s, d := seeded(t, nil)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.Client())
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
		cfg := clientcredentials.Config{
			ClientID:     d.Daemon.ClientID,
			ClientSecret: d.Daemon.ClientSecret,
			TokenURL:     s.Authority(d.TenantID) + "/oauth2/v2.0/token",
			Scopes:       []string{d.API.AppIDURI + "/.default"},
			AuthStyle:    style,
		}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		claims, err := verifyWithJWKS(t, s, d.TenantID, tok.AccessToken)
		if err != nil {
			t.Fatalf("style %d: verify: %v", style, err)
		}
		if claims["azp"] != d.Daemon.ClientID || claims["azpacr"] != "1" {
			t.Errorf("style %d: azp/azpacr = %v/%v", style, claims["azp"], claims["azpacr"])
		}
		if tok.Expiry.IsZero() || tok.TokenType != "Bearer" {
			t.Errorf("style %d: expiry %v type %q", style, tok.Expiry, tok.TokenType)
		}
	}
}

// ExampleNewServer gets an app-only token from the emulator with
// golang.org/x/oauth2 and prints some of its claims.
func ExampleNewServer() {
	s, err := NewServer(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	demo, err := s.SeedDemo()
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := clientcredentials.Config{
		ClientID:     demo.Daemon.ClientID,
		ClientSecret: demo.Daemon.ClientSecret,
		TokenURL:     s.Authority(demo.TenantID) + "/oauth2/v2.0/token",
		Scopes:       []string{demo.API.AppIDURI + "/.default"},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.Client())
	tok, err := cfg.Token(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	var claims struct {
		Aud   string   `json:"aud"`
		Ver   string   `json:"ver"`
		Roles []string `json:"roles"`
	}
	_ = json.Unmarshal(payload, &claims)
	fmt.Println(tok.TokenType, claims.Aud == demo.API.ClientID, claims.Ver, claims.Roles)
	// Output: Bearer true 2.0 [Data.Read.All]
}

// TestInteropMSALClouds: MSAL accepts each cloud's metadata issuer, and the
// Graph token's audience and issuer follow the cloud.
func TestInteropMSALClouds(t *testing.T) {
	for _, c := range []Cloud{CloudPublic, CloudChina, CloudUSGov, CloudUSGovDoD, CloudGermany} {
		t.Run(string(c), func(t *testing.T) {
			s, d := seeded(t, &Options{Cloud: c})
			cred, err := confidential.NewCredFromSecret(d.Daemon.ClientSecret)
			if err != nil {
				t.Fatal(err)
			}
			app, err := confidential.New(s.Authority(d.TenantID), d.Daemon.ClientID, cred,
				confidential.WithInstanceDiscovery(false), confidential.WithHTTPClient(s.Client()))
			if err != nil {
				t.Fatal(err)
			}
			res, err := app.AcquireTokenByCredential(context.Background(), []string{s.GraphResource() + "/.default"})
			if err != nil {
				t.Fatalf("AcquireTokenByCredential: %v", err)
			}
			claims := unverifiedClaims(t, res.AccessToken)
			if claims["aud"] != s.GraphResource() || claims["iss"] != s.IssuerV1(d.TenantID) {
				t.Errorf("aud %v iss %v, want %s and %s", claims["aud"], claims["iss"], s.GraphResource(), s.IssuerV1(d.TenantID))
			}
			res, err = app.AcquireTokenByCredential(context.Background(), []string{d.API.AppIDURI + "/.default"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifyWithJWKS(t, s, d.TenantID, res.AccessToken); err != nil {
				t.Errorf("API token: %v", err)
			}
		})
	}
}
