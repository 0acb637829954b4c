package entratest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	s, d := seeded(t, nil)
	tokenURL := s.Authority(d.TenantID) + "/oauth2/v2.0/token"
	form := ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default")
	client := s.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func() (*http.Response, string, error) {
		resp, err := client.PostForm(tokenURL, form)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), nil
	}
	isJSON := func(b string) bool { var v any; return json.Unmarshal([]byte(b), &v) == nil }
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, resp *http.Response, body string, err error)
	}{
		{"503 with Retry-After", Fault{Status: 503, RetryAfter: 1500 * time.Millisecond}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, `"temporarily_unavailable"`) {
				t.Errorf("got %v %v %q %s", err, resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		}},
		{"500", Fault{Status: 500}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 500 || !strings.Contains(body, `"server_error"`) {
				t.Errorf("got %v %v %s", err, resp.StatusCode, body)
			}
		}},
		{"RetryAfter alone is 429", Fault{RetryAfter: time.Second}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("got %v %v %q", err, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}},
		{"raw body", Fault{Status: 429, Body: "Too Many Requests", ContentType: "text/plain"}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 429 || body != "Too Many Requests" || resp.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("got %v %v %q %q", err, resp.StatusCode, body, resp.Header.Get("Content-Type"))
			}
		}},
		{"body defaults to 200", Fault{Body: `{"x":1}`}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 200 || body != `{"x":1}` {
				t.Errorf("got %v %v %q", err, resp.StatusCode, body)
			}
		}},
		{"malformed", Fault{Malformed: true}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 200 || isJSON(body) {
				t.Errorf("got %v %v %q", err, resp.StatusCode, body)
			}
		}},
		{"truncated", Fault{Truncated: true}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 200 || isJSON(body) || !strings.HasPrefix(body, `{"access_token":"eyJ`) {
				t.Errorf("got %v %v %q", err, resp.StatusCode, body)
			}
		}},
		{"redirect", Fault{RedirectTo: "https://evil.example.com/steal"}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 307 || resp.Header.Get("Location") != "https://evil.example.com/steal" {
				t.Errorf("got %v %v %q", err, resp.StatusCode, resp.Header.Get("Location"))
			}
		}},
		{"reset", Fault{Reset: true}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err == nil {
				t.Errorf("got %d, want a connection error", resp.StatusCode)
			}
		}},
		{"delay alone answers normally", Fault{Delay: time.Millisecond}, func(t *testing.T, resp *http.Response, body string, err error) {
			if err != nil || resp.StatusCode != 200 || !strings.Contains(body, "access_token") {
				t.Errorf("got %v %v", err, resp)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Count(EndpointToken)
			s.InjectFault(EndpointToken, tt.fault)
			resp, body, err := do()
			tt.check(t, resp, body, err)
			if got := s.Count(EndpointToken); got != before+1 {
				t.Errorf("Count = %d, want %d", got, before+1)
			}
			// The fault is used up: the next request is normal.
			if resp, _, err := do(); err != nil || resp.StatusCode != 200 {
				t.Errorf("after the fault: %v %v", err, resp)
			}
		})
	}
}

