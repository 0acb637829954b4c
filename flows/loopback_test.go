package flows

import (
	"errors"
	"net"
	"net/url"
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
		if u.Port() == "" || u.Port() == "0" || u.Path == "" {
			t.Errorf("%q: redirect %q, want a bound port and a path", in, redirect)
		}
		closeAll(ls)
	}
	for _, bad := range []string{"https://localhost", "http://example.com", "http://0.0.0.0", "http://10.1.2.3:8400", "http://localhost#x", "http://u@localhost"} {
		if _, _, err := listenLoopback(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: got %v, want ErrConfig", bad, err)
		}
	}
}
