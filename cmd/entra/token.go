package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra"
)

var _ = register(&command{
	name:    "token",
	summary: "get an access token: client secret, certificate, device code or browser sign-in",
	help:    printTokenUsage,
	run:     runToken,
})

// azureCLIClientID is the Azure CLI's public client, which every tenant
// knows: the default client of --device-code and --browser (as azidentity's
// interactive credentials default to it).
const azureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

const tokenUsage = `usage: entra token --scope SCOPE [flags]

Gets an access token for one resource and prints it on standard output
(or, with --json, the shape "az account get-access-token" prints). Choose
one flow:

  --secret VALUE        client credentials with a client secret (app-only)
  --cert FILE           client credentials with a certificate: PEM or PFX
                        with the private key (--cert-password if encrypted)
  --device-code         a user signs in on another device; the code and a
                        countdown go to standard error
  --browser             a user signs in in the system browser (authorization
                        code with PKCE, loopback listener on 127.0.0.1)

Without a flow flag, the environment decides, as azidentity's
EnvironmentCredential does: AZURE_CLIENT_SECRET, else
AZURE_CLIENT_CERTIFICATE_PATH (with AZURE_CLIENT_CERTIFICATE_PASSWORD).
AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST and ENTRA_CLOUD
stand in for --tenant, --client-id, --authority-host and --cloud. Flags win
over the environment. Prefer AZURE_CLIENT_SECRET to --secret: command
lines are visible to other users of the machine.

The user flows default to tenant "organizations" and the Azure CLI's public
client ID (` + azureCLIClientID + `).

To talk to the emulator ('entra emulator'), pass its authority_host to
--authority-host and its ca_cert_file to --ca-file (on Linux, SSL_CERT_FILE
works too).

Examples:
  AZURE_TENANT_ID=contoso.onmicrosoft.com AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=... \
    entra token --scope https://graph.microsoft.com/.default
  entra token --tenant $TENANT --client-id $APP --cert app.pfx --cert-password "$PW" \
    --scope api://my-api/.default --json
  entra token --device-code --scope User.Read
  entra token --browser --cloud usgov --scope https://graph.microsoft.us/User.Read
  entra token --authority-host https://127.0.0.1:8443 --ca-file ca.pem --tenant $TENANT \
    --client-id $DAEMON --secret $SECRET --scope $API/.default | entra inspect

flags:
`

type scopeList []string

func (s *scopeList) String() string     { return strings.Join(*s, " ") }
func (s *scopeList) Set(v string) error { *s = append(*s, strings.Fields(v)...); return nil }

type tokenFlags struct {
	tenant, clientID, secret, cert, certPassword string
	deviceCode, browser, json                    bool
	redirectURI, cloud, authorityHost, caFile    string
	scopes                                       scopeList
	noCache                                      bool
	cacheDir                                     string
}

func newTokenFlagSet(f *tokenFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.tenant, "tenant", "", "directory (tenant) `ID` or domain (env AZURE_TENANT_ID)")
	fs.StringVar(&f.clientID, "client-id", "", "application (client) `ID` (env AZURE_CLIENT_ID)")
	fs.StringVar(&f.secret, "secret", "", "client secret `value` (env AZURE_CLIENT_SECRET, preferred)")
	fs.StringVar(&f.cert, "cert", "", "certificate `file`, PEM or PFX, with the private key (env AZURE_CLIENT_CERTIFICATE_PATH)")
	fs.StringVar(&f.certPassword, "cert-password", "", "`password` of the certificate file (env AZURE_CLIENT_CERTIFICATE_PASSWORD)")
	fs.BoolVar(&f.deviceCode, "device-code", false, "sign a user in with the device code flow")
	fs.BoolVar(&f.browser, "browser", false, "sign a user in with the system browser")
	fs.StringVar(&f.redirectURI, "redirect-uri", "", "loopback redirect `URI` registered for --browser (default http://localhost, any free port)")
	fs.Var(&f.scopes, "scope", "`scope` to request; repeatable, all of one resource (e.g. https://graph.microsoft.com/.default)")
	fs.StringVar(&f.cloud, "cloud", "", "`cloud`: public, china, usgov, usgovdod, germany (env ENTRA_CLOUD; default public)")
	fs.StringVar(&f.authorityHost, "authority-host", "", "authority host `URL`, e.g. the emulator's (env AZURE_AUTHORITY_HOST)")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM `file` of extra CA certificates to trust, e.g. the emulator's ca_cert_file")
	fs.BoolVar(&f.noCache, "no-cache", false, "neither read nor write the encrypted token cache ('entra cache -h')")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "token cache `directory` (default: the user cache directory's entra)")
	fs.BoolVar(&f.json, "json", false, "print JSON: accessToken, expiresOn, expires_on, tenant, tokenType, scopes, account")
	return fs
}

