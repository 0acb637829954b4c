// Command obo-api is a web API that calls other APIs as its caller: it
// validates the user's access token (package bearer), then exchanges it
// on-behalf-of the user (entra.OnBehalfOfCredential) for tokens to a
// downstream custom API and to Microsoft Graph /v1.0/me.
//
//	client ──token for api://<middle tier>/access_as_user──▶ middle tier
//	middle tier ──OBO token for api://<downstream>/access_as_user──▶ downstream API
//	middle tier ──OBO token for Graph User.Read──▶ Graph /v1.0/me
//
// With no flags it is self-contained: it starts an embedded Entra ID
// emulator (package entratest) with the demo directory, the downstream API
// and the middle tier (both https, in-process), and a client that signs the
// demo user in with the device code flow (approved at once by the
// emulator) and calls the middle tier. It prints the chain, then two
// mistakes and how they are refused: a client sending its Graph token to
// the middle tier (401 from the middleware, with the reason), and the same
// Graph token given to the on-behalf-of credential (refused before any
// request to Entra).
//
//	go run ./examples/obo-api
//
// Against a real tenant, register the middle tier (a secret, a delegated
// scope access_as_user, delegated permission to Graph User.Read and to the
// downstream API's scope) and optionally a downstream API exposing
// access_as_user, then serve the middle tier (the downstream API runs
// in-process):
//
//	AZURE_CLIENT_SECRET=... go run ./examples/obo-api -tenant <tenant ID> \
//	    -client-id <middle tier app ID> [-api-client-id <downstream app ID>] \
//	    [-cloud usgov] [-addr 127.0.0.1:5001]
//
// and call GET /me with "Authorization: Bearer <token for
// api://<middle tier app ID>/access_as_user>", trusting the certificate
// it writes to a file and prints (made at start for 127.0.0.1: use your
// own in production).
package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout)) }

// config is what the example needs, from flags and environment.
type config struct {
	mode     string
	tenantID string
	midID    string // the middle tier's client ID
	midIDURI string // its App ID URI
	secret   string // the middle tier's client secret
	apiID    string // the downstream API's client ID ("": no downstream API)
	apiIDURI string
	cloud    entra.Cloud
	pool     *x509.CertPool // roots trusted for Entra and the in-process APIs
	addr     string         // real tenant: where the middle tier listens

	// Embedded mode only.
	emu                      *entratest.Server
	publicClientID           string
	disableInstanceDiscovery bool
}

// scope returns appIDURI's delegated scope access_as_user.
func scope(appIDURI string) string { return appIDURI + "/access_as_user" }

// run parses args, starts the APIs and, embedded, runs the client once;
// it returns the exit code (0 ok, 1 setup, 2 the chain failed).
func run(args []string, out io.Writer) int {
	cfg, cleanup, err := configure(args, out)
	if err != nil {
		fmt.Fprintln(out, "obo-api:", err)
		return 1
	}
	defer cleanup()

	downstream, err := startDownstream(cfg)
	if err != nil {
		fmt.Fprintln(out, "obo-api:", err)
		return 1
	}
	if downstream != nil {
		defer downstream.Close()
		cfg.pool.AddCert(downstream.Certificate())
	}
	mid, err := startMiddleTier(cfg, downstream)
	if err != nil {
		fmt.Fprintln(out, "obo-api:", err)
		return 1
	}
	defer mid.Close()

	fmt.Fprintf(out, "obo-api: %s\n", cfg.mode)
	fmt.Fprintf(out, "  cloud:       %s (authority %s, Graph %s)\n", cfg.cloud.Name(), cfg.cloud.AuthorityHost(), cfg.cloud.GraphURL())
	fmt.Fprintf(out, "  middle tier: %s (%s)\n", mid.URL, scope(cfg.midIDURI))
	if downstream != nil {
		fmt.Fprintf(out, "  downstream:  %s (%s)\n", downstream.URL, scope(cfg.apiIDURI))
	}
	if cfg.emu == nil {
		return serve(cfg, mid, out)
	}
	if err := runClient(cfg, mid, out); err != nil {
		fmt.Fprintln(out, "FAILED:", err)
		return 2
	}
	fmt.Fprintln(out, "ok")
	return 0
}

// serve (real tenant) waits for callers until interrupted. The middle
// tier's certificate, made at start, is written to a file for the caller
// to trust.
func serve(cfg *config, mid *middleTier, out io.Writer) int {
	f, err := os.CreateTemp("", "obo-api-*.pem")
	if err == nil {
		err = pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: mid.Certificate().Raw})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		defer os.Remove(f.Name())
	}
	if err != nil {
		fmt.Fprintln(out, "obo-api:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(out, "call it with a token for %s, e.g.\n  curl --cacert %s -H \"Authorization: Bearer $TOKEN\" %s/me\nCtrl-C stops\n",
		scope(cfg.midIDURI), f.Name(), mid.URL)
	<-ctx.Done()
	return 0
}

// configure reads flags and the environment: a real tenant with -tenant,
// else an embedded emulator seeded with the demo directory.
func configure(args []string, out io.Writer) (*config, func(), error) {
	fs := flag.NewFlagSet("obo-api", flag.ContinueOnError)
	fs.SetOutput(out)
	tenant := fs.String("tenant", "", "tenant ID (GUID) of a real tenant (empty: embedded emulator)")
	clientID := fs.String("client-id", "", "the middle tier's client ID (with -tenant; secret in AZURE_CLIENT_SECRET)")
	apiID := fs.String("api-client-id", "", "the downstream API's client ID (with -tenant; empty: Graph only)")
	cloudName := fs.String("cloud", "public", "cloud: public, usgov, usgovdod, china")
	addr := fs.String("addr", "127.0.0.1:5001", "with -tenant: where the middle tier listens (https)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if *tenant != "" {
		cloud, err := entra.CloudByName(*cloudName)
		if err != nil {
			return nil, nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		cfg := &config{mode: "real tenant " + *tenant, tenantID: *tenant, midID: *clientID, midIDURI: "api://" + *clientID,
			secret: os.Getenv("AZURE_CLIENT_SECRET"), apiID: *apiID, apiIDURI: "api://" + *apiID,
			cloud: cloud, pool: pool, addr: *addr}
		if cfg.midID == "" || cfg.secret == "" {
			return nil, nil, errors.New("-client-id and AZURE_CLIENT_SECRET are required with -tenant")
		}
		return cfg, func() {}, nil
	}

	srv, err := entratest.NewServer(nil)
	if err != nil {
		return nil, nil, err
	}
	demo, err := srv.SeedDemo()
	var cloud entra.Cloud
	if err == nil {
		cloud, err = entra.Public.WithAuthorityHost(srv.URL)
	}
	if err == nil {
		cloud, err = cloud.WithGraphURL(srv.GraphURL()) // the emulator serves Graph too
	}
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	srv.SetAutoApproveUser(demo.User.Username) // the device code is approved as soon as it is shown
	cfg := &config{mode: "embedded emulator (use -tenant for a real one)", tenantID: demo.TenantID,
		midID: demo.OBOAPI.ClientID, midIDURI: demo.OBOAPI.AppIDURI, secret: demo.OBOAPI.ClientSecret,
		apiID: demo.API.ClientID, apiIDURI: demo.API.AppIDURI,
		cloud: cloud, pool: srv.CertPool().Clone(),
		emu: srv, publicClientID: demo.PublicClient.ClientID, disableInstanceDiscovery: true}
	return cfg, srv.Close, nil
}
