package entra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

type errFixture struct {
	srv  *entratest.Server
	demo *entratest.Demo
}

func newErrFixture(t *testing.T) *errFixture {
	t.Helper()
	srv := entratest.NewTestServer(t, nil)
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	return &errFixture{srv: srv, demo: demo}
}

// token runs one client-credentials call through flows and the hardened
// client (no sleeping between retries) and maps its error.
func (f *errFixture) token(t *testing.T, ctx context.Context, tenant, clientID, secret string, scopes ...string) error {
	t.Helper()
	hc := entrahttp.New(entrahttp.Options{Base: f.srv.Client(), MaxAttempts: 2,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	app, err := flows.NewSecret(flows.Config{Authority: f.srv.Authority(tenant), ClientID: clientID,
		HTTPClient: hc, DisableInstanceDiscovery: true}, secret)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.AppToken(ctx, scopes, "")
	return fromFlowError("token", err)
}

func TestFromFlowErrorEmulator(t *testing.T) {
	f := newErrFixture(t)
	d := f.demo
	apiScope := d.API.AppIDURI + "/.default"
	tests := []struct {
		name     string
		fault    *entratest.Fault
		tenant   string
		clientID string
		secret   string
		scope    string
		status   int
		code     string
		aadsts   int
		is       error
		hintHas  string
	}{
		{name: "wrong secret", secret: "wrong-secret-value", status: 401, code: "invalid_client", aadsts: 7000215, hintHas: "Secret ID"},
		{name: "unknown client", clientID: "11111111-2222-3333-4444-555555555555", status: 400, aadsts: 700016, hintHas: "client ID"},
		{name: "unknown tenant", tenant: "99999999-8888-7777-6666-555555555555", status: 400, aadsts: 90002, hintHas: "sovereign"},
		{name: "non-default scope", scope: "https://graph.microsoft.com/User.Read", status: 400, code: "invalid_scope", aadsts: 1002012, hintHas: "/.default"},
		{name: "malformed", fault: &entratest.Fault{Malformed: true}, code: "invalid_response", is: ErrInvalidResponse, hintHas: "proxy"},
		{name: "truncated", fault: &entratest.Fault{Truncated: true}, code: "invalid_response", is: ErrInvalidResponse},
		{name: "expires_in", fault: &entratest.Fault{Body: `{"access_token":"eyJhbGciOi.eyJzdWIi.c2ln","token_type":"Bearer","expires_in":99999999999999}`},
			code: "invalid_response", is: ErrInvalidResponse},
		{name: "redirect", fault: &entratest.Fault{RedirectTo: "https://evil.example/token?secret=1"}, status: 307, code: "redirect", is: ErrRedirect, hintHas: "never follows"},
		{name: "503 exhausted", fault: &entratest.Fault{Status: 503, Count: 5}, status: 503, code: "temporarily_unavailable", hintHas: "retry later"},
		{name: "429 plain text", fault: &entratest.Fault{Status: 429, Count: 5, Body: "Too Many Requests", ContentType: "text/plain"}, status: 429, code: "throttled", hintHas: "throttling"},
		{name: "reset exhausted", fault: &entratest.Fault{Reset: true, Count: 5}, code: "unavailable", hintHas: "network"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.ClearFaults()
			if tt.fault != nil {
				f.srv.InjectFault(entratest.EndpointToken, *tt.fault)
			}
			tenant, clientID, secret, scope := or(tt.tenant, d.TenantID), or(tt.clientID, d.Daemon.ClientID), or(tt.secret, d.Daemon.ClientSecret), or(tt.scope, apiScope)
			err := f.token(t, context.Background(), tenant, clientID, secret, scope)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want *Error", err, err)
			}
			if e.Op != "token" {
				t.Errorf("Op = %q, want token", e.Op)
			}
			if tt.status != 0 && e.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", e.StatusCode, tt.status)
			}
			if tt.code != "" && e.Code != tt.code {
				t.Errorf("Code = %q, want %q", e.Code, tt.code)
			}
			if tt.aadsts != 0 {
				if !e.HasCode(tt.aadsts) {
					t.Errorf("AADSTS = %v, want %d", e.AADSTS, tt.aadsts)
				}
				if e.TraceID == "" || e.CorrelationID == "" || e.Timestamp == "" {
					t.Errorf("trace %q correlation %q timestamp %q, want all set", e.TraceID, e.CorrelationID, e.Timestamp)
				}
				if strings.Contains(e.Description, "Trace ID") {
					t.Errorf("Description %q keeps the trace lines", e.Description)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v) = false", tt.is)
			}
			if !strings.Contains(e.Hint, tt.hintHas) {
				t.Errorf("Hint = %q, want it to contain %q", e.Hint, tt.hintHas)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "entra: token: ") || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("Error() = %q, want one line starting with \"entra: token: \"", msg)
			}
			for _, leak := range []string{d.Daemon.ClientSecret, "wrong-secret-value", "eyJ", "secret=1", "http call("} {
				if strings.Contains(msg, leak) {
					t.Errorf("Error() = %q contains %q", msg, leak)
				}
			}
		})
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestFromFlowErrorContext(t *testing.T) {
	f := newErrFixture(t)
	d := f.demo
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.token(t, ctx, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, context.Canceled) || e.Code != "canceled" {
		t.Fatalf("got %v, want an *Error that is context.Canceled", err)
	}

	f.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Delay: 5 * time.Second})
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = f.token(t, ctx, d.TenantID, d.Daemon.ClientID, d.Daemon.ClientSecret, d.API.AppIDURI+"/.default")
	if !errors.As(err, &e) || !errors.Is(err, context.DeadlineExceeded) || e.Code != "timeout" {
		t.Fatalf("got %v, want an *Error that is context.DeadlineExceeded", err)
	}
}

