package entratest

import (
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// ufEnv is a seeded emulator for the user-flow tests, with a client that
// does not follow redirects (so /authorize answers can be read).
type ufEnv struct {
	s    *Server
	demo *Demo
	c    *http.Client
	tid  string
}

func ufNew(t *testing.T, opts *Options) *ufEnv {
	t.Helper()
	s := NewTestServer(t, opts)
	d, err := s.SeedDemo()
	if err != nil {
		t.Fatalf("SeedDemo: %v", err)
	}
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &ufEnv{s: s, demo: d, c: c, tid: d.TenantID}
}

// authQuery is an /authorize query for the demo public client.
func (e *ufEnv) authQuery(scope string) url.Values {
	return url.Values{
		"client_id":     {e.demo.PublicClient.ClientID},
		"response_type": {"code"},
		"redirect_uri":  {e.demo.PublicClient.RedirectURI},
		"scope":         {scope},
		"state":         {"st-123"},
	}
}

// authorize GETs /{tenant}/oauth2/v2.0/authorize and returns the response and its body.
func (e *ufEnv) authorize(t *testing.T, tenant string, q url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := e.c.Get(e.s.Authority(tenant) + "/oauth2/v2.0/authorize?" + q.Encode())
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("authorize body: %v", err)
	}
	return resp, string(b)
}

// redirectParams returns the parameters of a query-mode redirect.
func (e *ufEnv) redirectParams(t *testing.T, tenant string, q url.Values) url.Values {
	t.Helper()
	resp, body := e.authorize(t, tenant, q)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize status: got %d, want 302; body %q", resp.StatusCode, ufShort(body))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location: %v", err)
	}
	return loc.Query()
}

// code runs /authorize and returns the code it redirects with.
func (e *ufEnv) code(t *testing.T, tenant string, q url.Values) string {
	t.Helper()
	v := e.redirectParams(t, tenant, q)
	if v.Get("error") != "" {
		t.Fatalf("authorize error: %s: %s", v.Get("error"), v.Get("error_description"))
	}
	if got, want := v.Get("state"), q.Get("state"); got != want {
		t.Fatalf("state: got %q, want %q", got, want)
	}
	if v.Get("code") == "" {
		t.Fatal("authorize: no code")
	}
	return v.Get("code")
}

