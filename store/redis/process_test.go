package redisstore_test

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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/store"
	redisstore "github.com/entrakit/entra/store/redis"
	"github.com/redis/go-redis/v9"
)

// The multi-process tests re-run this test binary as a child process:
// with ENTRA_REDIS_CHILD set, TestMain runs that child (see children) and
// exits. A child reads its inputs from ENTRA_CHILD_* variables, prints
// "ready" once set up, and then serves the parent's commands, one line of
// stdin each, answering each with one line of stdout.
func TestMain(m *testing.M) {
	if kind := os.Getenv("ENTRA_REDIS_CHILD"); kind != "" {
		run := children[kind]
		if run == nil {
			fmt.Fprintln(os.Stderr, "child: unknown kind", kind)
			os.Exit(2)
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	closeOBOFixture()
	os.Exit(code)
}

// children are the kinds of child process, by ENTRA_REDIS_CHILD.
var children = map[string]func() error{
	"obo":    runOBOChild,
	"webapp": runWebAppChild,
}

// child is a running child process.
type child struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startChild starts a child of kind with env added, and waits for its
// "ready". It is killed when the test ends.
func startChild(t testing.TB, name, kind string, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ENTRA_REDIS_CHILD="+kind)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &child{t: t, name: name, cmd: cmd, lines: make(chan string, 16), stderr: &lockedBuffer{}}
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
		sc.Buffer(make([]byte, 64<<10), 1<<20)
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
	if got := c.read(time.Minute); got != "ready" {
		t.Fatalf("%s: got %q, want ready; stderr:\n%s", name, got, c.stderr)
	}
	return c
}

// send writes one command line to the child.
func (c *child) send(cmd string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		c.t.Fatalf("%s: %v; stderr:\n%s", c.name, err, c.stderr)
	}
}

// read returns the child's next line, "" when it exited or did not
// answer within d.
func (c *child) read(d time.Duration) string {
	select {
	case l, ok := <-c.lines:
		if ok {
			return l
		}
	case <-time.After(d):
	}
	return ""
}

// do sends cmd and returns the answer.
func (c *child) do(cmd string) string {
	c.t.Helper()
	c.send(cmd)
	got := c.read(time.Minute)
	if got == "" {
		c.t.Fatalf("%s: no answer to %q; stderr:\n%s", c.name, cmd, c.stderr)
	}
	return got
}

// The side of a child.

// commands yields the parent's command lines.
func commands() *bufio.Scanner { return bufio.NewScanner(os.Stdin) }

// answer writes one line (v as JSON unless a string) to the parent.
func answer(v any) {
	if s, ok := v.(string); ok {
		fmt.Println(s)
		return
	}
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// childOptions are the entra.Options of a child: the emulator of
// ENTRA_CHILD_URL trusted through the CA in ENTRA_CHILD_CA, with st.
func childOptions(st entra.Store) (entra.Options, error) {
	ca, err := os.ReadFile(os.Getenv("ENTRA_CHILD_CA"))
	if err != nil {
		return entra.Options{}, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return entra.Options{}, errors.New("no CA certificate")
	}
	cloud, err := entra.Public.WithAuthorityHost(os.Getenv("ENTRA_CHILD_URL"))
	if err != nil {
		return entra.Options{}, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return entra.Options{Cloud: cloud, HTTPClient: hc, DisableInstanceDiscovery: true, Store: st}, nil
}

// childStore is the Redis store of ENTRA_CHILD_REDIS, ENTRA_CHILD_PREFIX
// and ENTRA_CHILD_KEY (hex), counted.
func childStore() (*countingStore, error) {
	key, err := hex.DecodeString(os.Getenv("ENTRA_CHILD_KEY"))
	if err != nil {
		return nil, err
	}
	r, err := store.NewKeyRing(key)
	if err != nil {
		return nil, err
	}
	s, err := redisstore.New(&redis.UniversalOptions{Addrs: []string{os.Getenv("ENTRA_CHILD_REDIS")}}, r,
		&redisstore.Options{Prefix: os.Getenv("ENTRA_CHILD_PREFIX")})
	if err != nil {
		return nil, err
	}
	return &countingStore{Store: s}, nil
}

// countingStore counts a Store's calls.
type countingStore struct {
	entra.Store
	loads, hits, unavailable, saves, saveErrs atomic.Int64
	mu                                        sync.Mutex
	errs                                      map[string]int
}

func (s *countingStore) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Load(ctx, key)
	s.loads.Add(1)
	switch {
	case err == nil:
		s.hits.Add(1)
	case errors.Is(err, redisstore.ErrUnavailable):
		s.unavailable.Add(1)
	}
	return v, err
}

func (s *countingStore) Save(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := s.Store.Save(ctx, key, value, ttl)
	s.saves.Add(1)
	if err != nil {
		s.saveErrs.Add(1)
	}
	return err
}

// childEnv is what every child needs: the emulator and the Redis store.
func childEnv(t testing.TB, srv *entratest.Server, addr, prefix string, key []byte) map[string]string {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"ENTRA_CHILD_URL":    srv.URL,
		"ENTRA_CHILD_CA":     ca,
		"ENTRA_CHILD_REDIS":  addr,
		"ENTRA_CHILD_PREFIX": prefix,
		"ENTRA_CHILD_KEY":    hex.EncodeToString(key),
	}
}

// claim returns a claim of a JWT (decoded, not verified).
func claim(jwt, name string) string {
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
