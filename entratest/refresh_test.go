package entratest

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ufClock is a settable clock for Options.Now.
type ufClock struct {
	mu sync.Mutex
	t  time.Time
}

func newUFClock() *ufClock { return &ufClock{t: time.Now()} }

func (c *ufClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *ufClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signInRT signs the demo user in with offline_access and returns the refresh token.
func (e *ufEnv) signInRT(t *testing.T) string {
	t.Helper()
	code := e.code(t, e.tid, e.authQuery(e.demo.API.Scope+" offline_access"))
	status, body := e.token(t, e.tid, e.redeemForm(code, "", ""))
	rt, _ := body["refresh_token"].(string)
	if status != http.StatusOK || rt == "" {
		t.Fatalf("sign-in: got %d %v, want 200 with a refresh token", status, body["error_description"])
	}
	return rt
}

func (e *ufEnv) refreshForm(rt, scope string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "client_id": {e.demo.PublicClient.ClientID},
		"refresh_token": {rt}, "client_info": {"1"}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

func TestRefreshRotation(t *testing.T) {
	e := ufNew(t, nil)
	rt1 := e.signInRT(t)
	status, body := e.token(t, e.tid, e.refreshForm(rt1, e.demo.API.Scope+" openid offline_access profile"))
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	rt2, _ := body["refresh_token"].(string)
	if rt2 == "" || rt2 == rt1 {
		t.Fatal("refresh did not rotate the refresh token")
	}
	if at := ufClaims(t, body["access_token"]); at["oid"] != e.demo.User.ObjectID || at["scp"] != "access_as_user" {
		t.Fatalf("access token: got oid %v scp %v", at["oid"], at["scp"])
	}
	if _, ok := body["id_token"].(string); !ok {
		t.Fatal("no id_token although openid was asked")
	}
	// Not strict: the redeemed token still works, as in Entra.
	if status, body := e.token(t, e.tid, e.refreshForm(rt1, "")); status != http.StatusOK {
		t.Fatalf("reuse without StrictRefreshTokens: got %d %v, want 200", status, body)
	}
	// Without scope, the scopes of the grant that issued the token are used
	// (x/oauth2 sends none).
	status, body = e.token(t, e.tid, e.refreshForm(rt2, ""))
	if status != http.StatusOK || body["scope"] != "openid profile "+e.demo.API.Scope {
		t.Fatalf("refresh without scope: got %d scope %v, want the original scopes", status, body["scope"])
	}
}

func TestRefreshStrictReuse(t *testing.T) {
	e := ufNew(t, &Options{StrictRefreshTokens: true})
	rt1 := e.signInRT(t)
	status, body := e.token(t, e.tid, e.refreshForm(rt1, e.demo.API.Scope))
	if status != http.StatusOK {
		t.Fatalf("first refresh: %d %v", status, body)
	}
	rt2 := body["refresh_token"].(string)
	status, body = e.token(t, e.tid, e.refreshForm(rt1, e.demo.API.Scope))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 70008)
	// A redemption that fails after the token checks (here: a bad scope)
	// does not kill the token.
	status, body = e.token(t, e.tid, e.refreshForm(rt2, e.demo.API.Scope+" "+e.demo.OBOAPI.Scope))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_scope", 28000)
	if status, body := e.token(t, e.tid, e.refreshForm(rt2, e.demo.API.Scope)); status != http.StatusOK {
		t.Fatalf("rotated token: got %d %v, want 200", status, body)
	}
}

// Strict mode: of concurrent redemptions of one refresh token exactly one wins.
func TestRefreshStrictConcurrent(t *testing.T) {
	e := ufNew(t, &Options{StrictRefreshTokens: true})
	rt := e.signInRT(t)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, err := e.c.PostForm(e.s.Authority(e.tid)+"/oauth2/v2.0/token", e.refreshForm(rt, e.demo.API.Scope))
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("successful redemptions: got %d (%v), want 1", ok, statuses)
	}
}