func ufShort(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func TestAuthorizeResponseModes(t *testing.T) {
	e := ufNew(t, nil)
	redirect := e.demo.PublicClient.RedirectURI
	t.Run("query", func(t *testing.T) {
		q := e.authQuery(e.demo.API.Scope)
		resp, _ := e.authorize(t, e.tid, q)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, redirect) {
			t.Fatalf("got %d Location %q, want 302 to %s", resp.StatusCode, loc, redirect)
		}
		u, _ := url.Parse(loc)
		if u.Query().Get("code") == "" || u.Query().Get("state") != "st-123" {
			t.Fatalf("got query %v, want code and state", u.Query())
		}
	})
	t.Run("fragment", func(t *testing.T) {
		q := e.authQuery(e.demo.API.Scope)
		q.Set("response_mode", "fragment")
		resp, _ := e.authorize(t, e.tid, q)
		u, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("got %d %v, want 302", resp.StatusCode, err)
		}
		v, _ := url.ParseQuery(u.Fragment)
		if u.RawQuery != "" || v.Get("code") == "" || v.Get("state") != "st-123" {
			t.Fatalf("got query %q fragment %q, want code and state in the fragment only", u.RawQuery, u.Fragment)
		}
	})
	t.Run("form_post", func(t *testing.T) {
		q := e.authQuery(e.demo.API.Scope)
		q.Set("response_mode", "form_post")
		q.Set("state", `a"b<script>x</script>&c`)
		resp, body := e.authorize(t, e.tid, q)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
			t.Fatalf("got %d Location %q, want 200 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("Content-Type: got %q, want text/html", ct)
		}
		action, fields := ufParseFormPost(t, body)
		if action != redirect {
			t.Fatalf("form action: got %q, want %q", action, redirect)
		}
		if fields["state"] != q.Get("state") || fields["code"] == "" {
			t.Fatalf("form fields: got %v, want code and state %q", fields, q.Get("state"))
		}
		if strings.Contains(body, "<script>x") {
			t.Fatal("form_post page holds the state unescaped")
		}
		if !strings.Contains(body, `method="POST"`) || !strings.Contains(body, "submit()") {
			t.Fatal("form_post page does not auto-submit a POST")
		}
	})
	t.Run("form_post error", func(t *testing.T) {
		q := e.authQuery("https://graph.microsoft.com/Mail.Send")
		q.Set("response_mode", "form_post")
		resp, body := e.authorize(t, e.tid, q)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d, want 200", resp.StatusCode)
		}
		action, fields := ufParseFormPost(t, body)
		if action != redirect || fields["error"] != "consent_required" || fields["state"] != "st-123" || fields["code"] != "" {
			t.Fatalf("got action %q fields %v, want consent_required with state and no code", action, fields)
		}
		if !strings.HasPrefix(fields["error_description"], "AADSTS65001: ") {
			t.Fatalf("error_description: got %q", fields["error_description"])
		}
	})
	t.Run("POST request", func(t *testing.T) {
		resp, err := e.c.PostForm(e.s.Authority(e.tid)+"/oauth2/v2.0/authorize", e.authQuery(e.demo.API.Scope))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		u, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || u.Query().Get("code") == "" {
			t.Fatalf("got %d %q, want 302 with a code", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

var (
	ufFormAction = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	ufFormInput  = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)"`)
)

// ufParseFormPost extracts the action and hidden fields of a form_post page.
func ufParseFormPost(t *testing.T, page string) (string, map[string]string) {
	t.Helper()
	m := ufFormAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in page %q", ufShort(page))
	}
	fields := map[string]string{}
	for _, in := range ufFormInput.FindAllStringSubmatch(page, -1) {
		fields[html.UnescapeString(in[1])] = html.UnescapeString(in[2])
	}
	return html.UnescapeString(m[1]), fields
}

// Errors found before the redirect URI is validated give an error page and
// never a redirect.
func TestAuthorizeErrorPage(t *testing.T) {
	e := ufNew(t, nil)
	tests := []struct {
		name string
		edit func(url.Values)
		code string
	}{
		{"redirect_uri mismatch", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, "AADSTS50011"},
		{"redirect_uri missing", func(q url.Values) { q.Del("redirect_uri") }, "AADSTS900144"},
		{"redirect_uri loopback other path", func(q url.Values) { q.Set("redirect_uri", "http://localhost:1234/other") }, "AADSTS50011"},
		{"client_id missing", func(q url.Values) { q.Del("client_id") }, "AADSTS900144"},
		{"client_id unknown", func(q url.Values) { q.Set("client_id", "11111111-2222-3333-4444-555555555555") }, "AADSTS700016"},
		{"redirect_uri repeated", func(q url.Values) { q.Add("redirect_uri", "https://evil.example/cb") }, "AADSTS9002313"},
		{"response_mode unknown", func(q url.Values) { q.Set("response_mode", "web_message") }, "AADSTS9002313"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := e.authQuery(e.demo.API.Scope)
			tt.edit(q)
			resp, body := e.authorize(t, e.tid, q)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("got %d Location %q, want 400 without redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, tt.code) {
				t.Fatalf("page %q does not name %s", ufShort(body), tt.code)
			}
		})
	}
	t.Run("unknown tenant", func(t *testing.T) {
		resp, body := e.authorize(t, "11111111-2222-3333-4444-555555555555", e.authQuery(e.demo.API.Scope))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "AADSTS90002") {
			t.Fatalf("got %d %q, want 400 AADSTS90002", resp.StatusCode, ufShort(body))
		}
	})
}

