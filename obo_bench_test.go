package entra

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// Benchmarks of the on-behalf-of hot path, beside MSAL Go's cached
// AcquireTokenOnBehalfOf in the same run. Run with:
//
//	go test -run '^$' -bench 'OnBehalfOf|MSALOnBehalfOf' -benchmem

const (
	benchTenant   = "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b"
	benchClient   = "1b2c3d4e-0004-4000-8000-00000000b001"
	benchScope    = "api://1b2c3d4e-0002-4000-8000-00000000a001/access_as_user"
	assertionSize = 1500 // a typical Entra access token
)

// benchAssertions returns n distinct, random-looking 1.5 KB JWT-shaped
// assertions as windows over one buffer (so 100,000 of them cost 1.6 MB,
// not 150 MB).
func benchAssertions(n int) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	r := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, n*16+assertionSize)
	for i := range buf {
		buf[i] = alphabet[r.IntN(len(alphabet))]
	}
	all := string(buf)
	out := make([]string, n)
	for i := range out {
		out[i] = all[i*16 : i*16+assertionSize]
	}
	return out
}

// oboBenchCred returns an OnBehalfOfCredential that is never meant to reach
// a network.
func oboBenchCred(tb testing.TB, o *OnBehalfOfOptions) *OnBehalfOfCredential {
	tb.Helper()
	c, err := NewOnBehalfOfCredential(benchTenant, benchClient, ClientSecret("s"), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// fillOBO caches a token for each assertion (installed directly: minting
// 100,000 tokens is not what is measured). tokenLen sets each access
// token's length.
func fillOBO(tb testing.TB, c *OnBehalfOfCredential, assertions []string, tokenLen int) {
	tb.Helper()
	exp := time.Now().Add(time.Hour)
	pad := strings.Repeat("x", tokenLen)
	for i, a := range assertions {
		acct := c.account('a', a)
		set, err := userScopes(c.s.cloud, string(acct[:]), []string{benchScope})
		if err != nil {
			tb.Fatal(err)
		}
		set.account = set.key[:accountLen]     // as OnBehalfOfCredential.userSet
		at := fmt.Sprintf("%08d", i) + pad[8:] // a new string per entry
		if _, _, err := c.cache.install(c.cache.entry(set), c.cache.seq.Add(1), tokenResult{accessToken: at, expiresOn: exp}, "", "entra"); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkOnBehalfOfCachedHit: OnBehalfOfCredential.Token for a random
// cached user on each call (1.5 KB assertions), at 100 and 100,000 users.
func BenchmarkOnBehalfOfCachedHit(b *testing.B) {
	for _, users := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			c := oboBenchCred(b, &OnBehalfOfOptions{Options: Options{MaxCacheEntries: users + 1}})
			assertions := benchAssertions(users)
			fillOBO(b, c, assertions, 100)
			order := randomOrder(users)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Token(ctx, assertions[order[i&(1<<16-1)]], benchScope); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// fakeEntra answers MSAL's metadata and OBO requests in process, with a
// token whatever the assertion: MSAL's cached path is what is measured.
type fakeEntra struct{}

func (fakeEntra) RoundTrip(r *http.Request) (*http.Response, error) {
	body := `{"token_type":"Bearer","expires_in":3600,"ext_expires_in":3600,"access_token":"` + strings.Repeat("t", 100) + `"}`
	if strings.Contains(r.URL.Path, "openid-configuration") {
		base := "https://" + r.URL.Host + "/" + benchTenant
		body = `{"token_endpoint":"` + base + `/oauth2/v2.0/token","authorization_endpoint":"` + base +
			`/oauth2/v2.0/authorize","issuer":"https://login.microsoftonline.com/` + benchTenant + `/v2.0"}`
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: r}, nil
}

// BenchmarkMSALOnBehalfOfCachedHit: MSAL Go's AcquireTokenOnBehalfOf
// answering from its own in-memory cache, a random cached user per call,
// for comparison with BenchmarkOnBehalfOfCachedHit in the same run.
func BenchmarkMSALOnBehalfOfCachedHit(b *testing.B) {
	for _, users := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			cred, err := confidential.NewCredFromSecret("s")
			if err != nil {
				b.Fatal(err)
			}
			app, err := confidential.New("https://login.microsoftonline.com/"+benchTenant, benchClient, cred,
				confidential.WithHTTPClient(&http.Client{Transport: fakeEntra{}}), confidential.WithInstanceDiscovery(false))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			assertions := benchAssertions(users)
			for _, a := range assertions {
				if _, err := app.AcquireTokenOnBehalfOf(ctx, a, []string{benchScope}); err != nil {
					b.Fatal(err)
				}
			}
			order := randomOrder(users)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := app.AcquireTokenOnBehalfOf(ctx, assertions[order[i&(1<<16-1)]], []string{benchScope}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Memory per cached user-scope entry beyond the access token's own bytes,
// measured over 100,000 entries: at most 512 B, the target (MSAL
// Go: about 3.2 KiB). This credential adds nothing per entry beyond the
// core's (the account shares the key's bytes); about 440 B: entry 160, its
// hot cell 32, snapshot with its oauth2.Token 128, the key 80, the scope
// slice 16, index and schedule slots about 30 (see TestCacheEntryMemory).
// The 1000-byte tokens occupy 1024 bytes each: those 24 are counted too.
func TestOnBehalfOfEntryMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 entries")
	}
	const n, tokenLen = 100_000, 1000
	c := oboBenchCred(t, &OnBehalfOfOptions{Options: Options{MaxCacheEntries: n + 1}})
	assertions := benchAssertions(n)
	before := heapInUse()
	fillOBO(t, c, assertions, tokenLen)
	after := heapInUse()
	perEntry := (float64(after) - float64(before)) / n
	beyond := perEntry - tokenLen
	t.Logf("%.0f B per entry, %.0f B beyond the access token's %d B", perEntry, beyond, tokenLen)
	if raceEnabled {
		t.Skip("the race detector adds shadow memory to every allocation: the bound holds without -race")
	}
	if beyond > entryMemLimit {
		t.Errorf("memory per entry beyond the token: %.0f B, want at most %d B", beyond, entryMemLimit)
	}
	runtime.KeepAlive(c)
}

// 1,000,000 distinct users passing through a credential with the default
// bounds: it never holds more than MaxCacheEntries entries, and the heap
// stays flat.
func TestOnBehalfOfMillionUsersFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("a million users")
	}
	t.Parallel()
	c := oboBenchCred(t, nil)
	const batch = 100_000
	users := 1_000_000
	if raceEnabled {
		users = 300_000 // the bound is reached after 10,000: still 30 times over it
	}
	var heaps []uint64
	for start := 0; start < users; start += batch {
		assertions := benchAssertions(batch)
		for i := range assertions {
			assertions[i] = fmt.Sprint(start+i) + assertions[i][10:] // distinct across batches
		}
		fillOBO(t, c, assertions, 100)
		if n := c.cache.len(); n > defaultMaxCacheEntries {
			t.Fatalf("after %d users: %d entries, want at most %d", start+batch, n, defaultMaxCacheEntries)
		}
		heaps = append(heaps, heapInUse())
	}
	// After the cache filled (the first batch), the heap does not grow.
	if first, last := heaps[1], heaps[len(heaps)-1]; float64(last) > 1.25*float64(first)+(4<<20) {
		t.Errorf("heap grew from %d to %d bytes over %d users", first, last, users)
	}
	t.Logf("heap after each 100,000 users: %v", heaps)
}
