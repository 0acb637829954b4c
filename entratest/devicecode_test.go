package entratest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// deviceStart posts to /devicecode for the demo public client and returns the answer.
func (e *ufEnv) deviceStart(t *testing.T, scope string) map[string]any {
	t.Helper()
	resp, err := e.c.PostForm(e.s.Authority(e.tid)+"/oauth2/v2.0/devicecode",
		url.Values{"client_id": {e.demo.PublicClient.ClientID}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("devicecode: got %d %v", resp.StatusCode, body)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", "Expires": "-1"} {
		if got := resp.Header.Get(h); got != want {
			t.Fatalf("header %s: got %q, want %q", h, got, want)
		}
	}
	return body
}

func (e *ufEnv) poll(t *testing.T, deviceCode, grantType string) (int, map[string]any) {
	t.Helper()
	return e.token(t, e.tid, url.Values{"grant_type": {grantType}, "client_id": {e.demo.PublicClient.ClientID},
		"device_code": {deviceCode}, "client_info": {"1"}, "scope": {e.demo.API.Scope + " openid offline_access profile"}})
}

func TestDeviceCodeResponse(t *testing.T) {
	e := ufNew(t, nil)
	body := e.deviceStart(t, e.demo.API.Scope+" openid offline_access profile")
	uc, _ := body["user_code"].(string)
	if len(uc) != 8 || strings.Trim(uc, userCodeAlphabet) != "" {
		t.Fatalf("user_code: got %q, want 8 characters of %s", uc, userCodeAlphabet)
	}
	if dc, _ := body["device_code"].(string); len(dc) < 32 {
		t.Fatalf("device_code: got %d characters, want an opaque value", len(dc))
	}
	if body["expires_in"] != float64(900) || body["interval"] != float64(5) || body["verification_uri"] != "https://microsoft.com/devicelogin" {
		t.Fatalf("got expires_in %v interval %v verification_uri %v", body["expires_in"], body["interval"], body["verification_uri"])
	}
	if msg, _ := body["message"].(string); !strings.Contains(msg, uc) {
		t.Fatalf("message %q does not name the code", msg)
	}
	t.Run("scope errors are reported at once", func(t *testing.T) {
		status, body := ufPostJSON(t, e.c, e.s.Authority(e.tid)+"/oauth2/v2.0/devicecode",
			url.Values{"client_id": {e.demo.PublicClient.ClientID}, "scope": {e.demo.API.Scope + " " + e.demo.OBOAPI.Scope}})
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_scope", 28000)
	})
	t.Run("unknown client", func(t *testing.T) {
		status, body := ufPostJSON(t, e.c, e.s.Authority(e.tid)+"/oauth2/v2.0/devicecode",
			url.Values{"client_id": {"11111111-2222-3333-4444-555555555555"}, "scope": {e.demo.API.Scope}})
		ufWantError(t, status, body, http.StatusBadRequest, "unauthorized_client", 700016)
	})
}

// Every state of a device code, on a fake clock.
func TestDeviceCodeStates(t *testing.T) {
	clock := newUFClock()
	e := ufNew(t, &Options{Now: clock.Now})
	scope := e.demo.API.Scope + " openid offline_access profile"
	for _, grant := range []string{"device_code", "urn:ietf:params:oauth:grant-type:device_code"} {
		t.Run("approve "+grant, func(t *testing.T) {
			d := e.deviceStart(t, scope)
			dc, uc := d["device_code"].(string), d["user_code"].(string)
			status, body := e.poll(t, dc, grant)
			ufWantError(t, status, body, http.StatusBadRequest, "authorization_pending", 70016)
			status, body = e.poll(t, dc, grant)
			ufWantError(t, status, body, http.StatusBadRequest, "slow_down", 70016)
			clock.Advance(3 * time.Second)
			status, body = e.poll(t, dc, grant)
			ufWantError(t, status, body, http.StatusBadRequest, "authorization_pending", 70016)
			if err := e.s.ApproveDeviceCode(strings.ToLower(uc[:4]+"-"+uc[4:]), e.demo.User.Username); err != nil {
				t.Fatalf("ApproveDeviceCode: %v", err)
			}
			status, body = e.poll(t, dc, grant) // fast poll: approval wins over slow_down
			if status != http.StatusOK {
				t.Fatalf("after approval: got %d %v, want 200", status, body)
			}
			for _, k := range []string{"access_token", "refresh_token", "id_token", "client_info"} {
				if _, ok := body[k].(string); !ok {
					t.Fatalf("%s missing", k)
				}
			}
			if body["scope"] != "openid profile "+e.demo.API.Scope || ufClaims(t, body["access_token"])["oid"] != e.demo.User.ObjectID {
				t.Fatalf("got scope %v oid %v", body["scope"], ufClaims(t, body["access_token"])["oid"])
			}
			status, body = e.poll(t, dc, grant)
			ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 70000)
			if err := e.s.ApproveDeviceCode(uc, e.demo.User.Username); err == nil {
				t.Fatal("approving a redeemed code: got nil error")
			}
		})
	}
	t.Run("declined", func(t *testing.T) {
		d := e.deviceStart(t, scope)
		if err := e.s.DeclineDeviceCode(d["user_code"].(string)); err != nil {
			t.Fatal(err)
		}
		status, body := e.poll(t, d["device_code"].(string), "device_code")
		ufWantError(t, status, body, http.StatusBadRequest, "authorization_declined", 70000)
		if err := e.s.ApproveDeviceCode(d["user_code"].(string), e.demo.User.Username); err == nil {
			t.Fatal("approving a declined code: got nil error")
		}
	})
	t.Run("expired", func(t *testing.T) {
		d := e.deviceStart(t, scope)
		clock.Advance(900 * time.Second)
		status, body := e.poll(t, d["device_code"].(string), "device_code")
		ufWantError(t, status, body, http.StatusBadRequest, "expired_token", 70020)
		if err := e.s.ApproveDeviceCode(d["user_code"].(string), e.demo.User.Username); err == nil {
			t.Fatal("approving an expired code: got nil error")
		}
	})
	t.Run("bad_verification_code", func(t *testing.T) {
		status, body := e.poll(t, "not-a-device-code", "device_code")
		ufWantError(t, status, body, http.StatusBadRequest, "bad_verification_code", 70018)
	})
	t.Run("unknown user", func(t *testing.T) {
		d := e.deviceStart(t, scope)
		if err := e.s.ApproveDeviceCode(d["user_code"].(string), "nobody@example.com"); err == nil {
			t.Fatal("approving for an unknown user: got nil error")
		}
	})
	t.Run("unknown user code", func(t *testing.T) {
		if err := e.s.ApproveDeviceCode("ZZZZZZZZ", e.demo.User.Username); err == nil {
			t.Fatal("got nil error")
		}
	})
}

