package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/entrakit/entra/entratest"
)

var _ = register(&command{
	name:    "emulator",
	summary: "start the local Entra ID emulator with a demo directory, print its settings as one JSON line, and serve until Ctrl-C",
	help:    printEmulatorUsage,
	run: func(ctx context.Context, args []string, s stdio) error {
		return runEmulator(ctx, args, s.out, s.errOut)
	},
})

// emulatorInfo is the one JSON line `entra emulator` prints: everything a client needs.
type emulatorInfo struct {
	AuthorityHost string `json:"authority_host"`
	TenantID      string `json:"tenant_id"`
	Cloud         string `json:"cloud"`
	GraphURL      string `json:"graph_url"`
	CACertFile    string `json:"ca_cert_file"`
	Daemon        struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		CertFile     string `json:"cert_file"`
		KeyFile      string `json:"key_file"`
	} `json:"daemon"`
	API struct {
		ClientID string `json:"client_id"`
		AppIDURI string `json:"app_id_uri"`
		Scope    string `json:"scope"`
		Role     string `json:"role"`
	} `json:"api"`
	PublicClient struct {
		ClientID    string `json:"client_id"`
		RedirectURI string `json:"redirect_uri"`
	} `json:"public_client"`
	OBOAPI struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		AppIDURI     string `json:"app_id_uri"`
		Scope        string `json:"scope"`
	} `json:"obo_api"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
}

// emulatorFlags are the flags of "entra emulator".
type emulatorFlags struct {
	addr, cloud, dir string
	lifetime         time.Duration
	autoApprove      bool
}

// newEmulatorFlagSet defines the flags; the set prints nothing itself.
func newEmulatorFlagSet(f *emulatorFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:0", "listen `address`; on 0.0.0.0 or [::] the printed authority_host uses 127.0.0.1")
	fs.StringVar(&f.cloud, "cloud", "public", "cloud whose issuer hosts and Graph audience to impersonate: public, china, usgov, usgovdod, germany")
	fs.DurationVar(&f.lifetime, "token-lifetime", 0, "fixed access-token `lifetime`, at least 1m; 0 gives Entra's: 1h for app-only tokens, a random 60m-90m for user tokens.\nrefresh_in is sent for 2h and more")
	fs.BoolVar(&f.autoApprove, "auto-approve", false, "approve device codes at once for the demo user (otherwise POST /emulator/devicecode/approve)")
	fs.StringVar(&f.dir, "dir", "", "`directory` for the CA, certificate and key files, kept on exit (default: a new temporary directory, removed on exit)")
	return fs
}

// emulatorUsage is the help text of "entra emulator" before its flags.
const emulatorUsage = `usage: entra emulator [flags]

Starts a local Microsoft Entra ID emulator (package entratest) with a demo
directory, then prints one JSON line on standard output with everything a
client needs:

  authority_host  HTTPS base URL; the authority is <authority_host>/<tenant_id>
  tenant_id       the demo tenant
  cloud           the cloud impersonated (token issuers, Graph audience)
  graph_url       where the emulator serves Microsoft Graph (/v1.0/me, /v1.0/users, ...)
  ca_cert_file    PEM file of the CA to trust (the emulator speaks HTTPS only)
  daemon, api, public_client, obo_api, user
                  the demo apps and user: IDs, secrets, scopes, certificate files

Messages go to standard error. The emulator serves until interrupted: press
Ctrl-C or send SIGTERM. It then exits with status 0.

Examples:
  entra emulator --auto-approve
  entra emulator --cloud usgov --dir ./emulator --token-lifetime 2h

  # then, in another shell, with the values it printed:
  entra token --authority-host https://127.0.0.1:PORT --ca-file ca.pem \
    --tenant TENANT --client-id DAEMON_ID --secret DAEMON_SECRET --scope API_APP_ID_URI/.default

