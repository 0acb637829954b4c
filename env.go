package entra

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Environment variables read by ReadEnv: those of azidentity's
// EnvironmentCredential, plus ENTRA_CLOUD.
const (
	EnvTenantID             = "AZURE_TENANT_ID"
	EnvClientID             = "AZURE_CLIENT_ID"
	EnvClientSecret         = "AZURE_CLIENT_SECRET"
	EnvCertificatePath      = "AZURE_CLIENT_CERTIFICATE_PATH"
	EnvCertificatePassword  = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
	EnvSendCertificateChain = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"
	EnvAuthorityHost        = "AZURE_AUTHORITY_HOST"
	EnvCloud                = "ENTRA_CLOUD"
)

// Env is the configuration found in environment variables, as
// azidentity's EnvironmentCredential reads it: AZURE_TENANT_ID,
// AZURE_CLIENT_ID, then AZURE_CLIENT_SECRET or, when no secret is set,
// AZURE_CLIENT_CERTIFICATE_PATH (a PEM or PKCS#12 file with the private
// key) with AZURE_CLIENT_CERTIFICATE_PASSWORD and
// AZURE_CLIENT_SEND_CERTIFICATE_CHAIN ("1" or "true"); AZURE_AUTHORITY_HOST
// replaces the cloud's authority host. ENTRA_CLOUD names the cloud
// (CloudByName). entra reads the environment only when asked, through
// ReadEnv, OptionsFromEnv and NewCredentialFromEnv: no constructor does.
//
// Env holds a secret: its String and GoString methods print the secret
// and password as "[set]". It is a plain value, safe to copy and to read
// concurrently.
type Env struct {
	TenantID             string
	ClientID             string
	ClientSecret         string
	CertificatePath      string
	CertificatePassword  string
	SendCertificateChain bool
	AuthorityHost        string
	Cloud                string
}

// ReadEnv reads the variables above through lookup; nil means
// os.LookupEnv. Values are trimmed of surrounding spaces, except the
// secret and the password, which are taken as they are. Safe for
// concurrent use when lookup is.
func ReadEnv(lookup func(string) (string, bool)) Env {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	raw := func(k string) string { v, _ := lookup(k); return v }
	chain := strings.ToLower(get(EnvSendCertificateChain))
	return Env{
		TenantID:             get(EnvTenantID),
		ClientID:             get(EnvClientID),
		ClientSecret:         raw(EnvClientSecret),
		CertificatePath:      get(EnvCertificatePath),
		CertificatePassword:  raw(EnvCertificatePassword),
		SendCertificateChain: chain == "1" || chain == "true",
		AuthorityHost:        get(EnvAuthorityHost),
		Cloud:                get(EnvCloud),
	}
}

// String describes e without its secret or password.
func (e Env) String() string {
	set := func(s string) string {
		if s == "" {
			return "[unset]"
		}
		return "[set]"
	}
	return fmt.Sprintf("entra.Env{TenantID:%q, ClientID:%q, ClientSecret:%s, CertificatePath:%q, CertificatePassword:%s, "+
		"SendCertificateChain:%t, AuthorityHost:%q, Cloud:%q}", e.TenantID, e.ClientID, set(e.ClientSecret), e.CertificatePath,
		set(e.CertificatePassword), e.SendCertificateChain, e.AuthorityHost, e.Cloud)
}

// GoString is String, so %#v does not print the secret either.
func (e Env) GoString() string { return e.String() }

// LogValue is how slog logs e: without its secret or password.
func (e Env) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant_id", e.TenantID), slog.String("client_id", e.ClientID),
		slog.Bool("client_secret_set", e.ClientSecret != ""), slog.String("certificate_path", e.CertificatePath),
		slog.Bool("certificate_password_set", e.CertificatePassword != ""), slog.Bool("send_certificate_chain", e.SendCertificateChain),
		slog.String("authority_host", e.AuthorityHost), slog.String("cloud", e.Cloud))
}

// MarshalJSON encodes e without its secret or password.
func (e Env) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		TenantID, ClientID     string
		ClientSecretSet        bool
		CertificatePath        string
		CertificatePasswordSet bool
		SendCertificateChain   bool
		AuthorityHost, Cloud   string
	}{e.TenantID, e.ClientID, e.ClientSecret != "", e.CertificatePath, e.CertificatePassword != "", e.SendCertificateChain, e.AuthorityHost, e.Cloud})
}

