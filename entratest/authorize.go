package entratest

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// GET|POST /{tenant}/oauth2/v2.0/authorize.
//
// The emulator signs a user in without a browser: the login_hint user, else
// the user named by SetSignInUser, else the first user of the tenant (for
// common/organizations: of the client's tenant). It then answers at once with
// a code, by the requested response_mode:
//
//   - query (default): 302 to redirect_uri?code=..&state=..
//   - fragment: 302 to redirect_uri#code=..&state=..
//   - form_post: 200 with an auto-submitting HTML form that POSTs code and
//     state to redirect_uri (what MSAL Go's loopback listener requires).
//
// Errors found before the redirect URI is known to be registered (missing or
// unknown client_id, missing or unregistered redirect_uri, unknown tenant,
// repeated parameters) give a 400 HTML error page: the emulator never
// redirects to an unregistered URI. Later errors go back to the redirect URI
// as error, error_description (AADSTS text) and state:
//
//	response_type not "code"       unsupported_response_type  AADSTS700054
//	scope missing                  invalid_request            AADSTS900144
//	bad PKCE challenge or method   invalid_request            AADSTS501491 / 9002313
//	scopes of several resources    invalid_request            AADSTS700022 (the emulator
//	                               issues one token per code, so it refuses them here)
//	unknown login_hint user        access_denied              AADSTS50034
//	no user, prompt=none           login_required             AADSTS50058
//	consent missing                consent_required           AADSTS65001 (there is no
//	                               consent page; grant consent with App.Grants)
//	other scope errors             as the token endpoint would answer them
//
// A registered loopback redirect URI (http://localhost or http://127.0.0.1)
// matches any port, as in Entra; other URIs must match exactly.

// authorizeParams is a parsed /authorize request.
type authorizeParams struct {
	clientID     string
	redirectURI  string
	responseType string
	responseMode string
	scope        string
	state        string
	nonce        string
	loginHint    string
	prompt       string
	challenge    string
	method       string
}

// singleParams are the parameters that may appear at most once.
var singleParams = [...]string{"client_id", "redirect_uri", "response_type", "response_mode", "scope",
	"state", "nonce", "login_hint", "prompt", "code_challenge", "code_challenge_method"}

// parseAuthorize reads an /authorize request's parameters. It reports the
// first parameter sent more than once, if any.
func parseAuthorize(v url.Values) (p authorizeParams, repeated string) {
	for _, k := range singleParams {
		if len(v[k]) > 1 {
			repeated = k
			break
		}
	}
	p = authorizeParams{
		clientID:     strings.TrimSpace(v.Get("client_id")),
		redirectURI:  v.Get("redirect_uri"),
		responseType: v.Get("response_type"),
		responseMode: v.Get("response_mode"),
		scope:        v.Get("scope"),
		state:        v.Get("state"),
		nonce:        v.Get("nonce"),
		loginHint:    strings.TrimSpace(v.Get("login_hint")),
		prompt:       v.Get("prompt"),
		challenge:    v.Get("code_challenge"),
		method:       v.Get("code_challenge_method"),
	}
	if p.responseMode == "" {
		p.responseMode = "query"
	}
	if p.challenge != "" && p.method == "" {
		p.method = "plain"
	}
	return p, repeated
}

// redirectURIMatches reports whether the requested redirect URI is one of the
// registered ones. Loopback URIs match whatever their port.
func redirectURIMatches(registered []string, requested string) bool {
	if requested == "" {
		return false
	}
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	ru, err := url.Parse(requested)
	if err != nil || ru.Scheme != "http" || !isLoopbackHost(ru.Hostname()) || ru.User != nil || ru.Fragment != "" {
		return false
	}
	for _, r := range registered {
		gu, err := url.Parse(r)
		if err != nil || gu.Scheme != "http" || !strings.EqualFold(gu.Hostname(), ru.Hostname()) {
			continue
		}
		if loopbackPath(gu.Path) == loopbackPath(ru.Path) && gu.RawQuery == ru.RawQuery {
			return true
		}
	}
	return false
}

// loopbackPath treats "http://localhost" and "http://localhost/" alike.
func loopbackPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func isLoopbackHost(h string) bool {
	return strings.EqualFold(h, "localhost") || h == "127.0.0.1" || h == "::1"
}

