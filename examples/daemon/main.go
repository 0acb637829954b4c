// Command daemon is a background service calling a custom web API with its
// own identity (OAuth client credentials) and checking that its token
// carries the app role the API requires.
//
// Run it with no flags or environment and it is self-contained: it starts
// an embedded Entra ID emulator (package entratest) with the demo
// directory, gets a token for the demo API, calls a small in-process
// protected API that verifies the token's signature against the emulator's
// JWKS and checks the roles claim, prints a short report and exits 0.
//
//	go run ./examples/daemon
//	go run ./examples/daemon -pitfall   # the same app without admin consent
//
// Against a real tenant or a running `entra emulator`, set:
//
//	AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET   the daemon app
//	ENTRA_SCOPE           e.g. api://<api-app-id>/.default (required)
//	ENTRA_ROLE            the app role the API requires (optional)
//	ENTRA_AUTHORITY_HOST  e.g. https://127.0.0.1:8443 for an emulator (optional)
//	ENTRA_CA_CERT_FILE    PEM CA to trust for that host (optional)
//
// The in-process API then verifies tokens against the authority's JWKS.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

// config is what the daemon needs, from flags and environment.
type config struct {
	mode                       string
	tenantID, clientID, secret string
	scope, role                string
	opts                       entra.Options
	pool                       *x509.CertPool // trusted roots for Entra (and the API)
}

func main() {
	pitfall := flag.Bool("pitfall", false, "embedded mode: use an app that was granted the role without admin consent")
	flag.Parse()
	os.Exit(run(*pitfall))
}

func run(pitfall bool) int {
	cfg, cleanup, err := configure(pitfall)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		return 1
	}
	defer cleanup()
	ctx := context.Background()

	// The protected API, trusted by our HTTP client next to Entra.
	api := newAPI(cfg)
	defer api.Close()
	cfg.pool.AddCert(api.Certificate())
	cfg.opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cfg.pool}}}
	u, _ := url.Parse(api.URL)
	cfg.opts.AllowedHosts = []string{u.Host} // the scope is api://..., which names no host

	cred, err := entra.NewClientSecretCredential(cfg.tenantID, cfg.clientID, cfg.secret, &cfg.opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		return 1
	}
	fmt.Println("entra daemon example")
	fmt.Printf("  mode:    %s\n", cfg.mode)
	fmt.Printf("  cloud:   %s (authority %s)\n", cred.Cloud().Name(), cred.Cloud().AuthorityHost())
	fmt.Printf("  tenant:  %s\n  client:  %s\n  scope:   %s\n", cfg.tenantID, cfg.clientID, cfg.scope)

	tok, err := cred.Token(ctx, cfg.scope)
	if err != nil {
		fmt.Println("  token:   FAILED")
		fmt.Println("  error:  ", err)
		var e *entra.Error
		if errors.As(err, &e) && e.Hint != "" {
			fmt.Println("  what to do:", e.Hint)
		}
		return 1
	}
	claims := unverifiedClaims(tok.AccessToken)
	fmt.Printf("  token:   expires %s (in %s)\n", tok.Expiry.UTC().Format(time.RFC3339), time.Until(tok.Expiry).Round(time.Second))
	fmt.Printf("  roles:   %v\n", claims.Roles)

	resp, err := cred.Client(ctx, cfg.scope).Get(api.URL + "/data")
	if err != nil {
		fmt.Println("  API:     FAILED:", err)
		return 1
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	fmt.Printf("  API:     %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		explain(cfg, claims)
		return 2
	}
	return 0
}