flags:
`

// printEmulatorUsage writes the help of "entra emulator".
func printEmulatorUsage(w io.Writer) {
	fmt.Fprint(w, emulatorUsage)
	fs := newEmulatorFlagSet(&emulatorFlags{})
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\n"+exitCodes)
}

// runEmulator starts the emulator, prints its settings and serves until ctx is done.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f emulatorFlags
	fs := newEmulatorFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printEmulatorUsage(stdout)
			return nil
		}
		return usageError{err.Error() + " (run 'entra emulator -h' for the flags)"}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (run 'entra emulator -h' for the flags)", fs.Arg(0))}
	}
	c, err := parseCloud(f.cloud)
	if err != nil {
		return err
	}
	switch {
	case f.lifetime < 0 || (f.lifetime > 0 && f.lifetime < time.Minute):
		return usageError{fmt.Sprintf("--token-lifetime %v is out of range: use 0 (Entra's lifetimes) or at least 1m", f.lifetime)}
	case f.lifetime > 0 && f.lifetime <= 5*time.Minute:
		fmt.Fprintf(stderr, "entra emulator: note: with --token-lifetime %v, MSAL Go will not cache tokens (it keeps only those living over 5m), so every call fetches one\n", f.lifetime)
	}

	opts := &entratest.Options{Addr: f.addr, Cloud: c, TokenLifetime: f.lifetime}
	srv, err := entratest.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	demo, err := srv.SeedDemo()
	if err != nil {
		return err
	}
	if f.autoApprove {
		srv.SetAutoApproveUser(demo.User.Username)
	}

	outDir := f.dir
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "entra-emulator-"); err != nil {
			return err
		}
		defer os.RemoveAll(outDir)
	} else if err := os.MkdirAll(outDir, 0o700); err != nil {
		return err
	}
	info := emulatorInfo{AuthorityHost: srv.URL, TenantID: demo.TenantID, Cloud: string(c), GraphURL: srv.GraphURL()}
	files := []struct {
		dst  *string
		name string
		data []byte
		mode os.FileMode
	}{
		{&info.CACertFile, "ca.pem", srv.CACertPEM(), 0o644},
		{&info.Daemon.CertFile, "daemon-cert.pem", demo.Daemon.CertPEM, 0o644},
		{&info.Daemon.KeyFile, "daemon-key.pem", demo.Daemon.KeyPEM, 0o600},
	}
	for _, f := range files {
		p := filepath.Join(outDir, f.name)
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		*f.dst = p
	}
	info.Daemon.ClientID, info.Daemon.ClientSecret = demo.Daemon.ClientID, demo.Daemon.ClientSecret
	info.API.ClientID, info.API.AppIDURI, info.API.Scope, info.API.Role = demo.API.ClientID, demo.API.AppIDURI, demo.API.Scope, demo.API.Role
	info.PublicClient.ClientID, info.PublicClient.RedirectURI = demo.PublicClient.ClientID, demo.PublicClient.RedirectURI
	info.OBOAPI.ClientID, info.OBOAPI.ClientSecret = demo.OBOAPI.ClientID, demo.OBOAPI.ClientSecret
	info.OBOAPI.AppIDURI, info.OBOAPI.Scope = demo.OBOAPI.AppIDURI, demo.OBOAPI.Scope
	info.User.Username = demo.User.Username

	line, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "entra emulator: serving %s (cloud %s); press Ctrl-C to stop\n", srv.URL, c)
	<-ctx.Done()
	fmt.Fprintln(stderr, "entra emulator: stopped")
	return nil
}

// parseCloud maps a --cloud value to the emulator's cloud.
func parseCloud(name string) (entratest.Cloud, error) {
	switch c := entratest.Cloud(strings.ToLower(strings.TrimSpace(name))); c {
	case entratest.CloudPublic, entratest.CloudChina, entratest.CloudUSGov, entratest.CloudUSGovDoD, entratest.CloudGermany:
		return c, nil
	}
	return "", usageError{fmt.Sprintf("unknown --cloud %q: use public, china, usgov, usgovdod or germany", name)}
}
