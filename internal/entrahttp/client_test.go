package entrahttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

func TestDoSuccess(t *testing.T) {
	f := newFixture(t, Options{})
	resp, err := f.c.Do(f.tokenRequest(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, `"access_token"`) {
		t.Errorf("got %d %q, want 200 with a token", resp.StatusCode, body)
	}
	if got := f.requests(); got != 1 {
		t.Errorf("got %d requests, want 1", got)
	}
	if len(f.clock.Sleeps()) != 0 {
		t.Errorf("slept %v, want no sleep", f.clock.Sleeps())
	}
}

func TestDoRetries(t *testing.T) {
	tests := []struct {
		name       string
		faults     []entratest.Fault
		wantStatus int
		wantReqs   int
		wantSleeps []time.Duration
	}{
		{"503 then ok", []entratest.Fault{{Status: 503}}, 200, 2, []time.Duration{250 * time.Millisecond}},
		{"429 retry-after then ok", []entratest.Fault{{Status: 429, RetryAfter: 2 * time.Second}}, 200, 2, []time.Duration{2 * time.Second}},
		{"500 502 504 then ok", []entratest.Fault{{Status: 500}, {Status: 502}, {Status: 504}}, 200, 4,
			[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}},
		{"reset then ok", []entratest.Fault{{Reset: true}}, 200, 2, []time.Duration{250 * time.Millisecond}},
		{"503 exhausted", []entratest.Fault{{Status: 503, Count: 10}}, 503, 4,
			[]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}},
		{"400 not retried", []entratest.Fault{{Status: 400}}, 400, 1, nil},
		{"retry-after beyond MaxElapsed", []entratest.Fault{{Status: 429, RetryAfter: time.Minute}}, 429, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			for _, fl := range tt.faults {
				f.srv.InjectFault(entratest.EndpointToken, fl)
			}
			resp, err := f.c.Do(f.tokenRequest(context.Background()))
			if err != nil {
				t.Fatalf("got error %v, want a response", err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 200 && !strings.Contains(body, `"error"`) {
				t.Errorf("got body %q, want Entra's error JSON handed back", body)
			}
			if got := f.srv.Count(entratest.EndpointToken); got != tt.wantReqs {
				t.Errorf("got %d requests, want %d", got, tt.wantReqs)
			}
			if got := f.clock.Sleeps(); !equalDurations(got, tt.wantSleeps) {
				t.Errorf("got sleeps %v, want %v", got, tt.wantSleeps)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDoResetExhausted(t *testing.T) {
	f := newFixture(t, Options{MaxAttempts: 3})
	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Reset: true, Count: 5})
	_, err := f.c.Do(f.tokenRequest(context.Background()))
	var re *ResponseError
	if !errors.As(err, &re) || re.Kind != KindRetriesExhausted {
		t.Fatalf("got %v, want KindRetriesExhausted", err)
	}
	if re.Err == nil {
		t.Errorf("want the last network error kept as cause")
	}
	if got := f.srv.Count(entratest.EndpointToken); got != 3 {
		t.Errorf("got %d requests, want 3", got)
	}
}

func TestDoThrottleAfter429(t *testing.T) {
	f := newFixture(t, Options{MaxAttempts: 1})
	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 429, RetryAfter: 3 * time.Second})
	resp, err := f.c.Do(f.tokenRequest(context.Background()))
	if err != nil || resp.StatusCode != 429 {
		t.Fatalf("got %v, %v; want the 429 response", resp, err)
	}
	resp.Body.Close()
	// A hot loop now gets KindThrottled without reaching Entra.
	for i := 0; i < 5; i++ {
		_, err := f.c.Do(f.tokenRequest(context.Background()))
		var re *ResponseError
		if !errors.As(err, &re) || re.Kind != KindThrottled {
			t.Fatalf("call %d: got %v, want KindThrottled", i, err)
		}
	}
	if got := f.srv.Count(entratest.EndpointToken); got != 1 {
		t.Errorf("got %d requests, want 1", got)
	}
	// After Retry-After the host is usable again.
	f.clock.Sleep(context.Background(), 3*time.Second)
	resp, err = f.c.Do(f.tokenRequest(context.Background()))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the throttle: got %v, %v; want 200", resp, err)
	}
	resp.Body.Close()
}

func TestDoRefusals(t *testing.T) {
	tests := []struct {
		name  string
		fault entratest.Fault
		want  Kind
	}{
		{"malformed", entratest.Fault{Malformed: true}, KindMalformed},
		{"truncated", entratest.Fault{Truncated: true}, KindMalformed},
		{"html", entratest.Fault{Body: "<html><body>Sign in</body></html>", ContentType: "text/html"}, KindMalformed},
		{"expires_in zero", entratest.Fault{Body: `{"access_token":"eyJabc.def.ghi","token_type":"Bearer","expires_in":0}`}, KindExpiresIn},
		{"expires_in float", entratest.Fault{Body: `{"access_token":"eyJabc.def.ghi","token_type":"Bearer","expires_in":3599.0}`}, KindExpiresIn},
		{"expires_in huge", entratest.Fault{Body: `{"access_token":"eyJabc.def.ghi","token_type":"Bearer","expires_in":99999999999999}`}, KindExpiresIn},
		{"no access_token", entratest.Fault{Body: `{"token_type":"Bearer","expires_in":3599}`}, KindMissingToken},
		{"token_type", entratest.Fault{Body: `{"access_token":"eyJabc.def.ghi","token_type":"mac","expires_in":3599}`}, KindTokenType},
		{"too large", entratest.Fault{Body: `{"access_token":"` + strings.Repeat("A", 2<<20) + `"}`}, KindBodyTooLarge},
		{"redirect", entratest.Fault{RedirectTo: "https://attacker.example/steal?x=1"}, KindRedirect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			f.srv.InjectFault(entratest.EndpointToken, tt.fault)
			resp, err := f.c.Do(f.tokenRequest(context.Background()))
			var re *ResponseError
			if !errors.As(err, &re) || re.Kind != tt.want {
				t.Fatalf("got %v, %v; want %v", resp, err, tt.want)
			}
			msg := err.Error()
			for _, leak := range []string{"eyJ", "Sign in", "AAAA", f.demo.Daemon.ClientSecret, "x=1"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q contains %q", msg, leak)
				}
			}
			if got := f.srv.Count(entratest.EndpointToken); got != 1 {
				t.Errorf("got %d requests, want 1 (refusals are not retried)", got)
			}
		})
	}
}

