package entratest

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// Demo describes the directory SeedDemo creates.
type Demo struct {
	TenantID string
	// Daemon is a confidential client with a secret and a certificate,
	// granted API's app role and Microsoft Graph's User.Read.All and
	// Application.Read.All with admin consent: its Graph token can list
	// /v1.0/users, /v1.0/applications and /v1.0/servicePrincipals.
	Daemon struct {
		ClientID, ClientSecret string
		Certificate            *x509.Certificate
		Key                    crypto.Signer
		CertPEM, KeyPEM        []byte // KeyPEM is PKCS#8 "PRIVATE KEY"
	}
	// API is a web API exposing the delegated scope access_as_user and the
	// app role Data.Read.All; it accepts v2 tokens.
	API struct{ ClientID, AppIDURI, Scope, Role string }
	// PublicClient is a public client consented to API's and OBOAPI's
	// scopes and to Microsoft Graph's User.Read (for /v1.0/me).
	PublicClient struct{ ClientID, RedirectURI string }
	// OBOAPI is a middle-tier API (confidential) exposing access_as_user, with
	// API's scope and Graph User.Read consented.
	OBOAPI struct{ ClientID, ClientSecret, AppIDURI, Scope string }
	// WebApp is a confidential web app signing users in with the
	// authorization code flow at RedirectURI (http://localhost: any port
	// matches), consented to API's scope and Microsoft Graph's User.Read.
	WebApp struct{ ClientID, ClientSecret, RedirectURI string }
	User   struct{ Username, ObjectID string }
}

// Fixed identifiers of the demo directory.
const (
	demoTenantID     = "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b"
	demoDomain       = "contoso.onmicrosoft.com"
	demoDaemonID     = "1b2c3d4e-0001-4000-8000-00000000d001"
	demoDaemonSecret = "demo-daemon-secret-not-for-production"
	demoAPIID        = "1b2c3d4e-0002-4000-8000-00000000a001"
	demoPublicID     = "1b2c3d4e-0003-4000-8000-00000000c001"
	demoOBOID        = "1b2c3d4e-0004-4000-8000-00000000b001"
	demoOBOSecret    = "demo-obo-secret-not-for-production"
	demoUserOID      = "1b2c3d4e-0005-4000-8000-0000000000e1"
	demoWebID        = "1b2c3d4e-0006-4000-8000-00000000f001"
	demoWebSecret    = "demo-webapp-secret-not-for-production"
	demoUsername     = "alice@contoso.onmicrosoft.com"
)

// SeedDemo adds the demo tenant, apps and user with fixed GUIDs and a fresh
// daemon certificate and key. It fails if called twice on one server. Safe
// for concurrent use.
func (s *Server) SeedDemo() (*Demo, error) {
	d := &Demo{TenantID: demoTenantID}
	key, cert, err := newSelfSignedRSA("demo", "entratest demo daemon", 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("entratest: demo key: %w", err)
	}
	d.Daemon.ClientID, d.Daemon.ClientSecret = demoDaemonID, demoDaemonSecret
	d.Daemon.Certificate, d.Daemon.Key = cert, key
	d.Daemon.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	d.Daemon.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})
	d.API.ClientID, d.API.AppIDURI = demoAPIID, "api://"+demoAPIID
	d.API.Scope, d.API.Role = d.API.AppIDURI+"/access_as_user", "Data.Read.All"
	d.PublicClient.ClientID, d.PublicClient.RedirectURI = demoPublicID, "http://localhost"
	d.OBOAPI.ClientID, d.OBOAPI.ClientSecret = demoOBOID, demoOBOSecret
	d.OBOAPI.AppIDURI = "api://" + demoOBOID
	d.OBOAPI.Scope = d.OBOAPI.AppIDURI + "/access_as_user"
	d.User.Username, d.User.ObjectID = demoUsername, demoUserOID
	d.WebApp.ClientID, d.WebApp.ClientSecret = demoWebID, demoWebSecret
	d.WebApp.RedirectURI = "http://localhost/auth/callback"

	if err := s.AddTenant(Tenant{ID: demoTenantID, Domain: demoDomain, DisplayName: "Contoso (demo)"}); err != nil {
		return nil, err
	}
	apps := []App{
		{ClientID: demoAPIID, DisplayName: "demo-api", AppIDURI: d.API.AppIDURI,
			AppRoles: []string{d.API.Role}, Scopes: []string{"access_as_user"}, AccessTokenAcceptedVersion: 2},
		{ClientID: demoDaemonID, DisplayName: "demo-daemon", Secrets: []Secret{{Value: demoDaemonSecret}},
			Certificates: []*x509.Certificate{cert},
			Grants: []Grant{
				{Resource: demoAPIID, AppRoles: []string{d.API.Role}, AdminConsent: true},
				{Resource: GraphAppID, AppRoles: []string{"User.Read.All", "Application.Read.All"}, AdminConsent: true},
			}},
		{ClientID: demoOBOID, DisplayName: "demo-obo-api", Secrets: []Secret{{Value: demoOBOSecret}},
			AppIDURI: d.OBOAPI.AppIDURI, Scopes: []string{"access_as_user"}, AccessTokenAcceptedVersion: 2,
			Grants: []Grant{
				{Resource: demoAPIID, DelegatedScopes: []string{"access_as_user"}},
				{Resource: GraphAppID, DelegatedScopes: []string{"User.Read"}},
			}},
		{ClientID: demoPublicID, DisplayName: "demo-public-client", PublicClient: true,
			RedirectURIs: []string{d.PublicClient.RedirectURI},
			Grants: []Grant{
				{Resource: demoAPIID, DelegatedScopes: []string{"access_as_user"}},
				{Resource: demoOBOID, DelegatedScopes: []string{"access_as_user"}},
				{Resource: GraphAppID, DelegatedScopes: []string{"User.Read"}},
			}},
		{ClientID: demoWebID, DisplayName: "demo-webapp", Secrets: []Secret{{Value: demoWebSecret}},
			RedirectURIs: []string{d.WebApp.RedirectURI},
			Grants: []Grant{
				{Resource: demoAPIID, DelegatedScopes: []string{"access_as_user"}},
				{Resource: demoOBOID, DelegatedScopes: []string{"access_as_user"}},
				{Resource: GraphAppID, DelegatedScopes: []string{"User.Read"}},
			}},
	}
	for _, a := range apps {
		if err := s.AddApp(demoTenantID, a); err != nil {
			return nil, err
		}
	}
	if _, err := s.AddUser(demoTenantID, User{Username: demoUsername, ObjectID: demoUserOID, DisplayName: "Alice Demo"}); err != nil {
		return nil, err
	}
	return d, nil
}
