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

// emulatorInfo is the one JSON line `entra emulator` prints: everything a client needs.
type emulatorInfo struct {
	AuthorityHost string `json:"authority_host"`
	TenantID      string `json:"tenant_id"`
	Cloud         string `json:"cloud"`
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

// runEmulator starts the emulator, prints its settings and serves until ctx is done.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	cloud := fs.String("cloud", "public", "cloud whose issuer hosts and Graph audience to impersonate: public, china, usgov, usgovdod, germany")
	lifetime := fs.Duration("token-lifetime", time.Hour, "access-token lifetime (refresh_in is sent for lifetimes of 2h and more)")
	autoApprove := fs.Bool("auto-approve", false, "approve device codes at once for the demo user (otherwise POST /emulator/devicecode/approve)")
	dir := fs.String("dir", "", "directory for the CA, certificate and key files (default: a new temporary directory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	c, err := parseCloud(*cloud)
	if err != nil {
		return err
	}
	if *lifetime < time.Minute {
		return usageError{fmt.Sprintf("--token-lifetime %v is too short: use at least 1m (clients such as MSAL Go refuse to cache tokens living under 5m)", *lifetime)}
	}

	opts := &entratest.Options{Addr: *addr, Cloud: c, TokenLifetime: *lifetime}
	srv, err := entratest.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	demo, err := srv.SeedDemo()
	if err != nil {
		return err
	}
	if *autoApprove {
		srv.SetAutoApproveUser(demo.User.Username)
	}

	outDir := *dir
	if outDir == "" {
		if outDir, err = os.MkdirTemp("", "entra-emulator-"); err != nil {
			return err
		}
		defer os.RemoveAll(outDir)
	} else if err := os.MkdirAll(outDir, 0o700); err != nil {
		return err
	}
	info := emulatorInfo{AuthorityHost: srv.URL, TenantID: demo.TenantID, Cloud: string(c)}
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
