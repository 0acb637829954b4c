package entra_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

// startEmulator starts an Entra ID emulator with the demo directory and
// returns Options pointing at it. Against real Entra, leave Options nil
// (or set Cloud) instead.
func startEmulator() (*entratest.Server, *entratest.Demo, *entra.Options) {
	srv, err := entratest.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	demo, err := srv.SeedDemo()
	if err != nil {
		log.Fatal(err)
	}
	cloud, err := entra.Public.WithAuthorityHost(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	return srv, demo, &entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true}
}

// roles returns the roles claim of a JWT access token (decoded, not
// verified: the API that receives the token verifies it).
func roles(accessToken string) []string {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return nil
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Roles []string `json:"roles"`
	}
	json.Unmarshal(b, &c)
	return c.Roles
}

func ExampleNewClientSecretCredential() {
	srv, demo, opts := startEmulator()
	defer srv.Close()

	cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret, opts)
	if err != nil {
		log.Fatal(err)
	}
	// App-only tokens take exactly one "<resource>/.default" scope.
	tok, err := cred.Token(context.Background(), demo.API.AppIDURI+"/.default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("token type:", tok.TokenType)
	fmt.Println("roles:", roles(tok.AccessToken))

	// Scope mistakes are caught before any request, with a hint.
	_, err = cred.Token(context.Background(), "User.Read")
	fmt.Println(err != nil)
	// Output:
	// token type: Bearer
	// roles: [Data.Read.All]
	// true
}

func ExampleCredential_TokenSource() {
	srv, demo, opts := startEmulator()
	defer srv.Close()
	cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret, opts)
	if err != nil {
		log.Fatal(err)
	}

	// ctx supplies values only; each fetch has its own timeout
	// (Options.FetchTimeout). Keep the source and call Token as often as
	// you like: it is served from memory until the refresh window.
	ts := cred.TokenSource(context.Background(), demo.API.AppIDURI+"/.default")
	first, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	second, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same token:", first.AccessToken == second.AccessToken)
	fmt.Println("token requests:", srv.GrantCount("client_credentials"))
	// Output:
	// same token: true
	// token requests: 1
}

func ExampleCredential_Client() {
	srv, demo, opts := startEmulator()
	defer srv.Close()

	// A protected API that wants a bearer token carrying the demo role.
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !slices.Contains(roles(tok), demo.API.Role) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, "hello, daemon")
	}))
	defer api.Close()

	// Trust both the emulator and the API's test certificate.
	pool := srv.CertPool()
	pool.AddCert(api.Certificate())
	opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	// The API's scope is api://..., which names no host: say which host
	// may receive its token.
	u, _ := url.Parse(api.URL)
	opts.AllowedHosts = []string{u.Host}

	cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret, opts)
	if err != nil {
		log.Fatal(err)
	}
	client := cred.Client(context.Background(), demo.API.AppIDURI+"/.default")
	resp, err := client.Get(api.URL + "/hello")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output:
	// 200 hello, daemon
}

func ExampleCredential_Graph() {
	// The emulator serves a minimal Microsoft Graph. WithGraphURL sends
	// Graph calls there while the token's audience stays Graph's, as real
	// Graph requires. Against real Entra, Options.Cloud (e.g. entra.China)
	// alone picks the right authority and Graph.
	srv, demo, _ := startEmulator()
	defer srv.Close()
	cloud, err := entra.Public.WithAuthorityHost(srv.URL)
	if err == nil {
		cloud, err = cloud.WithGraphURL(srv.GraphURL())
	}
	if err != nil {
		log.Fatal(err)
	}
	cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret,
		&entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	g := cred.Graph(ctx)
	req, err := g.NewRequest(ctx, http.MethodGet, "/v1.0/users?$select=displayName,userPrincipalName", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := g.Do(req) // with an app-only token holding User.Read.All
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var users struct {
		Value []struct{ DisplayName, UserPrincipalName string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&users); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode)
	for _, u := range users.Value {
		fmt.Println(u.DisplayName, u.UserPrincipalName)
	}
	// A path cannot leave the cloud's Graph.
	_, err = g.NewRequest(ctx, http.MethodGet, "https://graph.microsoft.com/v1.0/users", nil)
	fmt.Println(err != nil)
	// Output:
	// 200
	// Alice Demo alice@contoso.onmicrosoft.com
	// true
}

func ExampleNewClientCertificateCredential() {
	srv, demo, opts := startEmulator()
	defer srv.Close()

	// In production: pemOrPFX, err := os.ReadFile("daemon.pem") (or a .pfx
	// with its password). Here: the demo daemon's certificate and key.
	pemBytes := append(append([]byte(nil), demo.Daemon.CertPEM...), demo.Daemon.KeyPEM...)
	certs, key, err := entra.ParseCertificates(pemBytes, nil)
	if err != nil {
		log.Fatal(err)
	}
	cred, err := entra.NewClientCertificateCredential(demo.TenantID, demo.Daemon.ClientID, certs, key, opts)
	if err != nil {
		log.Fatal(err)
	}
	tok, err := cred.Token(context.Background(), demo.API.AppIDURI+"/.default")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("roles:", roles(tok.AccessToken))
	// Output:
	// roles: [Data.Read.All]
}

func ExampleError() {
	srv, demo, opts := startEmulator()
	defer srv.Close()

	cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret, opts)
	if err != nil {
		log.Fatal(err)
	}
	// A Graph scope and the API's scope in one request: refused before any
	// network call, with the AADSTS code Entra would answer and a hint.
	_, err = cred.Token(context.Background(), "https://graph.microsoft.com/.default", demo.API.AppIDURI+"/.default")
	var e *entra.Error
	if errors.As(err, &e) {
		fmt.Println("op:", e.Op)
		fmt.Println("AADSTS28000:", e.HasCode(28000))
		fmt.Println("two resources:", errors.Is(err, entra.ErrMultipleResources))
		fmt.Println("has hint:", e.Hint != "")
	}
	fmt.Println("requests sent:", srv.GrantCount("client_credentials"))
	// Output:
	// op: scope
	// AADSTS28000: true
	// two resources: true
	// has hint: true
	// requests sent: 0
}
