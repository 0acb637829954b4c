package entra_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

// graphEmulator starts an emulator of cloud c with the demo directory and
// returns a Cloud whose authority and Microsoft Graph are the emulator's.
func graphEmulator(t *testing.T, c entratest.Cloud) (*entratest.Server, *entratest.Demo, entra.Cloud) {
	t.Helper()
	srv := entratest.NewTestServer(t, &entratest.Options{Cloud: c})
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	preset, err := entra.CloudByName(string(c))
	if err != nil {
		t.Fatal(err)
	}
	// The emulator impersonates the cloud: tokens from its authority, Graph
	// calls to its Graph, token audience still the cloud's Graph.
	cloud, err := preset.WithAuthorityHost(srv.URL)
	if err == nil {
		cloud, err = cloud.WithGraphURL(srv.GraphURL())
	}
	if err != nil {
		t.Fatal(err)
	}
	return srv, demo, cloud
}

// graphError is Microsoft Graph's error body.
type graphError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// decodeGraphError decodes and checks Graph's error shape.
func decodeGraphError(t *testing.T, resp *http.Response) graphError {
	t.Helper()
	var e graphError
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("status %d: error body is not JSON: %v", resp.StatusCode, err)
	}
	if e.Error.Message == "" || e.Error.InnerError.Date == "" || e.Error.InnerError.RequestID == "" || e.Error.InnerError.ClientRequestID == "" {
		t.Errorf("error body %+v lacks Graph's message or innerError fields", e)
	}
	return e
}

func TestGraphEndToEnd(t *testing.T) {
	srv, demo, cloud := graphEmulator(t, entratest.CloudPublic)
	opts := &entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true}
	daemon, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The middle-tier API holds no Graph application permission.
	noRole, err := entra.NewClientSecretCredential(demo.TenantID, demo.OBOAPI.ClientID, demo.OBOAPI.ClientSecret, opts)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cred   *entra.Credential
		path   string
		status int
		code   string // Graph error code when the status is not 200
	}{
		{"users", daemon, "/v1.0/users", http.StatusOK, ""},
		{"one user", daemon, "/v1.0/users/" + demo.User.Username, http.StatusOK, ""},
		{"applications", daemon, "/v1.0/applications", http.StatusOK, ""},
		{"service principals", daemon, "/v1.0/servicePrincipals", http.StatusOK, ""},
		{"unknown user", daemon, "/v1.0/users/nobody@contoso.onmicrosoft.com", http.StatusNotFound, "Request_ResourceNotFound"},
		{"me needs a user", daemon, "/v1.0/me", http.StatusBadRequest, "BadRequest"},
		{"missing role", noRole, "/v1.0/users", http.StatusForbidden, "Authorization_RequestDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			g := tt.cred.Graph(ctx)
			if got, want := g.BaseURL(), srv.GraphURL(); got != want {
				t.Fatalf("BaseURL = %q, want the emulator's Graph %q", got, want)
			}
			req, err := g.NewRequest(ctx, http.MethodGet, tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := g.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.code != "" {
				if got := decodeGraphError(t, resp).Error.Code; got != tt.code {
					t.Errorf("error.code %q, want %q", got, tt.code)
				}
				return
			}
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if ctxURL, _ := body["@odata.context"].(string); !strings.HasPrefix(ctxURL, srv.GraphURL()+"/v1.0/$metadata#") {
				t.Errorf("@odata.context = %q", ctxURL)
			}
		})
	}
	t.Run("the token is Graph's", func(t *testing.T) {
		tok, err := daemon.Token(context.Background(), cloud.GraphScope())
		if err != nil {
			t.Fatal(err)
		}
		c := claimsOf(t, tok.AccessToken)
		if c["aud"] != "https://graph.microsoft.com" {
			t.Errorf("aud = %v, want Graph's identifier although Graph is served at %s", c["aud"], srv.GraphURL())
		}
		if got := strings.Join(roles(tok.AccessToken), " "); got != "User.Read.All Application.Read.All" {
			t.Errorf("roles = %q", got)
		}
	})
}

func TestGraphRefusesAnotherCloudsToken(t *testing.T) {
	pubSrv, pubDemo, pubCloud := graphEmulator(t, entratest.CloudPublic)
	cnSrv, cnDemo, cnCloud := graphEmulator(t, entratest.CloudChina)
	tests := []struct {
		name      string
		from      *entratest.Server
		demo      *entratest.Demo
		fromCloud entra.Cloud
		to        *entratest.Server
	}{
		{"public token on China's Graph", pubSrv, pubDemo, pubCloud, cnSrv},
		{"China token on the public Graph", cnSrv, cnDemo, cnCloud, pubSrv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := entra.NewClientSecretCredential(tt.demo.TenantID, tt.demo.Daemon.ClientID, tt.demo.Daemon.ClientSecret,
				&entra.Options{Cloud: tt.fromCloud, HTTPClient: tt.from.Client(), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// Credential.Graph never sends a token to another cloud's Graph,
			// so the token is sent by hand.
			tok, err := cred.Token(ctx, tt.fromCloud.GraphScope())
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, tt.to.GraphURL()+"/v1.0/users", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := tt.to.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="", authorization_uri="https://`) {
				t.Errorf("WWW-Authenticate = %q, want Graph's Bearer challenge", got)
			}
			if got := decodeGraphError(t, resp).Error.Code; got != "InvalidAuthenticationToken" {
				t.Errorf("error.code %q, want InvalidAuthenticationToken", got)
			}
		})
	}
}

// claimsOf decodes (without verifying) the payload of a JWT.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	var c map[string]any
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil {
		t.Fatalf("payload does not decode: %v", err)
	}
	return c
}
