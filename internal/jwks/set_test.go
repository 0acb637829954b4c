package jwks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/internal/jwks"
	"github.com/golang-jwt/jwt/v5"
)

func newSet(p *provider, clk *fakeClock) *jwks.Set {
	o := jwks.Options{HTTPClient: p.srv.Client()}
	if clk != nil {
		o.Clock = clk.Now
	}
	return jwks.New(p.metadataURL(), o)
}

func TestVerifyValid(t *testing.T) {
	p := newProvider(t)
	s := newSet(p, nil)
	raw := sign(t, p.keys[0].priv, "k1", claims())
	v, err := s.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(v.Payload, &c); err != nil || c["tid"] != testTID {
		t.Errorf("payload %s, err %v; want the signed claims", v.Payload, err)
	}
	if v.KeyID != "k1" || v.Header.Alg != "RS256" {
		t.Errorf("got kid %q alg %q, want k1 RS256", v.KeyID, v.Header.Alg)
	}
	if !s.HasKey("k1") || s.HasKey("k2") {
		t.Error("HasKey does not reflect the loaded set")
	}
}

func TestVerifyRejections(t *testing.T) {
	p := newProvider(t)
	priv := p.keys[0].priv
	other := rsaKey(t, 1)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims())
	hs.Header["kid"] = "k1"
	hsRaw, _ := hs.SignedString(priv.PublicKey.N.Bytes())
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims())
	none.Header["kid"] = "k1"
	noneRaw, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	wrongIss := claims()
	wrongIss["iss"] = "https://login.microsoftonline.com/" + testTID + "/v2.0x"
	otherTid := claims()
	otherTid["tid"] = "00000000-0000-0000-0000-000000000001"
	v1 := claims()
	v1["iss"], v1["ver"] = "https://sts.windows.net/"+testTID+"/", "1.0"
	v1Other := claims()
	v1Other["iss"], v1Other["ver"] = "https://sts.windows.net/00000000-0000-0000-0000-000000000001/", "1.0"
	noTid := claims()
	delete(noTid, "tid")
	valid := sign(t, priv, "k1", claims())
	dot := strings.LastIndexByte(valid, '.')
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"alg none", noneRaw + "AAAA", jwks.ErrAlgorithm},
		{"alg none empty signature", noneRaw, jwks.ErrMalformed},
		{"HS256 with the public key", hsRaw, jwks.ErrAlgorithm},
		{"no kid", sign(t, priv, "", claims()), jwks.ErrMalformed},
		{"signed by another key", sign(t, other, "k1", claims()), jwks.ErrSignature},
		{"signature flipped", valid[:dot+1] + flip(valid[dot+1:]), jwks.ErrSignature},
		{"payload swapped", swapPayload(valid, sign(t, other, "k1", otherTid)), jwks.ErrSignature},
		{"key issuer mismatch", sign(t, priv, "k1", wrongIss), jwks.ErrKeyIssuer},
		{"tid not in iss", sign(t, priv, "k1", otherTid), jwks.ErrKeyIssuer},
		{"v1 issuer of another tenant", sign(t, priv, "k1", v1Other), jwks.ErrKeyIssuer},
		{"no tid", sign(t, priv, "k1", noTid), jwks.ErrKeyIssuer},
		{"two parts", "a.b", jwks.ErrMalformed},
		{"four parts", valid + ".x", jwks.ErrMalformed},
		{"bad base64", "!!!." + valid[strings.IndexByte(valid, '.')+1:], jwks.ErrMalformed},
		{"oversized", strings.Repeat("a", jwks.MaxTokenBytes+1), jwks.ErrMalformed},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, jwks.ErrMalformed},
	}
	s := newSet(p, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Verify(context.Background(), tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "entra: ") || strings.Contains(err.Error(), tc.raw[:min(len(tc.raw), 40)]) && len(tc.raw) > 20 {
				t.Errorf("error %q: must start with entra: and not echo the token", err)
			}
		})
	}
}

func TestV1TokenWithV2Keys(t *testing.T) {
	p := newProvider(t)
	c := claims()
	c["iss"], c["ver"] = "https://sts.windows.net/"+testTID+"/", "1.0"
	if _, err := newSet(p, nil).Verify(context.Background(), sign(t, p.keys[0].priv, "k1", c)); err != nil {
		t.Fatalf("v1 token: %v", err)
	}
	c["ver"] = "2.0" // a v1 issuer claiming v2 is not bound to the key
	if _, err := newSet(p, nil).Verify(context.Background(), sign(t, p.keys[0].priv, "k1", c)); !errors.Is(err, jwks.ErrKeyIssuer) {
		t.Fatalf("v1 issuer claiming ver 2.0: got %v, want ErrKeyIssuer", err)
	}
}

