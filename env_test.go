package entra_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestReadEnvHidesSecrets(t *testing.T) {
	e := entra.ReadEnv(envOf(map[string]string{entra.EnvTenantID: " t ", entra.EnvClientSecret: "s3cr3t-value",
		entra.EnvCertificatePassword: "pfx-pass", entra.EnvSendCertificateChain: "TRUE"}))
	if e.TenantID != "t" || e.ClientSecret != "s3cr3t-value" || !e.SendCertificateChain {
		t.Errorf("ReadEnv = %s", e)
	}
	for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%v %+v %#v %s", e, e, e, e)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "pfx-pass") {
			t.Errorf("printed Env holds a secret: %s", s)
		}
	}
}

func TestEnvOptions(t *testing.T) {
	tests := []struct {
		env       map[string]string
		base      *entra.Options
		authority string
		graph     string
		noDisc    bool
		errVar    string
	}{
		{nil, nil, "https://login.microsoftonline.com", "https://graph.microsoft.com", false, ""},
		{map[string]string{entra.EnvCloud: "china"}, nil, "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn", false, ""},
		{map[string]string{entra.EnvAuthorityHost: "https://login.microsoftonline.us", entra.EnvCloud: "usgov"}, nil, "https://login.microsoftonline.us", "https://graph.microsoft.us", false, ""},
		{map[string]string{entra.EnvAuthorityHost: "https://127.0.0.1:8443"}, nil, "https://127.0.0.1:8443", "https://graph.microsoft.com", true, ""},
		{map[string]string{entra.EnvAuthorityHost: "https://127.0.0.1:8443"}, &entra.Options{Cloud: entra.Germany}, "https://login.microsoftonline.de", "https://graph.microsoft.de", false, ""},
		{map[string]string{entra.EnvAuthorityHost: "http://insecure.example"}, nil, "", "", false, entra.EnvAuthorityHost},
		{map[string]string{entra.EnvCloud: "mars"}, nil, "", "", false, entra.EnvCloud},
	}
	for i, tt := range tests {
		o, err := entra.ReadEnv(envOf(tt.env)).Options(tt.base)
		if tt.errVar != "" {
			if !errors.Is(err, entra.ErrConfig) || !strings.Contains(err.Error(), tt.errVar) {
				t.Errorf("%d: err %v, want ErrConfig naming %s", i, err, tt.errVar)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if o.Cloud.AuthorityHost() != tt.authority || o.Cloud.GraphURL() != tt.graph || o.DisableInstanceDiscovery != tt.noDisc {
			t.Errorf("%d: cloud %v graph %s discovery off %v", i, o.Cloud, o.Cloud.GraphURL(), o.DisableInstanceDiscovery)
		}
	}
}

func TestEnvCredentialMissingInputs(t *testing.T) {
	tests := []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{}, entra.EnvTenantID},
		{map[string]string{entra.EnvTenantID: "t"}, entra.EnvClientID},
		{map[string]string{entra.EnvTenantID: "t", entra.EnvClientID: "c"}, entra.EnvClientSecret},
		{map[string]string{entra.EnvTenantID: "t", entra.EnvClientID: "c", entra.EnvCertificatePath: "/nonexistent/cert.pem"}, entra.EnvCertificatePath},
	}
	for _, tt := range tests {
		_, err := entra.ReadEnv(envOf(tt.env)).Credential(nil)
		if !errors.Is(err, entra.ErrConfig) || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("env %v: err %v, want ErrConfig naming %s", tt.env, err, tt.name)
		}
	}
}

func TestNewCredentialFromEnvAgainstEmulator(t *testing.T) {
	srv := entratest.NewTestServer(t, nil)
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, append(append([]byte(nil), demo.Daemon.CertPEM...), demo.Daemon.KeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{demo.Daemon.ClientSecret, ""} {
		t.Setenv(entra.EnvTenantID, demo.TenantID)
		t.Setenv(entra.EnvClientID, demo.Daemon.ClientID)
		t.Setenv(entra.EnvClientSecret, secret)
		t.Setenv(entra.EnvCertificatePath, certFile)
		t.Setenv(entra.EnvAuthorityHost, srv.URL)
		t.Setenv(entra.EnvCloud, "")
		cred, err := entra.NewCredentialFromEnv(&entra.Options{HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := cred.Token(t.Context(), demo.API.AppIDURI+"/.default")
		cred.Close()
		if err != nil {
			t.Fatalf("secret %v: %v", secret != "", err)
		}
		r, err := entra.Inspect(tok.AccessToken)
		if err != nil || !r.AppOnly || len(r.Roles) == 0 || r.HasErrors() {
			t.Errorf("secret %v: token report %+v, %v", secret != "", r, err)
		}
	}
}
