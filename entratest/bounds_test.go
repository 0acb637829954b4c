package entratest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// entrySize approximates the bytes a log entry retains.
func entrySize(r Request) int {
	n := len(r.Method) + len(r.Path) + len(r.Endpoint) + len(r.Grant) + len(r.ClientID)
	for k, vals := range r.Form {
		n += len(k)
		for _, v := range vals {
			n += len(v)
		}
	}
	return n
}

func TestLogEntryIsBounded(t *testing.T) {
	manyKeys := url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}}
	for i := range 9000 { // net/url refuses more than 10,000 parameters
		manyKeys.Set(fmt.Sprintf("k%05d", i), strings.Repeat("v", 20))
	}
	manyValues := url.Values{"scope": make([]string, 1000)}
	for i := range manyValues["scope"] {
		manyValues["scope"][i] = "api://x/.default"
	}
	tests := []struct {
		name      string
		path      string
		form      url.Values
		truncated bool
	}{
		{"9,000 form keys", "/common/oauth2/v2.0/token", manyKeys, true},
		{"1,000 values of one key", "/common/oauth2/v2.0/token", manyValues, true},
		{"one 600 KB value", "/common/oauth2/v2.0/token", url.Values{"scope": {strings.Repeat("s", 600<<10)}}, true},
		{"100 KB path", "/" + strings.Repeat("p", 100<<10), url.Values{"grant_type": {"client_credentials"}}, true},
		{"long key", "/common/oauth2/v2.0/token", url.Values{strings.Repeat("k", 5000): {"v"}}, true},
		{"ordinary request", "/common/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"s"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewTestServer(t, nil)
			resp, err := s.Client().PostForm(s.URL+tt.path, tt.form)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			log := s.Requests()
			if len(log) != 1 {
				t.Fatalf("log has %d entries, want 1", len(log))
			}
			raw := len(tt.path)
			for k, vals := range redact(tt.form) {
				raw += len(k) + len(strings.Join(vals, ""))
			}
			got := entrySize(log[0])
			t.Logf("entry: %d bytes retained (unbounded: %d)", got, raw)
			if got > 4<<10 {
				t.Errorf("entry retains %d bytes, want at most 4 KiB", got)
			}
			if log[0].Truncated != tt.truncated {
				t.Errorf("Truncated = %v, want %v", log[0].Truncated, tt.truncated)
			}
			if tt.form.Get("grant_type") != "" && log[0].Form.Get("grant_type") != tt.form.Get("grant_type") {
				t.Errorf("grant_type logged as %q, want %q (logged parameters are kept first)", log[0].Form.Get("grant_type"), tt.form.Get("grant_type"))
			}
		})
	}
}

// slowBody opens a connection, sends headers announcing a body and a few
// bytes of it, then nothing more. It returns how long the server took to
// close the connection, and the status line it answered with; it fails if
// the connection is still open after wait.
func slowBody(t *testing.T, s *Server, wait time.Duration) (time.Duration, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(s.URL, "https://"), &tls.Config{RootCAs: s.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /common/oauth2/v2.0/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type", s.host)
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err == nil {
		_, err = io.Copy(io.Discard, br) // until the server closes
	}
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		t.Fatalf("connection still open %v after sending a partial body (answered %q)", wait, strings.TrimSpace(status))
	}
	return time.Since(start), strings.TrimSpace(status)
}

func TestSlowBodyIsCutOff(t *testing.T) {
	s := NewTestServer(t, nil)
	s.bodyTimeoutNS.Store(int64(300 * time.Millisecond))
	took, status := slowBody(t, s, 5*time.Second)
	t.Logf("closed after %v, having answered %q", took, status)
	if took > 2*time.Second {
		t.Errorf("cut off after %v, want about the 300ms bound", took)
	}
	if status != "HTTP/1.1 408 Request Timeout" {
		t.Errorf("status line %q, want 408", status)
	}
}

func TestDefaultBodyTimeoutMatchesHeaderTimeout(t *testing.T) {
	s := NewTestServer(t, nil)
	if got, want := s.bodyTimeout(), s.httpServer.ReadHeaderTimeout; got != want {
		t.Errorf("body timeout %v, want the header timeout %v", got, want)
	}
}

func TestSlowHandlerOutlivesBodyTimeout(t *testing.T) {
	s, d := seeded(t, nil)
	s.bodyTimeoutNS.Store(int64(100 * time.Millisecond))
	s.InjectFault(EndpointToken, Fault{Delay: 500 * time.Millisecond})
	status, body := post(t, s, "/"+d.TenantID+"/oauth2/v2.0/token", ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default"))
	if status != http.StatusOK {
		t.Fatalf("status %d (%v), want 200 after the delay", status, body["error_description"])
	}
}
