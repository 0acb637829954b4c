package store_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/store"
)

// A web app instance in a child process: this test binary re-run with
// ENTRA_STORE_WEBAPP_CHILD set. The process_test.go TestMain answers to
// ENTRA_STORE_HELPER only, so the child is dispatched here, from init,
// before TestMain (it uses nothing of package testing).
func init() {
	if os.Getenv("ENTRA_STORE_WEBAPP_CHILD") == "" {
		return
	}
	if err := runWebAppChild(); err != nil {
		fmt.Fprintln(os.Stderr, "webapp child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// webEmu is an emulator with the demo directory; with
// StrictRefreshTokens and 4-minute access tokens, which MSAL treats as
// expired (less than 5 minutes left), every token call past the
// in-memory cache redeems the account's refresh token.
type webEmu struct {
	srv    *entratest.Server
	demo   *entratest.Demo
	caFile string
}

func newWebEmu(t testing.TB) *webEmu {
	t.Helper()
	srv := entratest.NewTestServer(t, &entratest.Options{StrictRefreshTokens: true, TokenLifetime: 4 * time.Minute})
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	e := &webEmu{srv: srv, demo: demo, caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(e.caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// webAppReg is the demo web app's registration, as a child gets it.
type webAppReg struct{ TenantID, ClientID, Secret, RedirectURI string }

func (e *webEmu) reg() webAppReg {
	return webAppReg{e.demo.TenantID, e.demo.WebApp.ClientID, e.demo.WebApp.ClientSecret, e.demo.WebApp.RedirectURI}
}

// webAppOn returns the web app reg of the emulator at url (trusted
// through pool) keeping its accounts in st.
func webAppOn(url string, pool *x509.CertPool, reg webAppReg, st entra.Store) (*entra.WebApp, error) {
	cloud, err := entra.Public.WithAuthorityHost(url)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return entra.NewWebApp(reg.TenantID, reg.ClientID, reg.RedirectURI, entra.ClientSecret(reg.Secret),
		&entra.Options{Cloud: cloud, HTTPClient: hc, DisableInstanceDiscovery: true, Store: st, StoreTimeout: 5 * time.Second})
}

// signIn signs the demo user in to app for the demo API as a browser
// would: StartSignIn, the emulator's /authorize (which signs the user in
// at once and redirects), and the callback request to CompleteSignIn.
func (e *webEmu) signIn(t testing.TB, app *entra.WebApp) entra.Account {
	t.Helper()
	ctx := context.Background()
	u, pending, err := app.StartSignIn(ctx, &entra.SignInOptions{LoginHint: e.demo.User.Username}, e.demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	browser := *e.srv.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(callback, "code=") {
		t.Fatalf("authorize: %d, redirect %q", resp.StatusCode, callback)
	}
	acct, err := app.CompleteSignIn(ctx, httptest.NewRequest(http.MethodGet, callback, nil), pending)
	if err != nil {
		t.Fatal(err)
	}
	return acct
}

// webChild is a running web app instance process.
type webChild struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startWebChild starts a web app instance process on the File store in
// dir (sealed with key) serving acct, and waits until it is ready. It is
// killed when the test ends.
func (e *webEmu) startWebChild(t testing.TB, name, dir string, key []byte, acct entra.Account) *webChild {
	t.Helper()
	a, _ := json.Marshal(acct)
	reg, _ := json.Marshal(e.reg())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"ENTRA_STORE_WEBAPP_CHILD=1",
		"ENTRA_CHILD_URL="+e.srv.URL,
		"ENTRA_CHILD_CA="+e.caFile,
		"ENTRA_CHILD_APP="+string(reg),
		"ENTRA_CHILD_ACCOUNT="+string(a),
		"ENTRA_CHILD_DIR="+dir,
		"ENTRA_CHILD_KEY="+hex.EncodeToString(key),
	)
	c := &webChild{t: t, name: name, cmd: cmd, lines: make(chan string, 4), stderr: &syncBuffer{}}
	cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
	if got := c.read(); got != "ready" {
		t.Fatalf("%s: got %q, want ready; stderr:\n%s", name, got, c.stderr)
	}
	return c
}

func (c *webChild) read() string {
	select {
	case l, ok := <-c.lines:
		if ok {
			return l
		}
	case <-time.After(time.Minute):
	}
	return ""
}

// do sends one command and returns the answer.
func (c *webChild) do(cmd string) string {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatalf("%s: %v; stderr:\n%s", c.name, err, c.stderr)
	}
	got := c.read()
	if got == "" {
		c.t.Fatalf("%s: no answer to %q; stderr:\n%s", c.name, cmd, c.stderr)
	}
	return got
}

// runWebAppChild serves the parent's commands, one per stdin line:
// "token <scope>" starts the web app anew (an empty in-memory cache, as
// after a restart, sharing the File store), gets the account's token for
// scope and answers "ok <oid of the token>" or "err <error>".
func runWebAppChild() error {
	var reg webAppReg
	var acct entra.Account
	if err := json.Unmarshal([]byte(os.Getenv("ENTRA_CHILD_APP")), &reg); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(os.Getenv("ENTRA_CHILD_ACCOUNT")), &acct); err != nil {
		return err
	}
	key, err := hex.DecodeString(os.Getenv("ENTRA_CHILD_KEY"))
	if err != nil {
		return err
	}
	r, err := store.NewKeyRing(key)
	if err != nil {
		return err
	}
	f, err := store.NewFile(r, &store.FileOptions{Dir: os.Getenv("ENTRA_CHILD_DIR")})
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(os.Getenv("ENTRA_CHILD_CA"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return errors.New("no CA certificate")
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		scope, ok := strings.CutPrefix(in.Text(), "token ")
		if !ok {
			return fmt.Errorf("unknown command %q", in.Text())
		}
		app, err := webAppOn(os.Getenv("ENTRA_CHILD_URL"), pool, reg, f)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		tok, err := app.Token(ctx, acct, scope)
		cancel()
		app.Close()
		if err != nil {
			fmt.Println("err " + strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Println("ok " + jwtClaim(tok.AccessToken, "oid"))
	}
	return in.Err()
}

// jwtClaim returns a string claim of a JWT (decoded, not verified).
func jwtClaim(jwt, name string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

// A user signs in to a web app once; two instances of the app, in two
// processes sharing a File store, then take turns, 100 each, each turn
// as a restarted instance (nothing in memory) whose token call redeems
// the account's refresh token. Entra rotates the refresh token on every
// redemption and (StrictRefreshTokens) refuses a redeemed one: each
// instance must redeem the one the other saved. All 200 calls succeed
// with exactly 200 redemptions, none of them refused.
func TestRefreshTokenRotationAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes, 200 token calls")
	}
	e := newWebEmu(t)
	dir, key := filepath.Join(t.TempDir(), "cache"), randomKey(t)
	f, err := store.NewFile(ring(t, key), &store.FileOptions{Dir: dir})
	if errors.Is(err, store.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	app, err := webAppOn(e.srv.URL, e.srv.CertPool(), e.reg(), f)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	acct := e.signIn(t, app)
	app.Close()

	instances := []*webChild{e.startWebChild(t, "instance A", dir, key, acct), e.startWebChild(t, "instance B", dir, key, acct)}
	e.srv.ResetCounters()
	const turns = 100
	failures := 0
	start := time.Now()
	for turn := range turns {
		for _, c := range instances {
			got := c.do("token " + e.demo.API.Scope)
			if got != "ok "+e.demo.User.ObjectID {
				failures++
				if failures <= 3 {
					t.Errorf("%s, turn %d: %s", c.name, turn+1, got)
				}
			}
		}
	}
	took := time.Since(start)
	redeemed, refused := 0, 0
	for _, r := range e.srv.Requests() {
		if r.Grant == "refresh_token" {
			redeemed++
			if r.Status != http.StatusOK {
				refused++
			}
		}
	}
	t.Logf("%d turns of 2 processes in %v: %d failures, %d refresh-token redemptions, %d refused",
		turns, took.Round(time.Millisecond), failures, e.srv.GrantCount("refresh_token"), refused)
	if failures != 0 {
		t.Fatalf("%d of %d token calls failed", failures, 2*turns)
	}
	if got := e.srv.GrantCount("refresh_token"); got != 2*turns || redeemed != 2*turns {
		t.Errorf("refresh-token redemptions: %d (log %d), want %d", got, redeemed, 2*turns)
	}
	if refused != 0 {
		t.Errorf("%d redemptions refused: an instance redeemed a refresh token the other had already redeemed", refused)
	}
}
