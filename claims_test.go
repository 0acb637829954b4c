package entra

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/entrakit/entra/entratest"
)

// Installs are ordered by when their fetch started: a plain refresh that
// started before a claims fetch but ends after it does not replace the
// claims token.
func TestOlderFetchDoesNotOverwriteClaimsToken(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, plainOnly: true}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()
	first, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	f.set(nil, gate)
	fc.Advance(31 * time.Minute)
	mustToken(t, ts) // starts the background refresh, held by the gate
	waitUntil(t, "the refresh to start", func() bool { return f.count() == 2 })

	tok, err := e.claimsToken(context.Background(), first, `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)
	if err != nil || tok.AccessToken != "token-3" {
		t.Fatalf("claims token: got %v, %v; want token-3", tok, err)
	}
	close(gate) // the older plain refresh ends now
	waitUntil(t, "the refresh to end", func() bool { return !e.refreshing.Load() })
	if got := mustToken(t, ts); got != "token-3" {
		t.Errorf("after the older refresh ended: got %q, want the newer claims token-3", got)
	}
}

// Challenges are not amplified: concurrent requests challenged with the
// same claims share one fetch; a request whose token already carried the
// claims gets none; challenge-driven fetches are rate-limited per entry.
func TestClaimsFetchesAreBounded(t *testing.T) {
	fc := newFakeClock(time.Now())
	f := &fakeFetcher{clock: fc, lifetime: time.Hour, plainOnly: true}
	c := newTestCache(t, f, nil)
	ts := testSource(t, c, "api://x/.default")
	e := ts.entry()
	sent, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	const claims = `{"access_token":{"nbf":{"essential":true,"value":"1"}}}`
	var wg sync.WaitGroup
	toks := make([]string, 10)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tok, err := e.claimsToken(context.Background(), sent, claims); err == nil {
				toks[i] = tok.AccessToken
			}
		}()
	}
	wg.Wait()
	if got := f.count(); got != 2 {
		t.Fatalf("fetches for 10 concurrent challenges: got %d, want 2 (one plain, one with claims)", got)
	}
	for i, tok := range toks {
		if tok != "token-2" {
			t.Fatalf("challenge %d: got %q, want the shared token-2", i, tok)
		}
	}
	claimsTok, _ := ts.Token()
	// The resource challenges the token that carries the claims: no fetch.
	if _, err := e.claimsToken(context.Background(), claimsTok, claims); !errors.Is(err, errClaimsUnsatisfied) {
		t.Errorf("challenge of a token with these claims: got %v, want errClaimsUnsatisfied", err)
	}
	// Other claims within claimsInterval: rate-limited.
	if _, err := e.claimsToken(context.Background(), claimsTok, `{"other":1}`); !errors.Is(err, errClaimsRateLimited) {
		t.Errorf("second challenge-driven fetch at once: got %v, want errClaimsRateLimited", err)
	}
	fc.Advance(claimsInterval)
	if tok, err := e.claimsToken(context.Background(), claimsTok, `{"other":1}`); err != nil || tok.AccessToken != "token-3" {
		t.Errorf("after claimsInterval: got %v, %v; want token-3", tok, err)
	}
	if got := f.count(); got != 3 {
		t.Errorf("fetches: got %d, want 3", got)
	}
}

// Through Credential.Client against the emulator: ten concurrent requests
// challenged at once cost one token request with claims; a resource that
// challenges every request costs no more token requests, and each request
// is retried at most once.
func TestClientClaimsChallengeNotAmplified(t *testing.T) {
	m := newEmu(t)
	a := newAPI(t)
	cred := clientSetup(t, m, a)
	client := cred.Client(t.Context(), m.apiScope())
	first, err := cred.Token(t.Context(), m.apiScope())
	if err != nil {
		t.Fatal(err)
	}
	var always atomic.Bool
	var requests atomic.Int32
	a.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if always.Load() || r.Header.Get("Authorization") == "Bearer "+first.AccessToken {
			w.Header().Set("WWW-Authenticate", entratest.ClaimsChallenge(challengeClaims))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok"))
	})
	before := m.s.GrantCount("client_credentials")
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 10 {
		wg.Go(func() {
			resp, err := client.Get(a.srv.URL + "/data")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got := m.s.GrantCount("client_credentials") - before; got != 1 {
		t.Errorf("token requests for 10 concurrent challenges: got %d, want 1", got)
	}
	if statuses[http.StatusOK] != 10 {
		t.Errorf("statuses: got %v, want 10 × 200", statuses)
	}
	if got := requests.Load(); got != 20 {
		t.Errorf("API requests: got %d, want 20 (one retry each)", got)
	}

	// Every request challenged from now on.
	always.Store(true)
	requests.Store(0)
	for range 20 {
		resp, err := client.Get(a.srv.URL + "/data")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want the 401", resp.StatusCode)
		}
	}
	if got := m.s.GrantCount("client_credentials") - before; got != 1 {
		t.Errorf("token requests after 20 always-challenged calls: got %d, want still 1", got)
	}
	if got := requests.Load(); got > 40 {
		t.Errorf("API requests for 20 calls: got %d, want at most 40 (one retry each)", got)
	}
}

// A failed claims fetch does not hide its cause: the request fails with an
// *Error that names the challenge and wraps Entra's answer.
func TestClientClaimsFetchFailureHasCause(t *testing.T) {
	m := newEmu(t)
	a := newAPI(t)
	cred := clientSetup(t, m, a)
	client := cred.Client(t.Context(), m.apiScope())
	if _, err := cred.Token(t.Context(), m.apiScope()); err != nil {
		t.Fatal(err)
	}
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 401,
		Body: `{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys are expired.","error_codes":[7000222]}`})
	a.mu.Lock()
	a.challenge = 1
	a.mu.Unlock()
	_, err := client.Get(a.srv.URL + "/data")
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != "claims_challenge_failed" || !strings.Contains(ee.Error(), "AADSTS") {
		t.Fatalf("got %v, want a claims_challenge_failed *Error carrying Entra's code", err)
	}
}

// A Transport built by hand answers a challenge through its Claims func,
// and reports that func's failure with the cause wrapped.
func TestTransportClaimsFunc(t *testing.T) {
	m := newEmu(t)
	a := newAPI(t)
	cred := clientSetup(t, m, a)
	boom := errors.New("no claims for you")
	calls := 0
	tr := &Transport{
		Source:       cred.TokenSource(t.Context(), m.apiScope()),
		Base:         cred.s.transport(),
		AllowedHosts: []string{a.host()},
		Claims: func(_ context.Context, claims string) (*oauth2.Token, error) {
			calls++
			if !strings.Contains(claims, `"nbf"`) {
				t.Errorf("claims %q, want the decoded challenge", claims)
			}
			return nil, boom
		},
	}
	a.mu.Lock()
	a.challenge = 1
	a.mu.Unlock()
	_, err := (&http.Client{Transport: tr}).Get(a.srv.URL + "/data")
	var e *Error
	if !errors.As(err, &e) || e.Code != "claims_challenge_failed" || !errors.Is(err, boom) || calls != 1 {
		t.Errorf("got %v after %d calls, want claims_challenge_failed wrapping the func's error after 1", err, calls)
	}
}