// Options returns a copy of base (nil means defaults) with the cloud of
// e: when base sets no Cloud, ENTRA_CLOUD picks a preset (default Public)
// and AZURE_AUTHORITY_HOST replaces its authority host; a Cloud set in
// base wins, as in azidentity. An authority host that is not one of the
// cloud's own hosts (an emulator, a proxy) also sets
// DisableInstanceDiscovery, since Microsoft's instance discovery does not
// know it. Errors are *Error values wrapping ErrConfig, naming the
// variable.
func (e Env) Options(base *Options) (*Options, error) {
	var o Options
	if base != nil {
		o = *base
	}
	if !o.Cloud.IsZero() {
		return &o, nil
	}
	cloud := Public
	if e.Cloud != "" {
		c, err := CloudByName(e.Cloud)
		if err != nil {
			return nil, namedEnvError(err, EnvCloud)
		}
		cloud = c
	}
	if e.AuthorityHost != "" {
		c, err := cloud.WithAuthorityHost(e.AuthorityHost)
		if err != nil {
			return nil, namedEnvError(err, EnvAuthorityHost)
		}
		if !containsString(cloud.Aliases(), strings.TrimPrefix(c.AuthorityHost(), "https://")) {
			o.DisableInstanceDiscovery = true
		}
		cloud = c
	}
	o.Cloud = cloud
	return &o, nil
}

// Credential returns an app-only Credential from e: a client secret when
// ClientSecret is set, otherwise the certificate file at CertificatePath.
// opts is completed by e.Options. A missing input is an *Error wrapping
// ErrConfig that names the variable to set.
func (e Env) Credential(opts *Options) (*Credential, error) {
	if e.TenantID == "" {
		return nil, configErrorHint("set "+EnvTenantID+" to the directory (tenant) ID", "%s is not set", EnvTenantID)
	}
	if e.ClientID == "" {
		return nil, configErrorHint("set "+EnvClientID+" to the application (client) ID", "%s is not set", EnvClientID)
	}
	o, err := e.Options(opts)
	if err != nil {
		return nil, err
	}
	if e.ClientSecret != "" {
		return NewClientSecretCredential(e.TenantID, e.ClientID, e.ClientSecret, o)
	}
	if e.CertificatePath == "" {
		return nil, configErrorHint("set "+EnvClientSecret+" (the secret's Value) or "+EnvCertificatePath+" (a PEM or PFX file with the private key)",
			"neither %s nor %s is set", EnvClientSecret, EnvCertificatePath)
	}
	data, err := os.ReadFile(e.CertificatePath)
	if err != nil {
		return nil, configErrorHint("check "+EnvCertificatePath+": it must name a readable PEM or PFX file",
			"%s: cannot read %q", EnvCertificatePath, oneLine(e.CertificatePath, 200))
	}
	certs, key, err := ParseCertificates(data, []byte(e.CertificatePassword))
	if err != nil {
		return nil, err
	}
	o.SendCertificateChain = o.SendCertificateChain || e.SendCertificateChain
	return NewClientCertificateCredential(e.TenantID, e.ClientID, certs, key, o)
}

// OptionsFromEnv is ReadEnv(nil).Options(base): base with the cloud named
// by ENTRA_CLOUD and AZURE_AUTHORITY_HOST. Call it explicitly; no
// constructor reads the environment.
func OptionsFromEnv(base *Options) (*Options, error) { return ReadEnv(nil).Options(base) }

// NewCredentialFromEnv is ReadEnv(nil).Credential(opts): an app-only
// Credential configured by the environment as azidentity's
// EnvironmentCredential is (secret first, then certificate). The returned
// Credential is safe for concurrent use.
func NewCredentialFromEnv(opts *Options) (*Credential, error) { return ReadEnv(nil).Credential(opts) }

// namedEnvError prefixes the description of a configuration error with
// the variable it came from.
func namedEnvError(err error, name string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Description = name + ": " + c.Description
		return &c
	}
	return err
}