func printTokenUsage(w io.Writer) {
	fmt.Fprint(w, tokenUsage)
	fs := newTokenFlagSet(&tokenFlags{})
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\n"+exitCodes)
}

// tokenOutput is the --json shape: az account get-access-token's fields
// (accessToken, expiresOn in local time, expires_on, tenant, tokenType)
// plus the scopes, the cloud and, for user flows, the account.
type tokenOutput struct {
	AccessToken string        `json:"accessToken"`
	ExpiresOn   string        `json:"expiresOn"`
	ExpiresOnTS int64         `json:"expires_on"`
	Tenant      string        `json:"tenant"`
	TokenType   string        `json:"tokenType"`
	Scopes      []string      `json:"scopes"`
	Cloud       string        `json:"cloud"`
	Account     *accountShown `json:"account,omitempty"`
}

type accountShown struct {
	Username      string `json:"username"`
	HomeAccountID string `json:"homeAccountId"`
	TenantID      string `json:"tenantId"`
}

func runToken(ctx context.Context, args []string, s stdio) error {
	var f tokenFlags
	fs := newTokenFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printTokenUsage(s.out)
			return nil
		}
		return usageError{err.Error() + " (run 'entra token -h' for the flags)"}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q: scopes go in --scope", fs.Arg(0))}
	}
	env := entra.ReadEnv(nil)
	secretEnv, certEnv := env.ClientSecret, env.CertificatePath
	flow, err := chooseFlow(&f, env)
	if err != nil {
		return err
	}
	if len(f.scopes) == 0 {
		return usageError{"missing --scope: name the resource's scopes, e.g. --scope https://graph.microsoft.com/.default"}
	}
	env.TenantID, env.ClientID = pick(f.tenant, env.TenantID), pick(f.clientID, env.ClientID)
	env.Cloud, env.AuthorityHost = pick(f.cloud, env.Cloud), pick(f.authorityHost, env.AuthorityHost)
	user := flow == "device-code" || flow == "browser"
	if user {
		env.TenantID, env.ClientID = pick(env.TenantID, "organizations"), pick(env.ClientID, azureCLIClientID)
	}
	switch {
	case env.TenantID == "":
		return usageError{"missing --tenant (or AZURE_TENANT_ID): the directory (tenant) ID or domain of the app"}
	case env.ClientID == "":
		return usageError{"missing --client-id (or AZURE_CLIENT_ID): the application (client) ID"}
	}
	hc, err := httpClient(f.caFile)
	if err != nil {
		return err
	}
	base := &entra.Options{HTTPClient: hc}
	if !f.noCache {
		files, err := openCache(f.cacheDir)
		if err != nil {
			return fmt.Errorf("%w (or pass --no-cache)", err)
		}
		base.Store = files
	}
	opts, err := env.Options(base)
	if err != nil {
		return err
	}
	out := tokenOutput{Tenant: env.TenantID, TokenType: "Bearer", Scopes: f.scopes, Cloud: opts.Cloud.Name()}
	var tok *oauth2.Token
	switch flow {
	case "secret", "cert":
		env.ClientSecret, env.CertificatePath = "", ""
		if flow == "secret" {
			env.ClientSecret = pick(f.secret, secretEnv)
		} else {
			env.CertificatePath, env.CertificatePassword = pick(f.cert, certEnv), pick(f.certPassword, env.CertificatePassword)
		}
		cred, err := env.Credential(opts)
		if err != nil {
			return err
		}
		defer cred.Close()
		tok, err = cred.Token(ctx, f.scopes...)
		if err != nil {
			return err
		}
	default:
		var cred *entra.UserCredential
		var done chan struct{}
		if flow == "device-code" {
			done = make(chan struct{})
			cred, err = entra.NewDeviceCodeCredential(env.TenantID, env.ClientID, devicePrompt(s.errOut, done), opts)
		} else {
			cred, err = entra.NewBrowserCredential(env.TenantID, env.ClientID, f.redirectURI, nil, opts)
		}
		if err != nil {
			return err
		}
		defer cred.Close()
		remember := rememberedAccount(opts.Cloud.AuthorityHost(), env.TenantID, env.ClientID)
		// A user signed in by an earlier run (the cache holds the account
		// and its refresh token) gets the token without a new sign-in.
		var acct entra.Account
		if opts.Store != nil {
			if a, ok := loadAccount(ctx, opts.Store, remember); ok {
				if t, err := cred.Token(ctx, a, f.scopes...); err == nil {
					acct, tok = a, t
				}
			}
		}
		if tok == nil {
			acct, err = cred.SignIn(ctx, f.scopes...)
			if done != nil {
				close(done)
			}
			if err != nil {
				return err
			}
			if tok, err = cred.Token(ctx, acct, f.scopes...); err != nil {
				return err
			}
			if opts.Store != nil {
				if b, err := json.Marshal(acct); err == nil {
					opts.Store.Save(ctx, remember, b, 90*24*time.Hour)
				}
			}
		}
		out.Account = &accountShown{Username: acct.Username, HomeAccountID: acct.HomeAccountID, TenantID: acct.TenantID}
	}
	if !f.json {
		_, err := fmt.Fprintln(s.out, tok.AccessToken)
		return err
	}
	out.AccessToken = tok.AccessToken
	out.ExpiresOn, out.ExpiresOnTS = tok.Expiry.Local().Format("2006-01-02 15:04:05.000000"), tok.Expiry.Unix()
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// chooseFlow picks the one flow the flags (or, without flow flags, the
// environment) name; conflicts and a missing flow are usage errors.
func chooseFlow(f *tokenFlags, env entra.Env) (string, error) {
	var named []string
	if f.secret != "" {
		named = append(named, "secret")
	}
	if f.cert != "" {
		named = append(named, "cert")
	}
	if f.deviceCode {
		named = append(named, "device-code")
	}
	if f.browser {
		named = append(named, "browser")
	}
	switch {
	case len(named) > 1:
		return "", usageError{fmt.Sprintf("conflicting flags --%s and --%s: choose one flow", named[0], named[1])}
	case f.certPassword != "" && f.cert == "" && (len(named) > 0 || env.CertificatePath == ""):
		return "", usageError{"--cert-password needs --cert (the certificate file)"}
	case f.redirectURI != "" && !f.browser:
		return "", usageError{"--redirect-uri is for --browser only"}
	case len(named) == 1:
		return named[0], nil
	case env.ClientSecret != "":
		return "secret", nil
	case env.CertificatePath != "":
		return "cert", nil
	}
	return "", usageError{"missing input: a client secret (--secret or AZURE_CLIENT_SECRET), a certificate (--cert or " +
		"AZURE_CLIENT_CERTIFICATE_PATH), --device-code or --browser"}
}

func pick(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

// devicePrompt shows the device code on w (standard error) and, when w is
// a terminal, a countdown to the code's expiry, updated every second until
// done is closed.
func devicePrompt(w io.Writer, done <-chan struct{}) func(context.Context, entra.DeviceCode) error {
	return func(ctx context.Context, dc entra.DeviceCode) error {
		msg := dc.Message
		if msg == "" {
			msg = "To sign in, open " + dc.VerificationURI + " and enter the code " + dc.UserCode
		}
		fmt.Fprintln(w, msg)
		if !isTerminal(w) {
			return nil
		}
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				left := time.Until(dc.ExpiresAt).Round(time.Second)
				if left < 0 {
					left = 0
				}
				fmt.Fprintf(w, "\r  waiting for sign-in: %02d:%02d left ", int(left.Minutes()), int(left.Seconds())%60)
				select {
				case <-done:
					fmt.Fprint(w, "\r\x1b[K")
					return
				case <-ctx.Done():
					fmt.Fprint(w, "\r\x1b[K")
					return
				case <-tick.C:
				}
			}
		}()
		return nil
	}
}
