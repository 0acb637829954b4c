package entra

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// entryMemLimit is the promise of issues 7 and 8: the cache's memory per
// entry beyond the access token's own bytes (MSAL Go: about 3.2 KiB).
const entryMemLimit = 512

// entryTokenLen is the access token length the memory tests use: 1.5 KiB,
// a typical Entra access token, and a size class of Go's allocator, so the
// token's heap footprint is exactly its length and nothing the token's
// allocation rounds up is charged to (or hidden in) the cache.
const entryTokenLen = 1536

// Memory per cached app-only entry beyond the access token's own bytes,
// measured over 20,000 entries with 1.5 KiB tokens, each installed as a
// fetch from Entra would install it. The scope strings are the caller's and
// exist before the measurement; everything the cache allocates for an entry
// (entry, index, schedule, key, scope slice, token and its times) counts.
func TestCacheEntryMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 20,000 entries")
	}
	const n = 20_000
	c, err := NewClientSecretCredential(benchTenant, benchClient, "s", &Options{MaxCacheEntries: n + 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	scopes := make([]string, n)
	for i := range scopes {
		scopes[i] = fmt.Sprintf("api://%08x-0000-4000-8000-%012x/.default", i, i)
	}
	pad := strings.Repeat("x", entryTokenLen)
	exp := time.Now().Add(time.Hour)

	before := heapInUse()
	for i, s := range scopes {
		set, err := appScopes(c.Cloud(), []string{s})
		if err != nil {
			t.Fatal(err)
		}
		at := fmt.Sprintf("%08d", i) + pad[8:] // a new string per entry
		if _, _, err := c.cache.install(c.cache.entry(set), c.cache.seq.Add(1), tokenResult{accessToken: at, expiresOn: exp}, "", "entra"); err != nil {
			t.Fatal(err)
		}
	}
	after := heapInUse()

	if got := c.cache.len(); got != n {
		t.Fatalf("entries: got %d, want %d", got, n)
	}
	// Every entry serves its own token: nothing measured was dropped.
	for _, i := range []int{0, n / 2, n - 1} {
		tok, err := c.Token(context.Background(), scopes[i])
		if err != nil || !strings.HasPrefix(tok.AccessToken, fmt.Sprintf("%08d", i)) {
			t.Fatalf("entry %d: got %v, %v", i, tok, err)
		}
	}
	perEntry := (float64(after) - float64(before)) / n
	beyond := perEntry - entryTokenLen
	t.Logf("%.0f B per entry, %.0f B beyond the access token's %d B (limit %d B)", perEntry, beyond, entryTokenLen, entryMemLimit)
	if raceEnabled {
		t.Skip("the race detector adds shadow memory to every allocation: the bound holds without -race")
	}
	if beyond > entryMemLimit {
		t.Errorf("memory per entry beyond the token: %.0f B, want at most %d B", beyond, entryMemLimit)
	}
	runtime.KeepAlive(scopes)
	runtime.KeepAlive(c)
}