// Errors found after the redirect URI is validated go back to it.
func TestAuthorizeRedirectedErrors(t *testing.T) {
	e := ufNew(t, nil)
	_, challenge := ufPKCE("r")
	tests := []struct {
		name    string
		edit    func(url.Values)
		wantErr string
		code    string
	}{
		{"response_type token", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type", "AADSTS700054"},
		{"scope missing", func(q url.Values) { q.Del("scope") }, "invalid_request", "AADSTS900144"},
		{"challenge too short", func(q url.Values) { q.Set("code_challenge", "abc") }, "invalid_request", "AADSTS501491"},
		{"challenge method unknown", func(q url.Values) { q.Set("code_challenge", challenge); q.Set("code_challenge_method", "S512") }, "invalid_request", "AADSTS9002313"},
		{"several resources", func(q url.Values) { q.Set("scope", e.demo.API.Scope+" "+e.demo.OBOAPI.Scope) }, "invalid_request", "AADSTS700022"},
		{"unknown user", func(q url.Values) { q.Set("login_hint", "nobody@example.com") }, "access_denied", "AADSTS50034"},
		{"unknown user prompt none", func(q url.Values) { q.Set("login_hint", "nobody@example.com"); q.Set("prompt", "none") }, "login_required", "AADSTS50058"},
		{"consent missing", func(q url.Values) { q.Set("scope", "https://graph.microsoft.com/Mail.Send openid") }, "consent_required", "AADSTS65001"},
		{"unknown scope", func(q url.Values) { q.Set("scope", e.demo.API.AppIDURI+"/nope") }, "invalid_scope", "AADSTS70011"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := e.authQuery(e.demo.API.Scope)
			tt.edit(q)
			v := e.redirectParams(t, e.tid, q)
			if v.Get("error") != tt.wantErr || !strings.HasPrefix(v.Get("error_description"), tt.code+":") {
				t.Fatalf("got %q %q, want %s %s", v.Get("error"), v.Get("error_description"), tt.wantErr, tt.code)
			}
			if v.Get("state") != "st-123" || v.Get("code") != "" {
				t.Fatalf("got state %q code %q, want the state and no code", v.Get("state"), v.Get("code"))
			}
		})
	}
}

func TestAuthorizeLoopbackAnyPort(t *testing.T) {
	e := ufNew(t, nil)
	const cid = "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5"
	e.addLoopbackApp(t, cid)
	for _, ru := range []string{"http://localhost:49152", "http://localhost", "http://localhost:5000/", "http://127.0.0.1:8080/cb"} {
		t.Run(ru, func(t *testing.T) {
			q := e.authQuery(e.demo.API.Scope)
			q.Set("client_id", cid)
			q.Set("redirect_uri", ru)
			resp, _ := e.authorize(t, e.tid, q)
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, ru+"?") {
				t.Fatalf("got %d %q, want 302 to %s", resp.StatusCode, loc, ru)
			}
		})
	}
	q := e.authQuery(e.demo.API.Scope)
	q.Set("client_id", cid)
	q.Set("redirect_uri", "https://localhost:49152")
	if resp, _ := e.authorize(t, e.tid, q); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("https loopback: got %d, want 400 (only http loopback ignores the port)", resp.StatusCode)
	}
}

func TestAuthorizeSignInUser(t *testing.T) {
	e := ufNew(t, nil)
	other, err := e.s.AddUser(e.tid, User{Username: "second@" + strings.SplitN(e.demo.User.Username, "@", 2)[1]})
	if err != nil {
		t.Fatal(err)
	}
	oidOf := func(q url.Values) string {
		code := e.code(t, e.tid, q)
		status, body := e.token(t, e.tid, e.redeemForm(code, "", ""))
		if status != http.StatusOK {
			t.Fatalf("redeem: %d %v", status, body)
		}
		return ufClaims(t, body["access_token"])["oid"].(string)
	}
	q := e.authQuery(e.demo.API.Scope)
	if got := oidOf(q); got != e.demo.User.ObjectID {
		t.Fatalf("default user: got oid %s, want %s", got, e.demo.User.ObjectID)
	}
	e.s.SetSignInUser(other.Username)
	if got := oidOf(q); got != other.ObjectID {
		t.Fatalf("SetSignInUser: got oid %s, want %s", got, other.ObjectID)
	}
	q.Set("login_hint", e.demo.User.Username)
	if got := oidOf(q); got != e.demo.User.ObjectID {
		t.Fatalf("login_hint: got oid %s, want %s", got, e.demo.User.ObjectID)
	}
}