func callErr(status int, body string) error {
	resp := &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader([]byte(body)))}
	return fmt.Errorf("wrapped: %w", msalerrors.CallErr{Resp: resp,
		Err: fmt.Errorf("http call(https://x/token)(POST) error: reply status code was %d:\n%s", status, body)})
}

func TestFromFlowErrorBodies(t *testing.T) {
	const realBody = `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '86be4c01-505b-45e9-bfc0-9b825fd84'.\r\nTrace ID: 03da4b8e-5ffe-48ca-9754-aff4276f0100\r\nCorrelation ID: 7b12f9bb-2eef-42e3-ad75-eee69ec9088d\r\nTimestamp: 2022-03-02 18:25:26Z","error_codes":[7000215],"timestamp":"2022-03-02 18:25:26Z","trace_id":"03da4b8e-5ffe-48ca-9754-aff4276f0100","correlation_id":"7b12f9bb-2eef-42e3-ad75-eee69ec9088d","error_uri":"https://login.microsoftonline.com/error?code=7000215"}`
	tests := []struct {
		name, body string
		status     int
		check      func(t *testing.T, e *Error)
	}{
		{"real 7000215", realBody, 401, func(t *testing.T, e *Error) {
			want := "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '86be4c01-505b-45e9-bfc0-9b825fd84'."
			if e.Description != want {
				t.Errorf("Description = %q, want %q", e.Description, want)
			}
			if e.TraceID != "03da4b8e-5ffe-48ca-9754-aff4276f0100" || e.CorrelationID != "7b12f9bb-2eef-42e3-ad75-eee69ec9088d" || e.Timestamp != "2022-03-02 18:25:26Z" {
				t.Errorf("ids: %q %q %q", e.TraceID, e.CorrelationID, e.Timestamp)
			}
			if e.Code != "invalid_client" || !e.HasCode(7000215) || e.Hint != hint(7000215) {
				t.Errorf("code %q codes %v hint %q", e.Code, e.AADSTS, e.Hint)
			}
		}},
		{"code from description", `{"error":"invalid_grant","error_description":"AADSTS50013: Assertion failed signature validation."}`, 400, func(t *testing.T, e *Error) {
			if !e.HasCode(50013) || !strings.Contains(e.Hint, "middle-tier") {
				t.Errorf("codes %v hint %q", e.AADSTS, e.Hint)
			}
		}},
		{"consent suberror", `{"error":"invalid_grant","suberror":"consent_required","error_description":"x"}`, 400, func(t *testing.T, e *Error) {
			if !strings.Contains(e.Hint, "consent") {
				t.Errorf("hint %q", e.Hint)
			}
		}},
		{"jwt in description", `{"error":"invalid_grant","error_description":"bad token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig here"}`, 400, func(t *testing.T, e *Error) {
			if strings.Contains(e.Error(), "eyJ") || !strings.Contains(e.Description, "[redacted]") {
				t.Errorf("Description %q", e.Description)
			}
		}},
		{"odd codes type", `{"error":"invalid_request","error_codes":"90002","error_description":"AADSTS90002: Tenant 'x' not found."}`, 400, func(t *testing.T, e *Error) {
			if !e.HasCode(90002) || e.Code != "invalid_request" {
				t.Errorf("codes %v code %q", e.AADSTS, e.Code)
			}
		}},
		{"hostile code and ids", `{"error":"bad code\nwith newline","trace_id":"` + strings.Repeat("a", 100) + `","error_description":"x"}`, 400, func(t *testing.T, e *Error) {
			if e.Code != "" || e.TraceID != "" {
				t.Errorf("code %q trace %q, want both dropped", e.Code, e.TraceID)
			}
		}},
		{"html 502", "<html><body>Bad Gateway eyJsecret.x.y</body></html>", 502, func(t *testing.T, e *Error) {
			if e.Code != "server_error" || e.StatusCode != 502 || strings.Contains(e.Error(), "html") {
				t.Errorf("got %q", e.Error())
			}
		}},
		{"long description", `{"error":"invalid_request","error_description":"` + strings.Repeat("word ", 500) + `"}`, 400, func(t *testing.T, e *Error) {
			if len(e.Description) > maxDescription+len("…") {
				t.Errorf("Description has %d bytes", len(e.Description))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fromFlowError("token", callErr(tt.status, tt.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T, want *Error", err)
			}
			if e.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", e.StatusCode, tt.status)
			}
			if strings.Contains(err.Error(), "http call(") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("Error() = %q uses MSAL's text or spans lines", err)
			}
			tt.check(t, e)
		})
	}
}