// handleAuthorize serves /{tenant}/oauth2/v2.0/authorize.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, r, http.StatusMethodNotAllowed, newOAuthError(http.StatusMethodNotAllowed, "invalid_request", 900561,
			"The endpoint only accepts GET and POST requests."))
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	}
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, newOAuthError(http.StatusBadRequest, "invalid_request", 9002313,
			"Invalid request. Request is malformed or invalid."))
		return
	}
	p, repeated := parseAuthorize(r.Form)
	seg := r.PathValue("tenant")
	t, e := s.pathTenant(seg, false)
	if e != nil {
		s.errorPage(w, r, http.StatusBadRequest, e)
		return
	}
	if e := s.checkClientAndRedirect(t, p, repeated); e != nil {
		s.errorPage(w, r, http.StatusBadRequest, e)
		return
	}
	code, e := s.authorize(r, t, seg, p)
	if e != nil {
		s.redirectResult(w, r, p, url.Values{
			"error":             {e.err},
			"error_description": {s.describe(r, e)},
		})
		return
	}
	s.redirectResult(w, r, p, url.Values{"code": {code}})
}

// checkClientAndRedirect validates what must be right before the emulator
// may redirect anywhere.
func (s *Server) checkClientAndRedirect(t *tenant, p authorizeParams, repeated string) *oauthError {
	bad := func(code int, format string, args ...any) *oauthError {
		return newOAuthError(http.StatusBadRequest, "invalid_request", code, format, args...)
	}
	switch {
	case repeated != "":
		return bad(9002313, "Invalid request. Request is malformed or invalid: the parameter '%s' is repeated.", repeated)
	case p.clientID == "":
		return bad(900144, "The request body must contain the following parameter: 'client_id'.")
	}
	a := s.lookupClient(t, p.clientID)
	if a == nil || a == s.graph {
		return newOAuthError(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant.",
			sanitize(p.clientID, 64))
	}
	switch {
	case p.redirectURI == "":
		return bad(900144, "The request body must contain the following parameter: 'redirect_uri'.")
	case !redirectURIMatches(a.RedirectURIs, p.redirectURI):
		return bad(50011, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.",
			sanitize(p.redirectURI, 200), a.ClientID)
	}
	switch p.responseMode {
	case "query", "fragment", "form_post":
	default:
		return bad(9002313, "Invalid request. The response_mode '%s' is not supported; use query, fragment or form_post.",
			sanitize(p.responseMode, 32))
	}
	return nil
}

// authorize performs the sign-in and returns a new code, or the error to
// send back to the redirect URI.
func (s *Server) authorize(r *http.Request, t *tenant, seg string, p authorizeParams) (string, *oauthError) {
	bad := func(code int, format string, args ...any) *oauthError {
		return newOAuthError(http.StatusBadRequest, "invalid_request", code, format, args...)
	}
	if p.responseType != "code" {
		return "", newOAuthError(http.StatusBadRequest, "unsupported_response_type", 700054,
			"response_type '%s' is not enabled for the application; the emulator supports 'code'.", sanitize(p.responseType, 32))
	}
	if strings.TrimSpace(p.scope) == "" {
		return "", bad(900144, "The request body must contain the following parameter: 'scope'.")
	}
	switch p.method {
	case "", "S256", "plain":
	default:
		return "", bad(9002313, "Invalid request. code_challenge_method '%s' is not supported; use S256 or plain.", sanitize(p.method, 16))
	}
	if p.method != "" && p.challenge == "" {
		return "", bad(900144, "The request body must contain the following parameter: 'code_challenge'.")
	}
	if p.challenge != "" && (len(p.challenge) < 43 || len(p.challenge) > 128 || !isPKCEChars(p.challenge)) {
		return "", bad(501491, "Invalid size of Code_Challenge parameter: it must be 43 to 128 characters of [A-Za-z0-9-._~].")
	}
	switch p.prompt {
	case "", "login", "none", "consent", "select_account", "create":
	default:
		return "", bad(9002313, "Invalid request. The prompt value '%s' is not supported.", sanitize(p.prompt, 32))
	}
	client := s.lookupClient(t, p.clientID)
	u, e := s.signInUser(t, client, p)
	if e != nil {
		return "", e
	}
	ut := s.tenantByID(u.tenantID)
	req := &tokenRequest{r: r, form: r.Form, tenant: ut, tenantPath: seg, grant: "authorization_code", client: client}
	rs, e := s.resolveScopes(req, p.scope)
	if e != nil {
		if e.code == 28000 {
			return "", bad(700022, "The provided value for the input parameter scope is not valid because it contains more than one resource. "+
				"The emulator issues one token per code: request one resource (plus openid, profile, offline_access, email).")
		}
		return "", e
	}
	if rs.resource != nil {
		if _, e := s.delegatedScopes(client, rs); e != nil {
			if e.code == 65001 {
				e = newOAuthError(http.StatusBadRequest, "consent_required", 65001, "%s", e.description)
			}
			return "", e
		}
	}
	code, err := s.user.codes.put(s.now(), authCode{
		clientID:    client.ClientID,
		redirectURI: p.redirectURI,
		challenge:   p.challenge,
		method:      p.method,
		tenantID:    u.tenantID,
		username:    u.Username,
		scope:       p.scope,
		nonce:       p.nonce,
		signIn:      s.signInEpoch(),
	})
	if err != nil {
		return "", newOAuthError(http.StatusInternalServerError, "server_error", 0, "entratest: could not create a code")
	}
	return code, nil
}