// A personal account signs in on /consumers; its oid has the MSA form.
func TestAuthorizePersonalAccount(t *testing.T) {
	e := ufNew(t, nil)
	msa, err := e.s.AddUser(ConsumersTenantID, User{Username: "someone@outlook.com"})
	if err != nil {
		t.Fatal(err)
	}
	q := e.authQuery("openid profile offline_access")
	q.Set("login_hint", msa.Username)
	q.Set("nonce", "n-1")
	code := e.code(t, "consumers", q)
	status, body := e.token(t, "consumers", e.redeemForm(code, "", ""))
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, body)
	}
	idt := ufClaims(t, body["id_token"])
	msaOID := regexp.MustCompile(`^00000000-0000-0000-[0-9a-f]{4}-[0-9a-f]{12}$`)
	if oid, _ := idt["oid"].(string); !msaOID.MatchString(oid) || oid != msa.ObjectID {
		t.Fatalf("id_token oid: got %q, want %s of the form 00000000-0000-0000-XXXX-XXXXXXXXXXXX", oid, msa.ObjectID)
	}
	if idt["tid"] != ConsumersTenantID || idt["nonce"] != "n-1" {
		t.Fatalf("id_token tid/nonce: got %v %v, want %s n-1", idt["tid"], idt["nonce"], ConsumersTenantID)
	}
	ci, err := base64.RawURLEncoding.DecodeString(body["client_info"].(string))
	if err != nil || !strings.Contains(string(ci), ConsumersTenantID) {
		t.Fatalf("client_info: got %q %v, want utid %s", ci, err, ConsumersTenantID)
	}
}

// FuzzAuthorize feeds arbitrary query strings to /authorize: it must never
// panic, never answer other than 200/302/400, and never redirect anywhere but
// a registered redirect URI.
func FuzzAuthorize(f *testing.F) {
	s := NewTestServer(f, nil)
	d, err := s.SeedDemo()
	if err != nil {
		f.Fatal(err)
	}
	good := url.Values{"client_id": {d.PublicClient.ClientID}, "response_type": {"code"},
		"redirect_uri": {d.PublicClient.RedirectURI}, "scope": {d.API.Scope}, "state": {"s"}}
	f.Add(good.Encode())
	good.Set("response_mode", "form_post")
	good.Set("code_challenge", strings.Repeat("a", 43))
	f.Add(good.Encode())
	f.Add("client_id=" + d.PublicClient.ClientID + "&redirect_uri=https://evil.example&response_type=code")
	f.Add("redirect_uri=%zz&&&;;=")
	f.Add("client_id=" + strings.ToUpper(d.PublicClient.ClientID) + "&redirect_uri=http%3A%2F%2FloCAlhost:1&x")
	f.Add("")
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.Fuzz(func(t *testing.T, rawQuery string) {
		if _, repeated := parseAuthorize(ufParseLoose(rawQuery)); repeated == "never" {
			t.Fatal("unreachable")
		}
		req, err := http.NewRequest(http.MethodGet, s.Authority(d.TenantID)+"/oauth2/v2.0/authorize", nil)
		if err != nil {
			t.Skip()
		}
		if strings.ContainsFunc(rawQuery, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Skip() // not a valid request line; the HTTP client would send it as is
		}
		req.URL.RawQuery = rawQuery
		resp, err := c.Do(req)
		if err != nil {
			t.Skip() // the client refused the URL
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK, http.StatusBadRequest:
			if loc := resp.Header.Get("Location"); loc != "" {
				t.Fatalf("status %d with Location %q", resp.StatusCode, loc)
			}
		case http.StatusFound:
			// The registered URI is http://localhost: any port, path "" or "/".
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || loc.Scheme != "http" || !strings.EqualFold(loc.Hostname(), "localhost") ||
				(loc.Path != "" && loc.Path != "/") || loc.User != nil {
				t.Fatalf("redirect to %q, not the registered %q", resp.Header.Get("Location"), d.PublicClient.RedirectURI)
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func ufParseLoose(raw string) url.Values {
	v, _ := url.ParseQuery(raw)
	return v
}
