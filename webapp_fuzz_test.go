package entra

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// FuzzWebAppCallback sends random callbacks (method, query, content type,
// body, pending value) to CompleteSignIn and CallbackHandler of a WebApp
// whose authority refuses everything. Nothing panics and no account comes
// out: neither for a random pending value nor for a genuine one (state
// "s1"), whose code the authority refuses.
func FuzzWebAppCallback(f *testing.F) {
	refuse := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"AADSTS70000: refused.","error_codes":[70000]}`)
	}))
	f.Cleanup(refuse.Close)
	cloud, err := Public.WithAuthorityHost(refuse.URL)
	if err != nil {
		f.Fatal(err)
	}
	app, err := NewWebApp("contoso.onmicrosoft.com", opClientID, "https://app.example.com/auth/callback", ClientSecret("not-a-real-secret"),
		&Options{Cloud: cloud, HTTPClient: refuse.Client(), DisableInstanceDiscovery: true, SignInKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { app.Close() })
	genuine := seal(app.sealer, pendingSignIn{State: "s1", Nonce: "n1", Verifier: randomValue(), Scopes: []string{"openid", "offline_access", "profile", "User.Read"},
		ReturnTo: "/home", Created: time.Now().Unix()})

	form := "application/x-www-form-urlencoded"
	f.Add("GET", "state=s1&code=abc", "", []byte(nil), "", true)
	f.Add("POST", "", form, []byte("state=s1&code=abc&session_state=x"), "", true)
	f.Add("POST", "state=s1", form+"; charset=utf-8", []byte("state=s1&error=access_denied&error_description=no"), "", true)
	f.Add("GET", "state=s1&error=interaction_required&error_description=AADSTS50076", "", []byte(nil), "", true)
	f.Add("GET", "state=s2&code=abc", "", []byte(nil), "", true)
	f.Add("GET", "state=%zz&code=%", "", []byte(nil), genuine[:40], false)
	f.Add("PUT", "state=s1&code=abc", form, []byte("state=s1"), "", true)
	f.Add("POST", "", "application/json", []byte(`{"state":"s1","code":"abc"}`), "", true)
	f.Add("GET", "state=s1&code=abc", "", []byte(nil), genuine[:len(genuine)-1]+"A", false)
	f.Add("GET", "state=s1&code=abc", "", []byte(nil), strings.Repeat("A", 5000), false)
	f.Fuzz(func(t *testing.T, method, query, contentType string, body []byte, pending string, useGenuine bool) {
		if useGenuine {
			pending = genuine
		}
		req := func() *http.Request {
			return &http.Request{Method: method, URL: &url.URL{Path: "/auth/callback", RawQuery: query},
				Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(bytes.NewReader(body)), Host: "app.example.com"}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		acct, err := app.CompleteSignIn(ctx, req(), pending)
		if err == nil || acct != (Account{}) {
			t.Fatalf("CompleteSignIn: %+v, %v", acct, err)
		}
		if !strings.HasPrefix(err.Error(), "entra: ") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("error not one entra: line: %q", err)
		}
		r := req().WithContext(ctx)
		r.Header.Set("Cookie", cookieName(callbackState(query, body))+"="+pending)
		called := false
		app.CallbackHandler(func(_ http.ResponseWriter, _ *http.Request, acct Account, _ string, err error) {
			called = true
			if err == nil || acct != (Account{}) {
				t.Fatalf("CallbackHandler: %+v, %v", acct, err)
			}
		}).ServeHTTP(httptest.NewRecorder(), r)
		if !called && (method == http.MethodGet || method == http.MethodPost) {
			t.Fatal("CallbackHandler answered a GET or POST without calling done")
		}
	})
}

// callbackState is the state a callback carries in its query or body, for
// naming the sign-in cookie as the browser would have it.
func callbackState(query string, body []byte) string {
	for _, s := range []string{query, string(body)} {
		if v, err := url.ParseQuery(s); err == nil && v.Get("state") != "" {
			return v.Get("state")
		}
	}
	return ""
}

// FuzzIDTokenCheck gives random strings to the id token check of an app
// whose provider's key set is static: only the genuine tokens signed here
// pass, and no error shows the string.
func FuzzIDTokenCheck(f *testing.F) {
	now := time.Unix(1_760_000_000, 0)
	op := newFakeOP(f, opTenant, strings.Replace(opIssuerFmt, "%s", opTenant, 1), strings.Replace(opIssuerFmt, "%s", "{tenantid}", 1))
	c := op.checker(f, opTenant, newFakeClock(now))
	good := goodClaims(opTenant, now)
	valid := signJWT(f, jose.RS256, opKey(0), "k1", good)
	genuine := map[string]bool{valid: true}
	for _, s := range []string{
		valid,
		valid[:len(valid)-1],
		signJWT(f, jose.RS256, opKey(1), "k1", good),
		signJWT(f, jose.RS256, opKey(0), "k1", with(good, "nonce", "x")),
		signJWT(f, jose.RS256, opKey(0), "k1", with(good, "aud", []string{opClientID, "b"})),
		unsignedJWT(map[string]any{"alg": "none", "kid": "k1"}, good, ""),
		unsignedJWT(map[string]any{"alg": "RS256", "kid": "k1"}, good, "AAAA"),
		"", ".", "..", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", strings.Repeat("A", 20000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cl, err := c.check(context.Background(), raw, opNonce)
		if err == nil {
			if !genuine[raw] {
				t.Fatalf("accepted a token not signed here: %+v", cl)
			}
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "entra: ") || strings.Contains(msg, "\n") {
			t.Fatalf("error not one entra: line: %q", msg)
		}
		for _, part := range strings.Split(raw, ".") {
			if len(part) >= 24 && strings.Contains(msg, part) {
				t.Fatalf("error shows the input: %q", msg)
			}
		}
	})
}