func TestDeviceCodeApproveEndpoint(t *testing.T) {
	e := ufNew(t, nil)
	d := e.deviceStart(t, e.demo.API.Scope)
	approve := e.s.URL + "/emulator/devicecode/approve"
	status, body := ufPostJSON(t, e.c, approve, url.Values{"user_code": {d["user_code"].(string)}})
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_request", 900144)
	status, body = ufPostJSON(t, e.c, approve, url.Values{"user_code": {"ZZZZZZZZ"}, "username": {e.demo.User.Username}})
	ufWantError(t, status, body, http.StatusBadRequest, "invalid_grant", 0)
	status, body = ufPostJSON(t, e.c, approve, url.Values{"user_code": {d["user_code"].(string)}, "username": {e.demo.User.Username}})
	if status != http.StatusOK || body["status"] != "approved" {
		t.Fatalf("approve: got %d %v", status, body)
	}
	if status, body := e.poll(t, d["device_code"].(string), "device_code"); status != http.StatusOK {
		t.Fatalf("poll after approval: got %d %v", status, body)
	}
}

func TestDeviceCodeAutoApprove(t *testing.T) {
	s := NewTestServer(t, &Options{AutoApproveUser: demoUsername})
	d, err := s.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	e := &ufEnv{s: s, demo: d, c: s.Client(), tid: d.TenantID}
	dc := e.deviceStart(t, d.API.Scope)["device_code"].(string)
	if status, body := e.poll(t, dc, "device_code"); status != http.StatusOK {
		t.Fatalf("first poll: got %d %v, want 200", status, body)
	}
	t.Run("unknown auto-approve user", func(t *testing.T) {
		s := NewTestServer(t, &Options{AutoApproveUser: "nobody@example.com"})
		d, err := s.SeedDemo()
		if err != nil {
			t.Fatal(err)
		}
		status, body := ufPostJSON(t, s.Client(), s.Authority(d.TenantID)+"/oauth2/v2.0/devicecode",
			url.Values{"client_id": {d.PublicClient.ClientID}, "scope": {d.API.Scope}})
		ufWantError(t, status, body, http.StatusBadRequest, "invalid_request", 50034)
	})
}