func TestFromFlowErrorMSALText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
		is   error
	}{
		{"token in message", errors.New(`json: cannot unmarshal: {"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJ4Ijoi.c2ln"}`), "msal_error", nil},
		{"declined", errors.New("token response failed because declined scopes are present: x"), "declined_scopes", nil},
		{"rsa", errors.New("key must be an RSA key"), "invalid_certificate", nil},
		{"missing expiry", errors.New("expires_in and expires_on are both missing or invalid"), "invalid_response", ErrInvalidResponse},
		{"flows config", fmt.Errorf("%w: ClientID is required", flows.ErrConfig), "invalid_config", ErrConfig},
		{"already *Error", &Error{Op: "scope", Code: "invalid_scope", Err: ErrNoScopes}, "invalid_scope", ErrNoScopes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fromFlowError("token", tt.err)
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Fatalf("got %v, want Code %q", err, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v) = false", tt.is)
			}
			if strings.Contains(err.Error(), "eyJ") || strings.Contains(err.Error(), "json:") {
				t.Errorf("Error() = %q leaks MSAL's text", err)
			}
		})
	}
	if fromFlowError("token", nil) != nil {
		t.Errorf("nil error mapped to non-nil")
	}
}

// Error.RetryAfter comes from the answer's headers, and from the HTTP
// client's throttle on the next call (defect 20).
func TestFromFlowErrorRetryAfter(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		headers   map[string]string
		want      time.Duration
		wantText  string
		throttled bool // the next call is refused by the throttle
	}{
		{"429 Retry-After 120", 429, map[string]string{"Retry-After": "120"}, 2 * time.Minute, "retry in 2m0s", true},
		{"503 Retry-After-Ms", 503, map[string]string{"Retry-After-Ms": "30000"}, 30 * time.Second, "retry in 30s", true},
		{"429 huge capped", 429, map[string]string{"x-ms-retry-after-ms": "99999999999"}, entrahttp.MaxThrottle, "retry in 10m0s", true},
		{"503 without", 503, nil, 0, "", false},
		{"400 ignored", 400, map[string]string{"Retry-After": "120"}, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := echoAuthority(t, func(string) (int, map[string]string, string) {
				return tt.status, tt.headers, `{"error":"temporarily_unavailable","error_description":"busy"}`
			})
			hc := entrahttp.New(entrahttp.Options{Base: srv.Client(), MaxAttempts: 1})
			e := echoToken(t, srv, hc)
			if e.RetryAfter != tt.want || e.StatusCode != tt.status {
				t.Errorf("got RetryAfter %v status %d, want %v %d", e.RetryAfter, e.StatusCode, tt.want, tt.status)
			}
			if tt.wantText != "" && !strings.Contains(e.Error(), tt.wantText) {
				t.Errorf("got %q, want it to contain %q", e.Error(), tt.wantText)
			}
			e = echoToken(t, srv, hc)
			var re *entrahttp.ResponseError
			if got := errors.As(e, &re) && re.Kind == entrahttp.KindThrottled; got != tt.throttled {
				t.Fatalf("second call: got %#v, want throttled %v", e, tt.throttled)
			}
			if !tt.throttled {
				return
			}
			if e.StatusCode != tt.status || e.RetryAfter <= 0 || e.RetryAfter > tt.want || !strings.Contains(e.Error(), "retry in ") {
				t.Errorf("second call: got %q (status %d, RetryAfter %v), want the remembered %d with a wait", e, e.StatusCode, e.RetryAfter, tt.status)
			}
		})
	}
}

