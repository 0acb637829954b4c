package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/bearer"
	"github.com/entrakit/entra/entratest"
)

var _ = register(&command{
	name:    "demo",
	summary: "see every flow, the cache, clouds, Graph and inspect at work against an in-process emulator (about 6 s)",
	help:    printDemoUsage,
	run:     runDemo,
})

const demoUsage = `usage: entra demo

Starts the Entra ID emulator (package entratest) inside this process, with
a demo tenant, apps and user, and walks through what entra does, one or two
lines a step:

  1  client secret        an app-only token for the demo API, with its roles
  2  certificate          the same with a signed client assertion
  3  device code          the prompt a user sees; the emulator approves it
  4  authorization code   PKCE through the loopback listener, with an automated browser
  5  on-behalf-of         the user calls a web API protected by package bearer,
                          which calls Microsoft Graph /v1.0/me as that user
  6  cache                the cost of a cache hit beside a request to Entra, and
                          a background refresh that no caller waits for
  7  clouds               the cloud presets: authority hosts and Graph URLs
  8  Microsoft Graph      an app-only call to the emulator's Graph
  9  inspect              a token with a mistake in it, explained: findings and fixes

No Azure tenant, network access or file is needed: everything listens on
127.0.0.1 and is gone when the command ends, in a few seconds (the device
code step waits for Entra's 5-second polling interval). Tokens are never
printed, only their first characters and length. If a step fails, the
demo stops there: it prints FAILED, then one line on standard error naming
the step, with a hint, and exits 1.

Examples:
  entra demo
  go run ./cmd/entra demo        # from a clone of the repository
  entra demo && entra help token # then get tokens for real

flags:
  -h, --help   show this help
`

// printDemoUsage writes the help of "entra demo".
func printDemoUsage(w io.Writer) { fmt.Fprint(w, demoUsage+"\n"+exitCodes) }

// demoTimeout bounds the whole demo; it normally takes a few seconds.
const demoTimeout = time.Minute

// demo is the state the steps share.
type demo struct {
	out   io.Writer
	step  int    // the step being run, for emit
	name  string // its name
	lines int    // lines it printed
	start time.Time

	srv        *entratest.Server
	d          *entratest.Demo
	cloud      entra.Cloud      // the public cloud with the emulator's authority and Graph
	opts       entra.Options    // what every credential gets
	hc         *http.Client     // trusts the emulator and the middle-tier API
	api        *httptest.Server // the middle-tier web API of step 5
	obo        *entra.OnBehalfOfCredential
	val        *bearer.Validator
	apiDefault string // the demo API's app-only scope

	daemon  *entra.Credential     // step 1's, reused by 6, 8 and 9
	user    *entra.UserCredential // step 4's browser sign-in, used by step 5
	account entra.Account
	device  *deviceRun  // step 3, started before step 1
	refresh *refreshRun // step 6's second emulator, started before step 1
	closers []func()
}

// demoStep is one numbered step.
type demoStep struct {
	name string
	run  func(d *demo, ctx context.Context) error
}

var demoSteps = []demoStep{
	{"client secret", (*demo).secret},
	{"certificate", (*demo).certificate},
	{"device code", (*demo).deviceCode},
	{"authorization code", (*demo).browser},
	{"on-behalf-of", (*demo).onBehalfOf},
	{"cache", (*demo).cache},
	{"clouds", (*demo).clouds},
	{"Microsoft Graph", (*demo).graph},
	{"inspect", (*demo).inspect},
}

// runDemo runs "entra demo".
func runDemo(ctx context.Context, args []string, s stdio) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printDemoUsage(s.out)
			return nil
		}
		return usageError{err.Error() + " (entra demo takes no flags; run 'entra demo -h')"}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (entra demo takes none; run 'entra demo -h')", fs.Arg(0))}
	}
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	d := &demo{out: s.out, start: time.Now()}
	defer func() {
		cancel() // ends what still runs (a sign-in), then close waits for it
		d.close()
	}()
	if err := d.setup(ctx); err != nil {
		return fmt.Errorf("starting the emulator: %s — hint: the demo listens on 127.0.0.1 only; check that loopback networking works", trimEntra(err))
	}
	fmt.Fprintf(d.out, "entra demo: every flow against an in-process Entra ID emulator (no Azure tenant needed)\n")
	fmt.Fprintf(d.out, "   %-19s %s, tenant %s, user %s\n\n", "emulator", d.srv.URL, d.d.TenantID, d.d.User.Username)
	for i, st := range demoSteps {
		d.step, d.name, d.lines = i+1, st.name, 0
		if err := st.run(d, ctx); err != nil {
			d.emit("FAILED")
			return fmt.Errorf("step %d (%s) failed: %s", d.step, st.name, hinted(err))
		}
	}
	fmt.Fprintf(d.out, "\nok: %d steps in %s\n", len(demoSteps), ms(time.Since(d.start)))
	return nil
}

