// Command webapp is a web app that signs users in with Microsoft Entra ID
// (entra.WebApp: authorization code with PKCE, state, nonce and a
// validated id token), keeps them in a server-side session, calls a
// custom API and Microsoft Graph /v1.0/me as the signed-in user, and signs
// them out.
//
// With no flags it is self-contained: it starts an embedded Entra ID
// emulator (package entratest) with the demo directory, a small protected
// API in-process (it verifies the token's signature, issuer, audience and
// scope), and serves the app on a loopback port:
//
//	go run ./examples/webapp             # open the printed URL
//	go run ./examples/webapp -selftest   # an automated browser walks through it
//
// (A real browser warns about the emulator's own CA; -selftest does not
// need one.) Against a real tenant, register a Web redirect URI
// http://localhost:5000/auth/callback and a client secret, then:
//
//	AZURE_CLIENT_SECRET=... go run ./examples/webapp -tenant <tenant> \
//	    -client-id <app-id> -addr localhost:5000 [-api-scope api://<api>/<scope>] [-cloud usgov]
//
// Pages: / (home), /login, /auth/callback, /profile (API and Graph),
// POST /logout. A session is an opaque random ID in an HttpOnly,
// SameSite=Lax cookie, mapped in memory to the entra.Account; the tokens
// stay in the WebApp. Behind several instances, give every instance the
// same Options.SignInKey and Options.Store, and keep sessions in a shared
// store too.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout)) }

// config is what the app needs, from flags and environment.
type config struct {
	mode                       string
	tenantID, clientID, secret string
	apiScope                   string // the custom API's delegated scope; "" skips the API
	opts                       entra.Options
	pool                       *x509.CertPool // roots trusted for Entra and the API
	addr                       string
	entraSignOut               bool // send the browser to Entra's sign-out page (the emulator has none)
	selftest                   bool
	emu                        *entratest.Server
	user                       string // embedded: the demo user's name
}

// run parses args, starts the app and serves until interrupted (or, with
// -selftest, walks through it once); it returns the exit code.
func run(args []string, out io.Writer) int {
	cfg, cleanup, err := configure(args, out)
	if err != nil {
		fmt.Fprintln(out, "webapp:", err)
		return 1
	}
	defer cleanup()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintln(out, "webapp:", err)
		return 1
	}
	base := "http://localhost:" + portOf(ln.Addr())

	api := newAPI(cfg)
	defer api.Close()
	srv, app, err := newServer(cfg, base, api)
	if err != nil {
		ln.Close()
		fmt.Fprintln(out, "webapp:", err)
		return 1
	}
	defer app.Close()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	fmt.Fprintf(out, "webapp: %s\n  app:   %s (redirect URI %s/auth/callback)\n  cloud: %s\n  API:   %s\n",
		cfg.mode, base, base, app.Cloud(), api.URL)
	if cfg.selftest {
		if err := selftest(cfg, base, out); err != nil {
			fmt.Fprintln(out, "selftest FAILED:", err)
			return 2
		}
		fmt.Fprintln(out, "selftest ok")
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintln(out, "open", base, "in a browser; Ctrl-C stops")
	<-ctx.Done()
	return 0
}

// configure reads flags and the environment: a real tenant with -tenant,
// else an embedded emulator seeded with the demo directory.
func configure(args []string, out io.Writer) (config, func(), error) {
	fs := flag.NewFlagSet("webapp", flag.ContinueOnError)
	fs.SetOutput(out)
	tenant := fs.String("tenant", "", "tenant ID or domain (empty: embedded emulator)")
	clientID := fs.String("client-id", "", "the web app's client ID (with -tenant; secret in AZURE_CLIENT_SECRET)")
	cloudName := fs.String("cloud", "public", "cloud: public, usgov, usgovdod, china")
	apiScope := fs.String("api-scope", "", "delegated scope of your API, e.g. api://<api-app-id>/access_as_user (with -tenant)")
	addr := fs.String("addr", "127.0.0.1:0", "listen address; the redirect URI is http://localhost:<port>/auth/callback")
	self := fs.Bool("selftest", false, "walk through sign-in, API, Graph and sign-out with an automated browser, then exit (embedded only)")
	if err := fs.Parse(args); err != nil {
		return config{}, nil, err
	}
	cfg := config{addr: *addr, selftest: *self}
	if *tenant != "" {
		if *self {
			return config{}, nil, errors.New("-selftest needs the embedded emulator: drop -tenant")
		}
		cloud, err := entra.CloudByName(*cloudName)
		if err != nil {
			return config{}, nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		cfg.mode = "real tenant " + *tenant
		cfg.tenantID, cfg.clientID, cfg.secret = *tenant, *clientID, os.Getenv("AZURE_CLIENT_SECRET")
		cfg.apiScope, cfg.pool, cfg.entraSignOut = *apiScope, pool, true
		cfg.opts = entra.Options{Cloud: cloud}
		if cfg.clientID == "" || cfg.secret == "" {
			return config{}, nil, errors.New("-client-id and AZURE_CLIENT_SECRET are required with -tenant")
		}
		return cfg, func() {}, nil
	}
	srv, err := entratest.NewServer(nil)
	if err != nil {
		return config{}, nil, err
	}
	demo, err := srv.SeedDemo()
	if err == nil {
		cfg.opts.Cloud, err = entra.Public.WithAuthorityHost(srv.URL)
	}
	if err == nil {
		cfg.opts.Cloud, err = cfg.opts.Cloud.WithGraphURL(srv.GraphURL())
	}
	if err != nil {
		srv.Close()
		return config{}, nil, err
	}
	cfg.mode = "embedded emulator (use -tenant for a real one)"
	cfg.tenantID, cfg.clientID, cfg.secret = demo.TenantID, demo.WebApp.ClientID, demo.WebApp.ClientSecret
	cfg.apiScope, cfg.pool, cfg.emu, cfg.user = demo.API.Scope, srv.CertPool(), srv, demo.User.Username
	cfg.opts.DisableInstanceDiscovery = true
	return cfg, srv.Close, nil
}

// portOf returns the port of a listener's address.
func portOf(a net.Addr) string {
	s := a.String()
	return s[strings.LastIndex(s, ":")+1:]
}
