package bench

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// entries is the number of cached scope sets for BenchmarkCachedTokenManyScopes.
var entries = flag.Int("entries", 10000, "scope sets cached per library in BenchmarkCachedTokenManyScopes")

// env is the one emulator every test and benchmark of the process talks to.
type env struct {
	s    *entratest.Server
	demo *entratest.Demo

	extraOnce sync.Once
	extra     []string // "<AppIDURI>/.default" of the extra API apps
	extraErr  error

	// Clients whose caches hold a token per extra scope, one per library
	// (entra-tokensource and entra-credential share popEntra).
	popEntra, popMSAL, popAz populated
}

// theEnv is set by TestMain before any test runs and read-only afterwards.
var theEnv *env

// TestMain starts one emulator for the whole process: NewTestServer would
// close it when the first test or benchmark using it ends, so NewServer is
// used and the server closed after the run.
func TestMain(m *testing.M) {
	flag.Parse()
	// A long lifetime (refresh_in is then lifetime/2 = 12h) keeps every
	// library from refreshing during a long run: only cache hits and cold
	// fetches are measured.
	s, err := entratest.NewServer(&entratest.Options{TokenLifetime: 24 * time.Hour})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	demo, err := s.SeedDemo()
	if err != nil {
		s.Close()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	theEnv = &env{s: s, demo: demo}
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// apiScope is the demo API's app-only scope.
func (e *env) apiScope() string { return e.demo.API.AppIDURI + "/.default" }

// extraScopes registers *entries extra API apps in the demo tenant, once
// per process, and returns their "<AppIDURI>/.default" scopes.
func (e *env) extraScopes(tb testing.TB) []string {
	tb.Helper()
	e.extraOnce.Do(func() {
		n := *entries
		if n < 1 {
			e.extraErr = fmt.Errorf("bench: -entries must be at least 1, got %d", n)
			return
		}
		scopes := make([]string, n)
		for i := range n {
			id := fmt.Sprintf("be0c0000-0000-4000-8000-%012x", i)
			app := entratest.App{
				ClientID:                   id,
				DisplayName:                fmt.Sprintf("bench-api-%d", i),
				AppIDURI:                   "api://" + id,
				AccessTokenAcceptedVersion: 2,
			}
			if err := e.s.AddApp(e.demo.TenantID, app); err != nil {
				e.extraErr = err
				return
			}
			scopes[i] = app.AppIDURI + "/.default"
		}
		e.extra = scopes
	})
	if e.extraErr != nil {
		tb.Fatal(e.extraErr)
	}
	return e.extra
}

// grants returns the number of client credentials requests the emulator
// has answered so far.
func (e *env) grants() int { return e.s.GrantCount("client_credentials") }