func TestFaultQueue(t *testing.T) {
	s, d := seeded(t, nil)
	tokenURL := s.Authority(d.TenantID) + "/oauth2/v2.0/token"
	form := ccForm(d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default")
	status := func() int {
		resp, err := s.Client().PostForm(tokenURL, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	s.InjectFault(EndpointToken, Fault{Status: 500, Count: 2})
	s.InjectFault(EndpointToken, Fault{Status: 503})
	s.InjectFault(EndpointMetadata, Fault{Status: 502})
	var got []int
	for i := 0; i < 4; i++ {
		got = append(got, status())
	}
	if want := "[500 500 503 200]"; fmt.Sprint(got) != want {
		t.Errorf("statuses %v, want %s", got, want)
	}
	s.ClearFaults()
	if code, _ := get(t, s, "/common/v2.0/.well-known/openid-configuration"); code != 200 {
		t.Errorf("after ClearFaults metadata gave %d", code)
	}
	// A delay honours the request context.
	s.InjectFault(EndpointKeys, Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.JWKSURL("common"), nil)
	if _, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
}

func TestCountersAndRedaction(t *testing.T) {
	s, d := seeded(t, nil)
	const canary = "CANARY-7f3e9"
	tokenPath := "/" + d.TenantID + "/oauth2/v2.0/token"
	grants := map[string]string{
		"client_credentials": "client_credentials",
		"authorization_code": "authorization_code",
		"refresh_token":      "refresh_token",
		"device_code":        "device_code",
		"urn:ietf:params:oauth:grant-type:device_code": "device_code",
		"urn:ietf:params:oauth:grant-type:jwt-bearer":  "on_behalf_of",
	}
	for gt := range grants {
		form := url.Values{"grant_type": {gt}, "client_id": {d.Daemon.ClientID}, "scope": {d.API.AppIDURI + "/.default"},
			"client_secret": {canary}, "client_assertion": {canary}, "assertion": {canary}, "code": {canary},
			"refresh_token": {canary}, "password": {canary}, "device_code": {canary}, "code_verifier": {canary},
			"access_token": {canary}, "id_token": {canary}, "unknown_field": {canary}}
		post(t, s, tokenPath, form)
	}
	want := map[string]int{"client_credentials": 1, "authorization_code": 1, "refresh_token": 1, "device_code": 2, "on_behalf_of": 1}
	for g, n := range want {
		if got := s.GrantCount(g); got != n {
			t.Errorf("GrantCount(%s) = %d, want %d", g, got, n)
		}
	}
	if got := s.Count(EndpointToken); got != len(grants) {
		t.Errorf("Count(token) = %d, want %d", got, len(grants))
	}
	reqs := s.Requests()
	if len(reqs) != len(grants) {
		t.Fatalf("%d log entries, want %d", len(reqs), len(grants))
	}
	for _, r := range reqs {
		if strings.Contains(fmt.Sprintf("%+v", r), canary) {
			t.Errorf("log entry leaks a secret: %+v", r)
		}
		if r.Endpoint != EndpointToken || r.ClientID != d.Daemon.ClientID || r.Status == 0 || r.Grant == "" || r.Method != "POST" {
			t.Errorf("entry = %+v", r)
		}
		if r.Form.Get("client_secret") != "[REDACTED]" || r.Form.Get("scope") != d.API.AppIDURI+"/.default" {
			t.Errorf("form = %v", r.Form)
		}
	}
	// Basic auth is never logged.
	req, _ := http.NewRequest(http.MethodPost, s.URL+tokenPath, strings.NewReader("grant_type=client_credentials&scope=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(d.Daemon.ClientID, canary)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	last := s.Requests()[len(s.Requests())-1]
	if strings.Contains(fmt.Sprintf("%+v", last), canary) || last.ClientID != d.Daemon.ClientID {
		t.Errorf("basic-auth entry = %+v", last)
	}
	// Returned entries are copies.
	reqs[0].Form.Set("scope", "changed")
	if s.Requests()[0].Form.Get("scope") == "changed" {
		t.Error("Requests returned the log's own maps")
	}
	s.ResetCounters()
	if s.Count(EndpointToken) != 0 || s.GrantCount("client_credentials") != 0 || len(s.Requests()) != 0 {
		t.Error("ResetCounters left data")
	}
}

func TestRequestLogIsBounded(t *testing.T) {
	s := NewTestServer(t, nil)
	h := s.handler()
	const n = maxLogEntries + 10
	for range n {
		r := httptest.NewRequest(http.MethodGet, "/common/discovery/keys", nil)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if got := s.Count(EndpointKeys); got != n {
		t.Errorf("Count: got %d, want %d (every request counts)", got, n)
	}
	got := len(s.Requests())
	if got > maxLogEntries || got < maxLogEntries/2 {
		t.Errorf("log holds %d requests, want between %d and %d", got, maxLogEntries/2, maxLogEntries)
	}
}