// A hostile AADSTS list is capped (defect 12).
func TestFromFlowErrorCodesCapped(t *testing.T) {
	codes := make([]string, 8000)
	for i := range codes {
		codes[i] = strconv.Itoa(7000000 + i)
	}
	body := `{"error":"invalid_request","error_codes":[-1,99999999999,` + strings.Join(codes, ",") + `],"error_description":"x"}`
	err := fromFlowError("token", callErr(400, body))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T, want *Error", err)
	}
	if len(e.AADSTS) != maxCodes || e.AADSTS[0] != 7000000 {
		t.Errorf("got %d codes starting %v, want %d starting 7000000", len(e.AADSTS), e.AADSTS[:1], maxCodes)
	}
	if n := len(err.Error()); n > 600 {
		t.Errorf("Error() has %d bytes, want a short line", n)
	}
	long := &Error{Op: "token", AADSTS: make([]int, 100)}
	if n := len(long.Error()); n > 200 {
		t.Errorf("Error() of a hand-built 100-code error has %d bytes", n)
	}
}

func TestFromFlowErrorUntrustedHost(t *testing.T) {
	srv := echoAuthority(t, func(string) (int, map[string]string, string) { return 200, nil, "{}" })
	hc := entrahttp.New(entrahttp.Options{Base: srv.Client(), TrustedHosts: []string{"login.microsoftonline.com"}})
	e := echoToken(t, srv, hc)
	if e.Code != "untrusted_host" || !errors.Is(e, ErrUntrustedHost) || e.Hint == "" {
		t.Errorf("got %#v, want Code untrusted_host wrapping ErrUntrustedHost", e)
	}
}

// Network error text can quote bytes a server sent (net/http's
// "malformed HTTP response"): it is scrubbed, in the text and the cause.
func TestFromFlowErrorNetworkTextScrubbed(t *testing.T) {
	raw := &url.Error{Op: "Post", URL: "https://h/t/oauth2/v2.0/token?client_secret=" + url.QueryEscape(testSecret),
		Err: errors.New(`net/http: malformed HTTP response "` + testSecret + `"`)}
	err := fromFlowErrorRedacting("token", fmt.Errorf("server response error:\n %w", raw), []string{testSecret})
	var e *Error
	if !errors.As(err, &e) || e.Code != "transport" {
		t.Fatalf("got %v, want a transport *Error", err)
	}
	for _, text := range []string{e.Error(), e.Description, e.Err.Error(), fmt.Sprintf("%#v", e)} {
		if l := leak(text, testSecret); l != "" {
			t.Errorf("%q holds the %s secret", text, l)
		}
	}
}
