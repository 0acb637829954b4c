package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/entrakit/entra/flows"
	"github.com/entrakit/entra/internal/entrahttp"
)

// testSecret looks like an Entra client secret and has every character
// that encodings change: + / = ~ . _ -
const testSecret = "Yy78Q~Uu5kDv+lvk6ZGM_Ap7n.IWm/EB0wy5ZoUaY4=="

// encodings returns s in every encoding redactSecrets promises to catch.
func encodings(s string) map[string]string {
	j, _ := json.Marshal(s)
	js := string(j[1 : len(j)-1])
	var u strings.Builder
	for _, r := range s {
		fmt.Fprintf(&u, `\u%04x`, r)
	}
	return map[string]string{
		"raw":         s,
		"query":       url.QueryEscape(s),
		"query lower": lowerEscapes(url.QueryEscape(s)),
		"path":        url.PathEscape(s),
		"json":        js,
		"json slash":  strings.ReplaceAll(js, "/", `\/`),
		"json \\u":    u.String(),
		"base64":      base64.RawStdEncoding.EncodeToString([]byte(s)),
		"base64url":   base64.RawURLEncoding.EncodeToString([]byte(s)),
	}
}

// lowerEscapes writes the hex digits of every %XX in lower case.
func lowerEscapes(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = strings.ToLower(string(b[i+1]))[0], strings.ToLower(string(b[i+2]))[0]
		}
	}
	return string(b)
}

// leak names the first encoding of a secret found in text, or "".
func leak(text string, secrets ...string) string {
	for _, s := range secrets {
		for name, enc := range encodings(s) {
			if enc != "" && strings.Contains(text, enc) {
				return name
			}
		}
	}
	return ""
}

func TestRedactSecrets(t *testing.T) {
	qs := url.QueryEscape(testSecret)
	basic := base64.StdEncoding.EncodeToString([]byte("client-id:" + testSecret))
	tests := []struct {
		name, in string
		keep     []string // must survive
	}{
		{"raw", "bad secret " + testSecret + " given", []string{"bad secret ", " given"}},
		{"form body", "body: client_id=c&client_secret=" + qs + "&scope=x", []string{"client_secret=", "&scope=x"}},
		{"form, lower-case escapes", "client_secret=" + lowerEscapes(qs), []string{"client_secret="}},
		{"path escaped", "/x/" + url.PathEscape(testSecret) + "/y", []string{"/x/", "/y"}},
		{"json escaped", `{"client_secret":"` + strings.ReplaceAll(testSecret, "/", `\/`) + `"}`, []string{`{"client_secret":"`}},
		{"json \\u escaped", encodings(testSecret)["json \\u"], nil},
		{"mixed", strings.Replace(strings.Replace(testSecret, "+", "%2b", 1), "/", `\u002F`, 1), nil},
		{"base64", "x " + base64.StdEncoding.EncodeToString([]byte(testSecret)) + " y", []string{"x ", " y"}},
		{"base64url", base64.URLEncoding.EncodeToString([]byte(testSecret)), nil},
		{"basic auth, offset", "Authorization: Basic " + basic, []string{"Authorization: Basic"}},
		{"prefix cut by a cap", "secret was " + qs[:20], []string{"secret was "}},
		{"suffix after a cut", testSecret[12:] + " end", []string{" end"}},
		{"twice", testSecret + "|" + qs, []string{"|"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactSecrets(tt.in, []string{testSecret})
			if l := leak(got, testSecret); l != "" {
				t.Errorf("got %q, still has the %s secret", got, l)
			}
			if !strings.Contains(got, redactedMark) {
				t.Errorf("got %q, want %q in it", got, redactedMark)
			}
			for _, k := range tt.keep {
				if !strings.Contains(got, k) {
					t.Errorf("got %q, want it to keep %q", got, k)
				}
			}
			if strings.Contains(got, testSecret[:8]) || strings.Contains(got, testSecret[len(testSecret)-8:]) {
				t.Errorf("got %q, keeps an 8-rune end of the secret", got)
			}
		})
	}
	for _, in := range []string{"", "AADSTS7000215: Invalid client secret provided.", "short Yy78Q~U piece", "x"} {
		if got := redactSecrets(in, []string{testSecret, ""}); got != in {
			t.Errorf("redactSecrets(%q) = %q, want it unchanged", in, got)
		}
	}
}