func TestAlgorithmRejectedBeforeKeyLookup(t *testing.T) {
	p := newProvider(t)
	s := newSet(p, nil)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims())
	none.Header["kid"] = "k1"
	raw, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, alg := range []string{"none", "HS256", "RS384", "PS256", "ES256", ""} {
		tok := fmt.Sprintf("%s.%s.AAAA", b64(`{"alg":"`+alg+`","kid":"k1"}`), strings.Split(raw, ".")[1])
		if _, err := s.Verify(context.Background(), tok); !errors.Is(err, jwks.ErrAlgorithm) {
			t.Errorf("alg %q: got %v, want ErrAlgorithm", alg, err)
		}
	}
	if n := p.metaCount.Load() + p.jwksCount.Load(); n != 0 {
		t.Errorf("%d requests to the provider; want none before the algorithm check", n)
	}
}

func TestColdCallersShareOneFetch(t *testing.T) {
	p := newProvider(t)
	gate := make(chan struct{})
	p.set(func(p *provider) { p.gate = gate })
	s := newSet(p, nil)
	raw := sign(t, p.keys[0].priv, "k1", claims())
	const n = 50
	errs := make(chan error, n)
	for range n {
		go func() { _, err := s.Verify(context.Background(), raw); errs <- err }()
	}
	waitFor(t, "the key-set request", func() bool { return p.jwksCount.Load() == 1 })
	time.Sleep(20 * time.Millisecond) // let the other callers queue on the shared fetch
	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if m, k := p.metaCount.Load(), p.jwksCount.Load(); m != 1 || k != 1 {
		t.Errorf("got %d metadata and %d key-set requests, want 1 and 1", m, k)
	}
}

func TestWaiterCancelDoesNotCancelSharedFetch(t *testing.T) {
	p := newProvider(t)
	gate := make(chan struct{})
	p.set(func(p *provider) { p.gate = gate })
	s := newSet(p, nil)
	raw := sign(t, p.keys[0].priv, "k1", claims())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.Verify(ctx, raw); done <- err }()
	waitFor(t, "the key-set request", func() bool { return p.jwksCount.Load() == 1 })
	start := time.Now()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("got %v, want ErrKeysUnavailable wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancelled waiter returned after %v", d)
	}
	close(gate)
	waitFor(t, "the shared fetch to finish", func() bool { return s.HasKey("k1") })
	if _, err := s.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify after the shared fetch: %v", err)
	}
	if k := p.jwksCount.Load(); k != 1 {
		t.Errorf("%d key-set requests, want 1", k)
	}
}

// A flood of unknown kids: one refetch per window, and no request waits on
// it (the flood finishes while the refetch is held open by the server).
func TestUnknownKidFloodNeverWaits(t *testing.T) {
	p := newProvider(t)
	clk := newFakeClock()
	s := newSet(p, clk)
	priv := p.keys[0].priv
	if _, err := s.Verify(context.Background(), sign(t, priv, "k1", claims())); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	p.set(func(p *provider) { p.gate = gate })
	trigger := make(chan error, 1)
	go func() {
		_, err := s.Verify(context.Background(), sign(t, priv, "unknown-0", claims()))
		trigger <- err
	}()
	waitFor(t, "the refetch", func() bool { return p.jwksCount.Load() == 2 })

	const n = 1000
	tokens := make([]string, n)
	for i := range tokens {
		tokens[i] = sign(t, priv, fmt.Sprintf("unknown-%d", i+1), claims())
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := s.Verify(context.Background(), tokens[i])
			d := time.Since(start)
			mu.Lock()
			slowest = max(slowest, d)
			mu.Unlock()
			if !errors.Is(err, jwks.ErrUnknownKey) {
				t.Errorf("got %v, want ErrUnknownKey", err)
			}
		}()
	}
	wg.Wait() // the refetch is still held open: nobody waited on it
	if k := p.jwksCount.Load(); k != 2 {
		t.Errorf("%d key-set requests during the flood, want 2 (load + one refetch)", k)
	}
	t.Logf("slowest rejected request: %v", slowest)
	close(gate)
	if err := <-trigger; !errors.Is(err, jwks.ErrUnknownKey) {
		t.Errorf("trigger: got %v, want ErrUnknownKey", err)
	}
	// Still inside the window: rejected at once, no fetch.
	clk.Advance(jwks.DefaultUnknownKeyInterval - time.Second)
	if _, err := s.Verify(context.Background(), tokens[0]); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatal(err)
	}
	if k := p.jwksCount.Load(); k != 2 {
		t.Errorf("%d key-set requests inside the window, want 2", k)
	}
	// After the window: one more refetch, which finds the new key.
	p.set(func(p *provider) { p.keys = append(p.keys, testKey{kid: "unknown-1", priv: priv}) })
	clk.Advance(2 * time.Second)
	if _, err := s.Verify(context.Background(), tokens[0]); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if k := p.jwksCount.Load(); k != 3 {
		t.Errorf("%d key-set requests, want 3", k)
	}
}