func TestDoRedirectNotFollowed(t *testing.T) {
	f := newFixture(t, Options{})
	other := entratest.NewTestServer(t, nil)
	otherDemo, err := other.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	// Both servers' CAs are trusted, so only the client's policy stops the re-POST.
	pool := f.srv.CertPool()
	pool.AddCert(mustCA(t, other))
	c := New(Options{Base: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}})
	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{RedirectTo: other.Authority(otherDemo.TenantID) + "/oauth2/v2.0/token"})
	_, err = c.Do(f.tokenRequest(context.Background()))
	var re *ResponseError
	if !errors.As(err, &re) || re.Kind != KindRedirect || re.StatusCode != 307 {
		t.Fatalf("got %v, want KindRedirect 307", err)
	}
	if got := other.Count(entratest.EndpointToken); got != 0 {
		t.Errorf("redirect target saw %d requests, want 0", got)
	}
}

func TestDoContext(t *testing.T) {
	t.Run("deadline shorter than Retry-After", func(t *testing.T) {
		f := newFixture(t, Options{})
		f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 503, RetryAfter: 5 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := f.c.Do(f.tokenRequest(ctx))
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("got %v, %v; want the 503 at once", resp, err)
		}
		resp.Body.Close()
		if s := f.clock.Sleeps(); len(s) != 0 {
			t.Errorf("slept %v past the deadline", s)
		}
	})
	t.Run("canceled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		f := newFixture(t, Options{Sleep: func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}})
		f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 503})
		_, err := f.c.Do(f.tokenRequest(ctx))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
	t.Run("canceled before", func(t *testing.T) {
		f := newFixture(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := f.c.Do(f.tokenRequest(ctx))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if got := f.srv.Count(entratest.EndpointToken); got != 0 {
			t.Errorf("got %d requests, want 0", got)
		}
	})
}

func TestDoNonReplayableBody(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 503})
	req := f.tokenRequest(context.Background())
	req.GetBody = nil
	req.Body = io.NopCloser(req.Body) // hide the reader's type
	resp, err := f.c.Do(req)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("got %v, %v; want the 503 (no replay)", resp, err)
	}
	resp.Body.Close()
	if got := f.srv.Count(entratest.EndpointToken); got != 1 {
		t.Errorf("got %d requests, want 1", got)
	}
}

func TestDoConcurrent(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 503, Count: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.c.Do(f.tokenRequest(context.Background()))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- errors.New(resp.Status)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.requests(); got != 16+3 {
		t.Errorf("got %d requests, want 19", got)
	}
}

func TestDoLogsNoSecrets(t *testing.T) {
	var buf syncBuffer
	f := newFixture(t, Options{Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Status: 503})
	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Truncated: true})
	if _, err := f.c.Do(f.tokenRequest(context.Background())); err == nil {
		t.Fatal("got nil error for a truncated answer")
	}
	logs := buf.String()
	for _, want := range []string{"entrahttp: retrying", "entrahttp: refused token response"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, leak := range []string{"eyJ", f.demo.Daemon.ClientSecret, "client_secret"} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs contain %q:\n%s", leak, logs)
		}
	}
}