func TestRefreshRevoked(t *testing.T) {
	e := ufNew(t, nil)
	rt := e.signInRT(t)
	e.s.RevokeRefreshTokens(e.demo.User.Username)
	status, body := e.token(t, e.tid, e.refreshForm(rt, e.demo.API.Scope))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 50173)
	// A fresh sign-in gets a working refresh token.
	if status, body := e.token(t, e.tid, e.refreshForm(e.signInRT(t), e.demo.API.Scope)); status != http.StatusOK {
		t.Fatalf("after a new sign-in: got %d %v, want 200", status, body)
	}
}

func TestRefreshExpired(t *testing.T) {
	clock := newUFClock()
	e := ufNew(t, &Options{Now: clock.Now})
	rt := e.signInRT(t)
	clock.Advance(90*24*time.Hour - time.Minute)
	status, body := e.token(t, e.tid, e.refreshForm(rt, e.demo.API.Scope))
	if status != http.StatusOK {
		t.Fatalf("day 89: got %d %v, want 200", status, body)
	}
	clock.Advance(2 * time.Minute)
	status, body = e.token(t, e.tid, e.refreshForm(rt, e.demo.API.Scope))
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 700082)
}

func TestRefreshBindings(t *testing.T) {
	e := ufNew(t, nil)
	rt := e.signInRT(t)
	t.Run("other consented resource", func(t *testing.T) {
		status, body := e.token(t, e.tid, e.refreshForm(rt, e.demo.OBOAPI.Scope))
		if status != http.StatusOK || ufClaims(t, body["access_token"])["aud"] != e.demo.OBOAPI.ClientID {
			t.Fatalf("got %d %v, want a token for the OBO API", status, body["error_description"])
		}
	})
	t.Run("several resources", func(t *testing.T) {
		status, body := e.token(t, e.tid, e.refreshForm(rt, e.demo.API.Scope+" "+e.demo.OBOAPI.Scope))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_scope", 28000)
	})
	t.Run("consent missing", func(t *testing.T) {
		status, body := e.token(t, e.tid, e.refreshForm(rt, "Mail.Read"))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)
	})
	t.Run("other client", func(t *testing.T) {
		const other = "0d1e2f30-4a5b-4c6d-8e9f-000000000002"
		e.addLoopbackApp(t, other)
		f := e.refreshForm(rt, e.demo.API.Scope)
		f.Set("client_id", other)
		status, body := e.token(t, e.tid, f)
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 70000)
	})
	t.Run("v1 endpoint with resource", func(t *testing.T) {
		f := e.refreshForm(rt, "")
		f.Set("resource", e.demo.OBOAPI.AppIDURI)
		status, body := ufPostJSON(t, e.c, e.s.Authority(e.tid)+"/oauth2/token", f)
		exp, _ := strconv.Atoi(body["expires_in"].(string))
		if status != http.StatusOK || exp < 3600 || exp > 5400 || body["resource"] != e.demo.OBOAPI.AppIDURI {
			t.Fatalf("got %d expires_in %v resource %v (%v)", status, body["expires_in"], body["resource"], body["error_description"])
		}
		if at := ufClaims(t, body["access_token"]); at["aud"] != e.demo.OBOAPI.ClientID || at["oid"] != e.demo.User.ObjectID {
			t.Fatalf("got aud %v oid %v", at["aud"], at["oid"])
		}
	})
	t.Run("other tenant", func(t *testing.T) {
		status, body := e.token(t, "consumers", e.refreshForm(rt, e.demo.API.Scope))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 70000)
	})
	t.Run("unknown", func(t *testing.T) {
		status, body := e.token(t, e.tid, e.refreshForm("nope", e.demo.API.Scope))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 9002313)
	})
	t.Run("missing", func(t *testing.T) {
		status, body := e.token(t, e.tid, e.refreshForm("", e.demo.API.Scope))
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_request", 900144)
	})
}