func TestRefreshFailureKeepsLastGoodKeys(t *testing.T) {
	p := newProvider(t)
	clk := newFakeClock()
	s := newSet(p, clk)
	raw := sign(t, p.keys[0].priv, "k1", claims())
	if _, err := s.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	p.set(func(p *provider) { p.status = http.StatusInternalServerError })
	clk.Advance(jwks.DefaultRefreshInterval + time.Minute)
	before := p.jwksCount.Load()
	if _, err := s.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify with stale keys: %v", err)
	}
	waitFor(t, "the background refresh", func() bool { return p.jwksCount.Load() > before })
	time.Sleep(50 * time.Millisecond)
	for range 20 {
		if _, err := s.Verify(context.Background(), raw); err != nil {
			t.Fatalf("Verify after a failed refresh: %v", err)
		}
	}
	after := p.jwksCount.Load()
	if after-before > 2 { // one refresh, maybe retried once by the HTTP client
		t.Errorf("%d key-set requests after a failed refresh; want one refresh, not one per call", after-before)
	}
	// A rotated set replaces the keys once the refresh succeeds.
	p.set(func(p *provider) {
		p.status = 0
		p.keys = []testKey{{kid: "k2", priv: rsaKey(t, 1), issuer: testIssuerTemplate}}
	})
	clk.Advance(jwks.DefaultUnknownKeyInterval + time.Second)
	if _, err := s.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "k1 to leave the key set", func() bool { return !s.HasKey("k1") && s.HasKey("k2") })
}

func TestFirstLoadFailure(t *testing.T) {
	p := newProvider(t)
	p.set(func(p *provider) { p.status = http.StatusNotFound })
	clk := newFakeClock()
	s := newSet(p, clk)
	raw := sign(t, p.keys[0].priv, "k1", claims())
	_, err := s.Verify(context.Background(), raw)
	if !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("got %v, want ErrKeysUnavailable", err)
	}
	n := p.jwksCount.Load()
	if _, err := s.Verify(context.Background(), raw); !errors.Is(err, jwks.ErrKeysUnavailable) {
		t.Fatalf("second call: got %v", err)
	}
	if p.jwksCount.Load() != n {
		t.Error("a call right after a failed load fetched again; want a pause")
	}
	p.set(func(p *provider) { p.status = 0 })
	clk.Advance(10 * time.Second)
	if _, err := s.Verify(context.Background(), raw); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
}

func TestHostileProvider(t *testing.T) {
	big := `{"keys":[{"kty":"RSA","kid":"` + strings.Repeat("a", 2<<20) + `"}]}`
	tests := []struct {
		name string
		jwks string
	}{
		{"body over 1 MiB", big},
		{"not JSON", "<html>"},
		{"no keys", `{"keys":[]}`},
		{"only symmetric keys", `{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0"}]}`},
		{"short RSA key", `{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}`},
		{"private key material", `{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB","d":"AQAB"}]}`},
		{"deep nesting", `{"keys":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t)
			p.set(func(p *provider) { p.rawJWKS = []byte(tc.jwks) })
			s := newSet(p, nil)
			_, err := s.Verify(context.Background(), sign(t, p.keys[0].priv, "k1", claims()))
			if !errors.Is(err, jwks.ErrKeysUnavailable) {
				t.Fatalf("got %v, want ErrKeysUnavailable", err)
			}
		})
	}
}

func TestJWKSURIOnAnotherHostRefused(t *testing.T) {
	meta := http.NewServeMux()
	p := newProvider(t)
	var srvURL string
	meta.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"issuer":"x","jwks_uri":%q}`, p.srv.URL+"/tenant/discovery/v2.0/keys")
	})
	other := newTLSServer(t, meta)
	srvURL = other.URL
	s := jwks.New(srvURL+"/meta", jwks.Options{HTTPClient: other.Client()})
	_, err := s.Verify(context.Background(), sign(t, p.keys[0].priv, "k1", claims()))
	if !errors.Is(err, jwks.ErrKeysUnavailable) || p.jwksCount.Load() != 0 {
		t.Fatalf("got %v with %d requests to the other host; want ErrKeysUnavailable and none", err, p.jwksCount.Load())
	}
}

func flip(sig string) string {
	b := []byte(sig)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// swapPayload puts the payload of b into a (keeping a's header and signature).
func swapPayload(a, b string) string {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	return pa[0] + "." + pb[1] + "." + pa[2]
}