// signInUser picks the user /authorize signs in.
func (s *Server) signInUser(t *tenant, client *app, p authorizeParams) (*user, *oauthError) {
	name := p.loginHint
	if name == "" {
		name = s.user.signInName()
	}
	if name != "" {
		if u := s.lookupUser(t, name); u != nil {
			return u, nil
		}
		where := "this"
		if t != nil {
			where = "the " + t.id
		}
		if p.prompt == "none" {
			return nil, newOAuthError(http.StatusBadRequest, "login_required", 50058,
				"A silent sign-in request was sent but the user account '%s' does not exist in %s directory.", sanitize(name, 128), where)
		}
		return nil, newOAuthError(http.StatusBadRequest, "access_denied", 50034,
			"The user account '%s' does not exist in %s directory. To sign into this application, the account must be added to the directory.",
			sanitize(name, 128), where)
	}
	home := t
	if home == nil {
		home = s.tenantByID(client.tenantID)
	}
	if home != nil {
		if us := s.tenantUsers(home); len(us) > 0 {
			return us[0], nil
		}
	}
	if p.prompt == "none" {
		return nil, newOAuthError(http.StatusBadRequest, "login_required", 50058,
			"A silent sign-in request was sent but no user is signed in.")
	}
	return nil, newOAuthError(http.StatusBadRequest, "access_denied", 50034,
		"No user account exists in the directory to sign in. Add one with Server.AddUser.")
}

func isPKCEChars(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// describe renders an error's description as Entra does on redirects.
func (s *Server) describe(r *http.Request, e *oauthError) string {
	d, _ := s.errorBody(r, e)["error_description"].(string)
	return d
}

// redirectResult sends the result (code or error, plus state) to the
// validated redirect URI by the requested response mode.
func (s *Server) redirectResult(w http.ResponseWriter, r *http.Request, p authorizeParams, v url.Values) {
	if p.state != "" {
		v.Set("state", p.state)
	}
	s.setCommonHeaders(w, r)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	switch p.responseMode {
	case "form_post":
		s.formPost(w, p.redirectURI, v)
	case "fragment":
		http.Redirect(w, r, p.redirectURI+"#"+v.Encode(), http.StatusFound)
	default:
		target := p.redirectURI
		if strings.Contains(target, "?") {
			target += "&" + v.Encode()
		} else {
			target += "?" + v.Encode()
		}
		http.Redirect(w, r, target, http.StatusFound)
	}
}

var formPostPage = template.Must(template.New("form_post").Parse(`<html><head><title>Working...</title></head>
<body onload="document.forms[0].submit()">
<form method="POST" name="hiddenform" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}" />
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript>
</form>
</body></html>
`))

type formField struct{ Name, Value string }

// formPost serves the auto-submitting form of response_mode=form_post.
func (s *Server) formPost(w http.ResponseWriter, action string, v url.Values) {
	data := struct {
		Action template.URL // registered redirect URI, validated before
		Fields []formField
	}{Action: template.URL(action)}
	for _, k := range []string{"code", "error", "error_description", "state"} {
		if val := v.Get(k); val != "" {
			data.Fields = append(data.Fields, formField{k, val})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = formPostPage.Execute(w, data)
}

var errorPageTmpl = template.Must(template.New("error").Parse(`<html><head><title>Sign in to your account</title></head>
<body>
<h1>Sorry, but we're having trouble signing you in.</h1>
<p>{{.Description}}</p>
<p>error: {{.Error}}</p>
</body></html>
`))

// errorPage answers an /authorize request that cannot be redirected.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, e *oauthError) {
	s.setCommonHeaders(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	desc := e.description
	if e.code != 0 {
		desc = "AADSTS" + strconv.Itoa(e.code) + ": " + desc
	}
	_ = errorPageTmpl.Execute(w, struct{ Description, Error string }{desc, e.err})
}
