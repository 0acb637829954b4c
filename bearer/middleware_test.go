package bearer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra/bearer"
	"golang.org/x/oauth2"
)

// serve runs h on a GET with the given Authorization headers.
func serve(h http.Handler, target string, authz ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, a := range authz {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestMiddlewareAnswers(t *testing.T) {
	f := newFakeEntra(t)
	var logs bytes.Buffer
	v := f.validator(t, tenantA, &bearer.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	now := time.Now()
	user := signA(t, v2Claims(now))
	app := signA(t, v1Claims(now))
	graph := v2Claims(now)
	graph["aud"] = "https://graph.microsoft.com"
	graphTok := signA(t, graph)
	expired := v2Claims(now)
	expired["exp"] = now.Add(-time.Hour).Unix()
	expiredTok := signA(t, expired)

	var seen *bearer.Claims
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, found := bearer.FromContext(r.Context())
		if !found {
			t.Error("handler ran without claims")
		}
		seen = c
		w.WriteHeader(http.StatusOK)
	})
	realm := `realm="api://` + apiID + `"`
	tests := []struct {
		name      string
		h         http.Handler
		target    string
		authz     []string
		status    int
		challenge string // substring of WWW-Authenticate; "-" = must be exactly the bare challenge
	}{
		{"valid", v.Middleware(ok), "/", []string{"Bearer " + user}, 200, ""},
		{"scheme case-insensitive", v.Middleware(ok), "/", []string{"bearer " + user}, 200, ""},
		{"no token", v.Middleware(ok), "/", nil, 401, "-"},
		{"basic auth", v.Middleware(ok), "/", []string{"Basic dXNlcjpwYXNz"}, 401, "-"},
		{"two headers", v.Middleware(ok), "/", []string{"Bearer " + user, "Bearer " + user}, 400, `error="invalid_request"`},
		{"empty bearer", v.Middleware(ok), "/", []string{"Bearer "}, 400, `error="invalid_request"`},
		{"two values", v.Middleware(ok), "/", []string{"Bearer " + user + ", Bearer x"}, 400, `error="invalid_request"`},
		{"query token", v.Middleware(ok), "/?access_token=x", []string{"Bearer " + user}, 400, `error="invalid_request"`},
		{"expired", v.Middleware(ok), "/", []string{"Bearer " + expiredTok}, 401, `error="invalid_token", error_description="token expired at`},
		{"graph", v.Middleware(ok), "/", []string{"Bearer " + graphTok}, 401, `Microsoft Graph`},
		{"scope present", v.Middleware(v.RequireScopes("other", "access_as_user")(ok)), "/", []string{"Bearer " + user}, 200, ""},
		{"scope missing", v.Middleware(v.RequireScopes("admin")(ok)), "/", []string{"Bearer " + user}, 403, `error="insufficient_scope"`},
		{"app token has no scp", v.RequireScopes("access_as_user")(ok), "/", []string{"Bearer " + app}, 403, `scope="access_as_user"`},
		{"role present without Middleware", v.RequireRoles("Data.Read.All")(ok), "/", []string{"Bearer " + app}, 200, ""},
		{"role missing", v.RequireRoles("Data.Write.All")(ok), "/", []string{"Bearer " + user}, 403, `error="insufficient_scope"`},
		{"require rejects a bad token", v.RequireRoles("Data.Read.All")(ok), "/", []string{"Bearer " + expiredTok}, 401, `error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			w := serve(tc.h, tc.target, tc.authz...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.status, w.Body)
			}
			ch := w.Header().Get("WWW-Authenticate")
			switch {
			case tc.status == 200:
				if seen == nil || seen.Assertion() == "" {
					t.Error("handler did not get the claims and assertion")
				}
			case tc.challenge == "-":
				if ch != "Bearer "+realm {
					t.Errorf("WWW-Authenticate %q, want %q", ch, "Bearer "+realm)
				}
			case !strings.HasPrefix(ch, "Bearer "+realm) || !strings.Contains(ch, tc.challenge):
				t.Errorf("WWW-Authenticate %q, want it to contain %q", ch, tc.challenge)
			}
			for _, a := range tc.authz {
				if tok := strings.TrimPrefix(strings.TrimPrefix(a, "Bearer "), "bearer "); len(tok) > 20 &&
					(strings.Contains(ch, tok[len(tok)-20:]) || strings.Contains(w.Body.String(), tok[len(tok)-20:])) {
					t.Error("the answer echoes the token")
				}
			}
		})
	}
	for _, tok := range []string{user, app, graphTok, expiredTok} {
		if strings.Contains(logs.String(), tok[len(tok)-20:]) {
			t.Fatal("a token reached the log")
		}
	}
	if !strings.Contains(logs.String(), "token expired") {
		t.Errorf("the log lacks the rejection reason:\n%s", logs.String())
	}
}

func TestChallenge(t *testing.T) {
	const claims = `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`
	w := httptest.NewRecorder()
	bearer.Challenge(w, claims)
	ch := w.Header().Get("WWW-Authenticate")
	if w.Code != 401 || !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="insufficient_claims"`) {
		t.Fatalf("status %d challenge %q", w.Code, ch)
	}
	_, enc, _ := strings.Cut(ch, `claims="`)
	enc = strings.TrimSuffix(enc, `"`)
	got, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || string(got) != claims {
		t.Errorf("claims %q (%v), want %q", got, err, claims)
	}
}

func TestKeysUnavailableIs503(t *testing.T) {
	f := newFakeEntra(t)
	v := f.validator(t, tenantA, nil)
	f.srv.Close()
	w := serve(v.Middleware(http.NotFoundHandler()), "/", "Bearer "+signA(t, v2Claims(time.Now())))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, want 503 with Retry-After", w.Code)
	}
}

// fakeOBO records what TokenSource was asked.
type fakeOBO struct {
	assertion string
	scopes    []string
}

func (f *fakeOBO) TokenSource(ctx context.Context, userAssertion string, scopes ...string) oauth2.TokenSource {
	f.assertion, f.scopes = userAssertion, scopes
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "downstream"})
}

func TestOnBehalfOfTokenSource(t *testing.T) {
	f := newFakeEntra(t)
	v := f.validator(t, tenantA, nil)
	now := time.Now()
	user, app := signA(t, v2Claims(now)), signA(t, v1Claims(now))
	obo := &fakeOBO{}
	var gotErr error
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts, err := bearer.TokenSource(r, obo, "api://downstream/.default")
		if gotErr = err; err != nil {
			return
		}
		tok, err := ts.Token()
		if err != nil || tok.AccessToken != "downstream" {
			t.Errorf("downstream token %v, %v", tok, err)
		}
	}))
	serve(h, "/", "Bearer "+user)
	if gotErr != nil || obo.assertion != user || len(obo.scopes) != 1 || obo.scopes[0] != "api://downstream/.default" {
		t.Fatalf("OBO got assertion match %v scopes %v err %v", obo.assertion == user, obo.scopes, gotErr)
	}
	serve(h, "/", "Bearer "+app)
	if !errors.Is(gotErr, bearer.ErrNoUser) {
		t.Fatalf("app-only token: got %v, want ErrNoUser", gotErr)
	}
	if _, err := bearer.TokenSource(httptest.NewRequest("GET", "/", nil), obo); !errors.Is(err, bearer.ErrNoUser) {
		t.Fatalf("no claims: got %v, want ErrNoUser", err)
	}
}