func TestRedactOpaque(t *testing.T) {
	tests := []struct {
		in     string
		redact bool
	}{
		{"AADSTS7000215: Invalid client secret provided.", false},
		{"for a secret added to app '86be4c01-505b-45e9-bfc0-9b825fd84'.", false},
		{"Trace ID: 03da4b8e-5ffe-48ca-9754-aff4276f0100", false},
		{"scope https://management.core.windows.net//user_impersonation is not valid", false},
		{"api://86be4c01-505b-45e9-bfc0-9b825fd84e12/.default", false},
		{"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token", false},
		{"tenant contoso.onmicrosoft.com and https://graph.microsoft.com/User.Read.All", false},
		{"secret " + testSecret + " echoed", true},
		{"token EwBwA8l6BAAUs5+HQn0N+h2FxWzLS31ZgQVuHsYAAR3V7hXq0MpZqk3Bdg= echoed", true},
		{"hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true},
		{"jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", true},
		{"escaped " + url.QueryEscape("aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z+/="), true},
	}
	for _, tt := range tests {
		got := redactOpaque(tt.in)
		if redacted := got != tt.in; redacted != tt.redact {
			t.Errorf("redactOpaque(%q) = %q, want redacted %v", tt.in, got, tt.redact)
		}
	}
}

// echoAuthority is a fake authority (TLS) whose token endpoint answers
// with reply(form), form being the raw request body it received, so it can
// echo the client secret back the way a hostile proxy would.
func echoAuthority(t *testing.T, reply func(form string) (int, map[string]string, string)) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token_endpoint":"%[1]s/t/oauth2/v2.0/token","authorization_endpoint":"%[1]s/t/oauth2/v2.0/authorize","issuer":"%[1]s/t/v2.0"}`, srv.URL)
			return
		}
		b, _ := io.ReadAll(r.Body)
		status, headers, body := reply(string(b))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// echoToken runs one client-credentials call with testSecret against srv
