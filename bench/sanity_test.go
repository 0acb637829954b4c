package bench

import (
	"context"
	"sync"
	"testing"
)

// TestComparisonSanity checks that every library in the comparison really
// gets a valid token from the emulator with one request and then serves it
// from its cache, so that the benchmarks measure real work; and that entra
// makes exactly one request for coldCallers concurrent cold callers.
func TestComparisonSanity(t *testing.T) {
	e := theEnv
	v := e.newVerifier(t)
	for _, l := range cachedLibs {
		t.Run(string(l), func(t *testing.T) {
			g := freshGetter(t, l, e.apiScope())
			before := e.grants()
			tok, err := g.get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := v.check(tok); err != nil {
				t.Fatal(err)
			}
			if got := e.grants() - before; got != 1 {
				t.Errorf("token requests for a cold get: got %d, want 1", got)
			}
			again, err := g.get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if again != tok {
				t.Error("second get returned a different token, want the cached one")
			}
			if got := e.grants() - before; got != 1 {
				t.Errorf("token requests after a cached get: got %d, want 1", got)
			}
		})
	}
	t.Run("cold-concurrent", func(t *testing.T) {
		for _, l := range coldLibs {
			g := freshGetter(t, l, e.apiScope())
			before := e.grants()
			toks := coldTokens(t, g)
			n := e.grants() - before
			for _, tok := range toks {
				if err := v.check(tok); err != nil {
					t.Fatalf("%s: %v", l, err)
				}
			}
			if l == libEntraCred && n != 1 {
				t.Errorf("%s: token requests for %d concurrent cold callers: got %d, want 1", l, coldCallers, n)
			}
			t.Logf("%s: %d token requests for %d concurrent cold callers", l, n, coldCallers)
		}
	})
}

// coldTokens makes coldCallers goroutines ask g for its token at once and
// returns the tokens they got.
func coldTokens(t *testing.T, g *getter) []string {
	t.Helper()
	start := make(chan struct{})
	toks := make([]string, coldCallers)
	errs := make([]error, coldCallers)
	var wg sync.WaitGroup
	for i := range coldCallers {
		wg.Go(func() {
			<-start
			toks[i], errs[i] = g.get(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return toks
}
