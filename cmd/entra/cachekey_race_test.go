package main

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentFirstRunsShareOneCacheKey is a regression test (found by review). Before the fix:
// two first runs of 'entra token' at once (a script starting
// two in the background, parallel CI steps sharing a home) race on
// cache.key: the loser of O_EXCL reads the file before the winner wrote
// the key, fails with "cache.key: ... (delete it to make a new one; the
// cache is then cleared)", and a user who follows that advice deletes
// the winner's good key.
func TestConcurrentFirstRunsShareOneCacheKey(t *testing.T) {
	t.Setenv("ENTRA_CACHE_KEY", "")
	failures, rounds := 0, 200
	var first error
	for round := 0; round < rounds; round++ {
		cfg := t.TempDir()
		t.Setenv("XDG_CONFIG_HOME", cfg)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := cacheKey()
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				failures++
				if first == nil {
					first = err
				}
			}
		}
		if _, err := os.Stat(filepath.Join(cfg, "entra", "cache.key")); err != nil {
			t.Fatal(err)
		}
	}
	if failures > 0 {
		t.Errorf("%d of %d concurrent first runs failed to get the cache key; first: %v", failures, rounds*4, first)
	}
}