// through MSAL and entrahttp, and maps its error with the secret.
func echoToken(t *testing.T, srv *httptest.Server, hc *entrahttp.Client) *Error {
	t.Helper()
	if hc == nil {
		hc = entrahttp.New(entrahttp.Options{Base: srv.Client(), MaxAttempts: 1})
	}
	app, err := flows.NewSecret(flows.Config{Authority: srv.URL + "/t", ClientID: "11111111-2222-3333-4444-555555555555",
		HTTPClient: hc, DisableInstanceDiscovery: true}, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	_, err = app.AppToken(context.Background(), []string{"api://x/.default"}, "")
	var e *Error
	if !errors.As(fromFlowErrorRedacting("token", err, []string{testSecret}), &e) {
		t.Fatalf("got %v, want *Error", err)
	}
	return e
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Echoes of the secret or of unknown tokens never reach Error(), %v,
// %+v or %#v (defects 3 and 21).
func TestFromFlowErrorRedactingEchoes(t *testing.T) {
	const opaque = "Zq8xV2mN4bL7kP0wR5tY9uI3oA6sD1fG8hJ2kL5zX7cV0bN"
	secretOf := func(form string) string { v, _ := url.ParseQuery(form); return v.Get("client_secret") }
	tests := []struct {
		name   string
		reply  func(form string) (int, map[string]string, string)
		hidden string // another string that must not show
	}{
		{"form echoed in description", func(form string) (int, map[string]string, string) {
			return 401, nil, `{"error":"invalid_client","error_codes":[7000215],"error_description":` + jsonString("AADSTS7000215: bad body "+form) + `}`
		}, ""},
		{"form cut by a proxy", func(form string) (int, map[string]string, string) {
			i := strings.Index(form, "client_secret=") + len("client_secret=") + 20
			return 400, nil, `{"error":"invalid_request","error_description":` + jsonString("body was: "+form[:i]) + `}`
		}, ""},
		{"form echoed json-escaped twice", func(form string) (int, map[string]string, string) {
			return 400, nil, `{"error":"invalid_request","error_description":` + jsonString("body "+jsonString(form)) + `}`
		}, ""},
		{"secret in every field", func(form string) (int, map[string]string, string) {
			s := jsonString(secretOf(form))
			return 400, nil, `{"error":` + s + `,"trace_id":` + s + `,"correlation_id":` + jsonString(url.QueryEscape(secretOf(form))) +
				`,"timestamp":` + s + `,"suberror":` + s + `,"claims":` + s + `,"error_description":` + s + `}`
		}, ""},
		{"basic auth echo", func(form string) (int, map[string]string, string) {
			b := base64.StdEncoding.EncodeToString([]byte("11111111-2222-3333-4444-555555555555:" + secretOf(form)))
			return 400, nil, `{"error":"invalid_client","error_description":"Authorization: Basic ` + b + `"}`
		}, ""},
		{"opaque token in a 503", func(string) (int, map[string]string, string) {
			return 503, nil, `{"error":"temporarily_unavailable","error_description":"upstream said token=` + opaque + ` was bad"}`
		}, opaque},
		{"token in Content-Type", func(string) (int, map[string]string, string) {
			return 200, map[string]string{"Content-Type": "text/" + opaque}, `{"access_token":"` + opaque + `","expires_in":3599}`
		}, opaque},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := echoToken(t, echoAuthority(t, tt.reply), nil)
			for _, text := range []string{e.Error(), fmt.Sprintf("%v", e), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
				if l := leak(text, testSecret); l != "" {
					t.Errorf("%q holds the %s secret", text, l)
				}
				if tt.hidden != "" && strings.Contains(text, tt.hidden) {
					t.Errorf("%q holds %q", text, tt.hidden)
				}
				if strings.Contains(text, testSecret[:8]) {
					t.Errorf("%q holds the secret's first 8 characters", text)
				}
			}
			if e.StatusCode == 0 || !strings.HasPrefix(e.Error(), "entra: token: ") {
				t.Errorf("got %#v, want a mapped answer", e)
			}
		})
	}
}

func TestRedactKeyed(t *testing.T) {
	tests := []struct{ in, want string }{
		{"client_id=c&client_secret=unknown+sec%2Fret&scope=x", "client_id=c&client_secret=[redacted]&scope=x"},
		{`{"Client_Secret": "abc\/def", "x":1}`, `{"Client_Secret": "[redacted]", "x":1}`},
		{`body {\"refresh_token\":\"0.AAA-xyz\"}`, `body {\"refresh_token\":\"[redacted]\"}`},
		{"client_assertion%3DeyJabc%26client_assertion_type%3Durn", "client_assertion%3D[redacted]%26client_assertion_type%3Durn"},
		{"password: hunter2, user: bob", "password: [redacted], user: bob"},
		{"ASSERTION=abc", "ASSERTION=[redacted]"},
		{"AADSTS50013: Assertion failed signature validation.", "AADSTS50013: Assertion failed signature validation."},
		{"client_assertion_type=urn:ietf:params", "client_assertion_type=urn:ietf:params"},
		{"my_password=x", "my_password=x"},
		{"access_token=", "access_token="},
		{"\xffaccess_token=\xfeabc", "\xffaccess_token=[redacted]"},
	}
	for _, tt := range tests {
		if got := redactKeyed(tt.in); got != tt.want {
			t.Errorf("redactKeyed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactSecretsUnicode(t *testing.T) {
	secret := "pässwörd-😀-Secret+1"
	j, _ := json.Marshal(secret)
	ascii := strings.NewReplacer("ä", `\u00e4`, "ö", `\u00F6`, "😀", `\ud83d\ude00`).Replace(secret)
	for _, in := range []string{url.QueryEscape(secret), url.PathEscape(secret), string(j[1 : len(j)-1]), ascii} {
		if got := redactSecrets("x "+in+" y", []string{secret}); got != "x "+redactedMark+" y" {
			t.Errorf("redactSecrets(%q) = %q", in, got)
		}
	}
}
