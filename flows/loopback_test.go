package flows

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The sign-in listener binds loopback addresses only, on the port asked
// for or a free one, and refuses any other redirect URI.
func TestListenLoopback(t *testing.T) {
	for _, in := range []string{"", "http://localhost", "http://localhost/cb", "http://127.0.0.1", "http://[::1]"} {
		ls, redirect, err := listenLoopback(in)
		if err != nil {
			if in == "http://[::1]" { // no IPv6 on this machine
				continue
			}
			t.Fatalf("%q: %v", in, err)
		}
		for _, l := range ls {
			ip := net.ParseIP(l.Addr().(*net.TCPAddr).IP.String())
			if !ip.IsLoopback() {
				t.Errorf("%q: listening on %v, not a loopback address", in, l.Addr())
			}
		}
		u, _ := url.Parse(redirect)
		if u.Port() == "" || u.Port() == "0" {
			t.Errorf("%q: redirect %q, want a bound port", in, redirect)
		}
		closeAll(ls)
	}
	for _, bad := range []string{"https://localhost", "http://example.com", "http://0.0.0.0", "http://10.1.2.3:8400", "http://localhost#x", "http://u@localhost"} {
		if _, _, err := listenLoopback(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: got %v, want ErrConfig", bad, err)
		}
	}
}

// The handler delivers one answer carrying the state, once; everything else
// gets an error page and nothing is delivered.
func TestCallbackHandlerAnswersOnce(t *testing.T) {
	got := make(chan callback, 1)
	h := callbackHandler("http://localhost:1", "the-state", got)
	for _, tc := range []struct {
		method, target, body string
		want                 int
	}{
		{"GET", "/favicon.ico", "", 404},
		{"PUT", "/?state=the-state&code=c", "", 404},
		{"GET", "/?state=wrong&code=c", "", 400},
		{"GET", "/?state=the-state", "", 400},
		{"POST", "/", "state=the-state&code=first", 200},
		{"POST", "/", "state=the-state&code=second", 409},
	} {
		r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		if tc.body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s %s %q: status %d, want %d", tc.method, tc.target, tc.body, w.Code, tc.want)
		}
		if strings.Contains(w.Body.String(), "the-state") {
			t.Errorf("%s %s: the state is echoed", tc.method, tc.target)
		}
	}
	if cb := <-got; cb.code != "first" || len(got) != 0 {
		t.Errorf("delivered %+v (and %d more), want the first code only", cb, len(got))
	}
}

// FuzzCallbackHandler: any request is answered without a panic, and only
// one carrying the state delivers anything.
func FuzzCallbackHandler(f *testing.F) {
	f.Add("GET", "/?state=s&code=c", "")
	f.Add("POST", "/", "state=s&error=access_denied&error_description=AADSTS50034")
	f.Add("POST", "/", "state=%zz&&&;")
	f.Fuzz(func(t *testing.T, method, target, body string) {
		got := make(chan callback, 1)
		h := callbackHandler("http://localhost:1/", "s", got)
		r, err := http.NewRequest(method, "http://localhost:1"+target, strings.NewReader(body))
		if err != nil || r.URL.Path == "" {
			return
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if len(got) == 1 && r.Form.Get("state") != "s" {
			t.Fatalf("delivered an answer without the state: %q %q", target, body)
		}
	})
}