// configure reads the environment: a real tenant (or a running emulator)
// when AZURE_TENANT_ID is set, else an embedded emulator.
func configure(pitfall bool) (config, func(), error) {
	if os.Getenv("AZURE_TENANT_ID") != "" {
		return external()
	}
	srv, err := entratest.NewServer(nil)
	if err != nil {
		return config{}, nil, err
	}
	demo, err := srv.SeedDemo()
	if err != nil {
		srv.Close()
		return config{}, nil, err
	}
	cloud, err := entra.Public.WithAuthorityHost(srv.URL)
	if err != nil {
		srv.Close()
		return config{}, nil, err
	}
	cfg := config{
		mode:     "embedded emulator (set AZURE_TENANT_ID to use a real tenant)",
		tenantID: demo.TenantID, clientID: demo.Daemon.ClientID, secret: demo.Daemon.ClientSecret,
		scope: demo.API.AppIDURI + "/.default", role: demo.API.Role,
		opts: entra.Options{Cloud: cloud, DisableInstanceDiscovery: true},
		pool: srv.CertPool(),
	}
	if pitfall {
		// The classic mistake: the permission is added, consent is not.
		app := entratest.App{
			ClientID: "1b2c3d4e-0009-4000-8000-00000000d009", DisplayName: "daemon-without-consent",
			Secrets: []entratest.Secret{{Value: "pitfall-secret-not-for-production"}},
			Grants:  []entratest.Grant{{Resource: demo.API.ClientID, AppRoles: []string{demo.API.Role}, AdminConsent: false}},
		}
		if err := srv.AddApp(demo.TenantID, app); err != nil {
			srv.Close()
			return config{}, nil, err
		}
		cfg.mode = "embedded emulator, app without admin consent (-pitfall)"
		cfg.clientID, cfg.secret = app.ClientID, app.Secrets[0].Value
	}
	return cfg, srv.Close, nil
}

func external() (config, func(), error) {
	cfg := config{
		mode:     "external authority (from the environment)",
		tenantID: os.Getenv("AZURE_TENANT_ID"), clientID: os.Getenv("AZURE_CLIENT_ID"), secret: os.Getenv("AZURE_CLIENT_SECRET"),
		scope: os.Getenv("ENTRA_SCOPE"), role: os.Getenv("ENTRA_ROLE"),
	}
	if cfg.scope == "" {
		return config{}, nil, errors.New("ENTRA_SCOPE is required, e.g. api://<api-app-id>/.default")
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if f := os.Getenv("ENTRA_CA_CERT_FILE"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return config{}, nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return config{}, nil, fmt.Errorf("ENTRA_CA_CERT_FILE %s holds no PEM certificate", f)
		}
	}
	cfg.pool = pool
	if host := os.Getenv("ENTRA_AUTHORITY_HOST"); host != "" {
		cloud, err := entra.Public.WithAuthorityHost(host)
		if err != nil {
			return config{}, nil, err
		}
		cfg.opts.Cloud, cfg.opts.DisableInstanceDiscovery = cloud, true
	}
	return cfg, func() {}, nil
}

// tokenClaims are the claims the API checks.
type tokenClaims struct {
	jwt.Claims
	Roles    []string `json:"roles"`
	TenantID string   `json:"tid"`
	AppID    string   `json:"azp"`
	AppIDv1  string   `json:"appid"`
}

// app returns the calling app's ID: azp in v2 tokens, appid in v1.
func (c *tokenClaims) app() string {
	if c.AppID != "" {
		return c.AppID
	}
	return c.AppIDv1
}

// newAPI starts the protected API: it verifies the bearer token's
// signature against the authority's JWKS, its issuer, audience and
// lifetime, then requires the role.
func newAPI(cfg config) *httptest.Server {
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		c, err := verify(r.Context(), cfg, raw)
		if err != nil {
			http.Error(w, "invalid token: "+err.Error(), http.StatusUnauthorized)
			return
		}
		if len(c.Roles) == 0 || (cfg.role != "" && !slices.Contains(c.Roles, cfg.role)) {
			http.Error(w, fmt.Sprintf("forbidden: role %q required, token has %v", cfg.role, c.Roles), http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "hello %s, you hold %v\n", c.app(), c.Roles)
	}))
}

