package entra

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// A metadata document whose token_endpoint names another host gets
// nothing sent there: through NewClientSecretCredential, the secret goes
// only to the authority host and the cloud's aliases.
func TestCredentialNeverPostsToAForeignTokenEndpoint(t *testing.T) {
	var thiefHits atomic.Int32
	thief := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		thiefHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"stolen"}`)
	}))
	defer thief.Close()
	auth := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"token_endpoint":         thief.URL + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint": "https://" + r.Host + "/" + tenant + "/oauth2/v2.0/authorize",
			"issuer":                 "https://" + r.Host + "/" + tenant + "/v2.0",
		})
	}))
	defer auth.Close()
	pool := x509.NewCertPool()
	pool.AddCert(thief.Certificate())
	pool.AddCert(auth.Certificate())
	cloud, err := Public.WithAuthorityHost(auth.URL)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := NewClientSecretCredential("72f988bf-86f1-41af-91ab-2d7cd011db47", "00000000-0000-0000-0000-00000000abcd", "the-secret-value",
		&Options{Cloud: cloud, DisableInstanceDiscovery: true,
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.Token(t.Context(), "api://x/.default")
	if !errors.Is(err, ErrUntrustedHost) {
		t.Errorf("got %v, want ErrUntrustedHost", err)
	}
	if got := thiefHits.Load(); got != 0 {
		t.Errorf("the foreign token endpoint saw %d requests, want 0", got)
	}
}

// Many callers on many scopes, with evictions (the cap is below the number
// of scopes), sweeps and installs racing while the clock runs for hours
// with suspends: no caller ever gets a token past its expiry, and at the
// end every entry is bounded and every timer accounted for. Run with -race.
func TestConcurrentCallersSweepsAndEvictions(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: 10 * time.Minute}
	c := newTestCache(t, f, &Options{MaxCacheEntries: 8, IdleTTL: 2 * time.Second})
	const scopes = 12
	sources := make([]*tokenSource, scopes)
	for i := range sources {
		sources[i] = testSource(t, c, fmt.Sprintf("api://s%d/.default", i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, stale atomic.Int64
	// A caller may get the pre-suspend token until the first tick after
	// the resume (the documented window, at most tickInterval): the hot
	// path reads no clock. Calls that start after that window are checked.
	var resumedAt atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				before := fc.Now()
				var got *oauth2.Token
				var err error
				if i%3 == 0 {
					got, err = sources[i%scopes].Token()
				} else {
					got, _, err = c.entry(testSet(t, fmt.Sprintf("api://s%d/.default", i%scopes))).slow(context.Background())
				}
				if err != nil {
					continue
				}
				tok, expiry := got.AccessToken, got.Expiry
				calls.Add(1)
				if !expiry.After(before) && before.After(time.Unix(0, resumedAt.Load()).Add(tickInterval)) {
					stale.Add(1)
					t.Errorf("got %s expired at %v, asked at %v", tok, expiry, before)
				}
			}
		}()
	}
	for step := range 3000 {
		if step%500 == 499 {
			resumedAt.Store(fc.Now().Add(time.Hour).UnixNano())
			fc.Suspend(time.Hour)
		}
		fc.Advance(3 * time.Second)
		// Let the callers run between steps.
		for n, deadline := calls.Load(), time.Now().Add(5*time.Millisecond); calls.Load() < n+4 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Microsecond)
		}
	}
	close(stop)
	wg.Wait()
	if calls.Load() == 0 {
		t.Fatal("no call succeeded")
	}
	if got := c.len(); got > 8 {
		t.Errorf("entries: got %d, want at most 8", got)
	}
	fc.Advance(time.Hour) // everything expires and idles out
	fc.Advance(time.Minute)
	if got := fc.pending(); got > 0 {
		t.Errorf("timers left after everything expired and idled: %d", got)
	}
}