// emit prints one line of the current step: the first with its number and
// name, the others indented below it.
func (d *demo) emit(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if d.lines == 0 {
		fmt.Fprintf(d.out, "%d  %-19s %s\n", d.step, d.name, line)
	} else {
		fmt.Fprintf(d.out, "   %-19s %s\n", "", line)
	}
	d.lines++
}

// setup starts the emulator (and step 6's, and step 3's sign-in, which
// run meanwhile), the middle-tier API and the shared options.
func (d *demo) setup(ctx context.Context) error {
	d.refresh = startRefreshRun(ctx) // its own emulator: a key pair takes a while, so in parallel
	d.closers = append(d.closers, d.refresh.close)
	srv, err := entratest.NewServer(nil)
	if err != nil {
		return err
	}
	d.srv = srv
	d.closers = append(d.closers, srv.Close)
	if d.d, err = srv.SeedDemo(); err != nil {
		return err
	}
	d.apiDefault = d.d.API.AppIDURI + "/.default"
	if d.cloud, err = entra.Public.WithAuthorityHost(srv.URL); err != nil {
		return err
	}
	if d.cloud, err = d.cloud.WithGraphURL(srv.GraphURL()); err != nil {
		return err
	}
	// The middle tier of step 5, made first so that one HTTP client trusts
	// it and the emulator.
	d.val, err = bearer.New(d.d.TenantID, d.d.OBOAPI.ClientID, &bearer.Options{Cloud: d.cloud, HTTPClient: srv.Client()})
	if err != nil {
		return err
	}
	d.api = httptest.NewUnstartedServer(d.val.Middleware(http.HandlerFunc(d.serveMe)))
	d.api.StartTLS()
	d.closers = append(d.closers, d.api.Close)
	pool := srv.CertPool()
	pool.AddCert(d.api.Certificate())
	d.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true,
	}}
	apiURL, _ := url.Parse(d.api.URL)
	d.opts = entra.Options{Cloud: d.cloud, HTTPClient: d.hc, DisableInstanceDiscovery: true, AllowedHosts: []string{apiURL.Host}}
	d.obo, err = entra.NewOnBehalfOfCredential(d.d.TenantID, d.d.OBOAPI.ClientID, entra.ClientSecret(d.d.OBOAPI.ClientSecret),
		&entra.OnBehalfOfOptions{Options: d.opts})
	if err != nil {
		return err
	}
	d.closers = append(d.closers, func() { d.obo.Close() })
	// Step 3 waits for Entra's polling interval: start it now.
	d.device = d.startDeviceCode(ctx)
	d.closers = append(d.closers, d.device.close)
	return d.refresh.ready(ctx)
}

// close releases everything, last started first.
func (d *demo) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// short is how a token appears in the demo: its first four characters and
// its length.
func short(token string) string {
	if len(token) < 8 {
		return "(" + strconv.Itoa(len(token)) + " chars)"
	}
	return token[:4] + "…(" + thousands(len(token)) + " chars)"
}

// thousands formats n with commas: 1,203.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ms formats a duration for the demo: 3.2ms, 41µs, 1.2s.
func ms(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// list formats claims values: [a b].
func list(v []string) string { return "[" + strings.Join(v, " ") + "]" }

// trimEntra drops the "entra: " prefix of an error's text.
func trimEntra(err error) string { return strings.TrimPrefix(err.Error(), "entra: ") }

// hinted is err's text with a hint: entra's own, or a general one.
func hinted(err error) string {
	var e *entra.Error
	switch {
	case errors.As(err, &e) && e.Hint != "":
		return trimEntra(err)
	case errors.Is(err, context.Canceled):
		return trimEntra(err) + " — hint: the demo was interrupted; run it again to see every step"
	case errors.Is(err, context.DeadlineExceeded):
		return trimEntra(err) + " — hint: the demo ran out of time (it normally takes about 6 s); the machine may be overloaded: run it again"
	}
	return trimEntra(err) + " — hint: the demo runs in this process against its own emulator; run it again, and if it fails the same way report it with the output of 'entra version'"
}