// verify checks a token the way an API should: signature from the
// tenant's JWKS, v1 or v2 issuer of the cloud, audience = this API,
// lifetime (with Entra's usual 5 minutes of leeway).
func verify(ctx context.Context, cfg config, raw string) (*tokenClaims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, errors.New("not a signed JWT")
	}
	keys, err := fetchJWKS(ctx, cfg)
	if err != nil {
		return nil, err
	}
	found := keys.Key(tok.Headers[0].KeyID)
	if len(found) == 0 {
		return nil, errors.New("signing key not in the JWKS (a Microsoft Graph token? request your API's scope)")
	}
	var c tokenClaims
	if err := tok.Claims(found[0].Key, &c); err != nil {
		return nil, errors.New("bad signature")
	}
	cloud := cfg.opts.Cloud
	if cloud.IsZero() {
		cloud = entra.Public
	}
	if c.Issuer != cloud.IssuerV1(c.TenantID) && c.Issuer != cloud.IssuerV2(c.TenantID) {
		return nil, fmt.Errorf("issuer %q is not this cloud's (a token from another cloud?)", c.Issuer)
	}
	if !strings.Contains(cfg.tenantID, ".") && c.TenantID != cfg.tenantID { // a domain can't be compared
		return nil, fmt.Errorf("token from tenant %s, want %s", c.TenantID, cfg.tenantID)
	}
	resource := strings.TrimSuffix(cfg.scope, "/.default")
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return a == resource || "api://"+a == resource }) {
		return nil, fmt.Errorf("audience %v is not this API (%s)", c.Audience, resource)
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, 5*time.Minute); err != nil {
		return nil, errors.New("token expired or not yet valid")
	}
	return &c, nil
}

// fetchJWKS gets the tenant's signing keys from the authority. (A real API
// caches them for hours and refetches on an unknown kid.)
func fetchJWKS(ctx context.Context, cfg config) (*jose.JSONWebKeySet, error) {
	host := entra.Public.AuthorityHost()
	if !cfg.opts.Cloud.IsZero() {
		host = cfg.opts.Cloud.AuthorityHost()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, host+"/"+cfg.tenantID+"/discovery/v2.0/keys", nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cfg.pool}}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, errors.New("cannot fetch the JWKS")
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set) != nil {
		return nil, fmt.Errorf("cannot read the JWKS (HTTP %d)", resp.StatusCode)
	}
	return &set, nil
}

// unverifiedClaims decodes the token for the report only; the API verifies.
func unverifiedClaims(raw string) tokenClaims {
	var c tokenClaims
	if tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256}); err == nil {
		tok.UnsafeClaimsWithoutVerification(&c)
	}
	return c
}

// explain prints the usual causes of a token the API refuses.
func explain(cfg config, c tokenClaims) {
	fmt.Println()
	switch {
	case len(c.Roles) == 0:
		fmt.Println("The token has no roles claim. Entra issues app-only tokens even when nothing was granted,")
		fmt.Println("so this is not an authentication error. The daemon app needs the API's app role:")
		fmt.Println("  1. App registrations > (daemon app) > API permissions > Add a permission > My APIs >")
		fmt.Println("     (the API) > Application permissions > tick the role (" + orAny(cfg.role) + ").")
		fmt.Println("  2. Click \"Grant admin consent\" — without it the permission is listed but not granted.")
		fmt.Println("Requesting \"/.default\" grants nothing: it asks for what is already granted.")
		fmt.Println("Delegated permissions (scopes) never appear in app-only tokens; only app roles do.")
	case cfg.role != "" && !slices.Contains(c.Roles, cfg.role):
		fmt.Printf("The token holds %v but the API requires %q: grant that application permission and admin consent.\n", c.Roles, cfg.role)
	default:
		fmt.Println("The API rejected the token: check that the scope is your API's (not Microsoft Graph's) and the cloud.")
	}
}

func orAny(role string) string {
	if role == "" {
		return "any"
	}
	return role
}
