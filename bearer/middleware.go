package bearer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// maxAuthorizationBytes bounds the Authorization header read.
const maxAuthorizationBytes = MaxTokenBytes + 64

// Middleware validates the request's bearer token before next runs, and
// puts the claims (FromContext) on the request's context. Rejections are
// answered with RFC 6750 challenges: 401 invalid_token (no token echoed),
// 400 invalid_request for a malformed Authorization header, 401 without an
// error code when no token was sent, 503 when the keys cannot be loaded.
// The request's ctx bounds a key-set fetch. Safe for concurrent use.
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.authenticate(r)
		if err != nil {
			v.reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
	})
}

// RequireScopes returns middleware that lets a request through only if
// its token holds at least one of scopes in scp (delegated permissions);
// otherwise it answers 403 insufficient_scope. It validates the token itself
// unless Middleware already did. Safe for concurrent use.
func (v *Validator) RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return v.require(scopes, (*Claims).HasScope)
}

// RequireRoles is RequireScopes for app roles (the roles claim:
// application permissions, or roles assigned to the user).
func (v *Validator) RequireRoles(roles ...string) func(http.Handler) http.Handler {
	return v.require(roles, (*Claims).HasRole)
}

func (v *Validator) require(want []string, has func(*Claims, string) bool) func(http.Handler) http.Handler {
	want = append([]string(nil), want...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := FromContext(r.Context())
			if !ok {
				var err *Error
				if c, err = v.authenticate(r); err != nil {
					v.reject(w, r, err)
					return
				}
				r = r.WithContext(NewContext(r.Context(), c))
			}
			for _, s := range want {
				if has(c, s) {
					next.ServeHTTP(w, r)
					return
				}
			}
			scope := strings.Join(want, " ")
			v.reject(w, r, &Error{Status: http.StatusForbidden, Code: CodeInsufficientScope, Scope: scope,
				Reason: "token lacks every one of the required scopes or roles: " + short(scope),
				Hint:   "grant the client one of them (with admin consent for app roles) and get a new token",
				err:    ErrInsufficientScope})
		})
	}
}

// authenticate reads the bearer token of r and validates it.
func (v *Validator) authenticate(r *http.Request) (*Claims, *Error) {
	raw, e := bearerToken(r)
	if e != nil {
		return nil, e
	}
	c, err := v.Validate(r.Context(), raw)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = invalidToken(ErrMalformed, "token rejected", "send an Entra ID access token")
		}
		return nil, e
	}
	return c, nil
}

// bearerToken extracts the token from the one Authorization header.
func bearerToken(r *http.Request) (string, *Error) {
	bad := func(reason string) (string, *Error) {
		return "", &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Reason: reason,
			Hint: "send the token once, as \"Authorization: Bearer <token>\"", err: ErrBadRequest}
	}
	h := r.Header.Values("Authorization")
	if r.URL.Query().Has("access_token") {
		return bad("access_token in the query is not accepted")
	}
	switch {
	case len(h) == 0:
		return "", &Error{Status: http.StatusUnauthorized, Reason: "no bearer token",
			Hint: "send \"Authorization: Bearer <access token for this API>\"", err: ErrNoToken}
	case len(h) > 1:
		return bad("more than one Authorization header")
	case len(h[0]) > maxAuthorizationBytes:
		return "", invalidToken(ErrMalformed, "token longer than "+strconv.Itoa(MaxTokenBytes)+" bytes", "send an Entra ID access token")
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(h[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", &Error{Status: http.StatusUnauthorized, Reason: "authorization scheme is not Bearer",
			Hint: "send \"Authorization: Bearer <access token for this API>\"", err: ErrNoToken}
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return bad("Bearer without a token")
	}
	if strings.ContainsAny(tok, " \t,") {
		return bad("Authorization header has more than one value")
	}
	return tok, nil
}

// reject answers err and logs its reason (never the token).
func (v *Validator) reject(w http.ResponseWriter, r *http.Request, e *Error) {
	attrs := []slog.Attr{slog.Int("status", e.Status), slog.String("code", e.Code), slog.String("reason", e.Reason),
		slog.String("method", r.Method), slog.String("path", short(r.URL.Path))}
	for _, f := range e.Findings {
		attrs = append(attrs, slog.String(string(f.Code), f.Message+" — fix: "+f.Fix))
	}
	v.log.LogAttrs(r.Context(), slog.LevelInfo, "entra: bearer: request rejected", attrs...)
	WriteError(w, v.realm, e)
}

// WriteError answers e: its status, an RFC 6750 WWW-Authenticate challenge
// (for 400, 401 and 403) and a JSON body {"error", "error_description"}.
// realm may be empty. Safe for concurrent use.
func WriteError(w http.ResponseWriter, realm string, e *Error) {
	params := []string{}
	if realm != "" {
		params = append(params, `realm="`+quotable(realm)+`"`)
	}
	if e.Code != "" {
		params = append(params, `error="`+e.Code+`"`, `error_description="`+quotable(e.Reason)+`"`)
	}
	if e.Scope != "" {
		params = append(params, `scope="`+quotable(e.Scope)+`"`)
	}
	h := w.Header()
	if e.Status != http.StatusServiceUnavailable {
		h.Set("WWW-Authenticate", strings.TrimSpace("Bearer "+strings.Join(params, ", ")))
	} else {
		h.Set("Retry-After", "30")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	code := e.Code
	if code == "" {
		code = "unauthorized"
		if e.Status == http.StatusServiceUnavailable {
			code = "temporarily_unavailable"
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": e.Reason, "hint": e.Hint})
}

// Challenge answers a Continuous Access Evaluation claims challenge: 401
// with WWW-Authenticate: Bearer error="insufficient_claims",
// claims="<base64 of claims>". claims is the JSON claims request, e.g.
// {"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}. A
// CAE-capable client (Claims.Capabilities holds "cp1"; entra's Transport
// is one) gets a new token with those claims and retries. Safe for
// concurrent use.
func Challenge(w http.ResponseWriter, claims string) {
	h := w.Header()
	h.Set("WWW-Authenticate", `Bearer realm="", error="insufficient_claims", claims="`+
		base64.StdEncoding.EncodeToString([]byte(claims))+`"`)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": "insufficient_claims",
		"error_description": "the token does not satisfy the claims challenge; get a new token with the claims and retry"})
}

// quotable keeps the characters RFC 6750 allows in a quoted value.
func quotable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 300; i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\'')
		case c >= 0x20 && c <= 0x7e:
			b.WriteByte(c)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
