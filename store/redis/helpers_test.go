package redisstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/store"
	redisstore "github.com/entrakit/entra/store/redis"
	"github.com/redis/go-redis/v9"
)

// inCI: in CI the Redis tests must run; elsewhere they skip without Redis.
func inCI() bool { return os.Getenv("CI") == "true" }

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skip(why)
}

// sharedAddr returns the address of the Redis that .ci/run started
// (ENTRA_TEST_REDIS_ADDR), checking it answers.
func sharedAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("ENTRA_TEST_REDIS_ADDR")
	if addr == "" {
		skipOrFail(t, "ENTRA_TEST_REDIS_ADDR is not set (.ci/run starts a redis-server and sets it)")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		skipOrFail(t, fmt.Sprintf("Redis at ENTRA_TEST_REDIS_ADDR=%s does not answer: %v", addr, err))
	}
	return addr
}

func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, store.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t testing.TB, keys ...[]byte) *store.KeyRing {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{randomKey(t)}
	}
	r, err := store.NewKeyRing(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// uniquePrefix keeps tests sharing one Redis apart.
func uniquePrefix(t testing.TB) string {
	return fmt.Sprintf("entratest:%s:%x:", t.Name(), randomKey(t)[:4])
}

func newStore(t testing.TB, addr string, r *store.KeyRing, o *redisstore.Options) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(&redis.UniversalOptions{Addrs: []string{addr}}, r, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string     { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
func (l *logBuffer) Count(s string) int { return strings.Count(l.String(), s) }

// redisProc is a redis-server this test started, to stop, pause and
// restart it.
type redisProc struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
}

func (p *redisProc) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// startRedis starts a private redis-server on a free port (no
// persistence), stopped when the test ends.
func startRedis(t testing.TB) *redisProc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server is not installed (apt-get install redis-server; .ci/run does it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := &redisProc{t: t, bin: bin, port: port}
	p.start()
	t.Cleanup(func() { p.Stop() })
	return p
}

func (p *redisProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes")
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("redis-server on %s did not start", p.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (idempotent).
func (p *redisProc) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		resume(p.cmd.Process)
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// Restart starts the server again on the same port, empty.
func (p *redisProc) Restart() { p.Stop(); p.start() }

// Pause stops the server's process (SIGSTOP): connections are accepted
// by the kernel but nothing answers. Resume continues it.
func (p *redisProc) Pause()  { pause(p.t, p.cmd.Process) }
func (p *redisProc) Resume() { resume(p.cmd.Process) }

// client returns a plain go-redis client of the server.
func (p *redisProc) client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: p.Addr()})
	t.Cleanup(func() { c.Close() })
	return c
}
