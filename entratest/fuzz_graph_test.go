package entratest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzGraphBearer: no Authorization header makes Graph's token validation
// panic or accept anything but the emulator's own Graph tokens; every
// answer is Graph's JSON.
func FuzzGraphBearer(f *testing.F) {
	s := NewTestServer(f, nil)
	d, err := s.SeedDemo()
	if err != nil {
		f.Fatal(err)
	}
	_, body := postForm(f, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, s.GraphURL()+"/.default").Encode())
	valid := body["access_token"].(string)
	_, body = postForm(f, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default").Encode())
	api := body["access_token"].(string)
	for _, seed := range []string{"Bearer " + valid, "Bearer " + api, "", "Bearer", "Bearer a.b.c", "bearer e30.e30.",
		"Bearer eyJhbGciOiJSUzI1NiIsIm5vbmNlIjoieCJ9.e30.AAAA", "Basic dXNlcjpwYXNz", "Bearer " + valid[:len(valid)-3] + "AAA",
		"Bearer eyJub25jZSI6W119.eyJhdWQiOjF9.", "Bearer .."} {
		f.Add(seed, "/v1.0/users")
	}
	f.Add("Bearer "+valid, "/v1.0/users/%00")
	f.Add("Bearer "+valid, "/beta/me/x/y")
	h := s.handler()
	f.Fuzz(func(t *testing.T, authz, path string) {
		r := httptest.NewRequest(http.MethodGet, "/v1.0/users", nil)
		r.Header.Set("Authorization", authz)
		p, e := s.graphAuth(r)
		if (p == nil) == (e == nil) {
			t.Fatalf("graphAuth(%q) gave principal %v and error %v", authz, p, e)
		}
		if p != nil {
			tok := strings.TrimSpace(strings.TrimPrefix(authz, authz[:len("Bearer")]))
			if tok != valid && !strings.HasPrefix(valid, strings.Split(tok, ".")[0]) {
				t.Fatalf("accepted a token the emulator did not sign: %q", authz)
			}
		}
		if !strings.HasPrefix(path, "/v1.0/") && !strings.HasPrefix(path, "/beta/") {
			return
		}
		req, err := http.NewRequest(http.MethodGet, "https://emulator"+path, nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", authz)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var m map[string]any
		if rec.Code >= 500 || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
			t.Fatalf("%s with %q: status %d body %q", path, authz, rec.Code, rec.Body)
		}
	})
}

// FuzzClaimsRequest: parsing any claims parameter never panics and keeps
// its bounds.
func FuzzClaimsRequest(f *testing.F) {
	for _, seed := range []string{`{"access_token":{"xms_cc":{"values":["CP1"]}}}`,
		`{"access_token":{"nbf":{"essential":true,"value":"1604106651"},"xms_cc":{"values":["cp1"]}}}`,
		`{"access_token":null}`, `[]`, `{"access_token":{"nbf":{"value":1e300}}}`, ``} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c := parseClaimsRequest(raw)
		if len(c.capabilities) > 8 || c.nbf < 0 {
			t.Fatalf("%q: %d capabilities, nbf %d", raw, len(c.capabilities), c.nbf)
		}
		for _, cap := range c.capabilities {
			if len(cap) > 32 || cap != strings.ToLower(cap) || !isPrintableToken(cap) {
				t.Fatalf("%q: capability %q", raw, cap)
			}
		}
	})
}

// postForm posts an encoded form (for fuzz setup, which has a testing.F).
func postForm(tb testing.TB, s *Server, path, body string) (int, map[string]any) {
	tb.Helper()
	resp, err := s.Client().Post(s.URL+path, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, m
}
