package main

import (
	"strings"
	"testing"
)

// TestSelftest runs the app against its embedded emulator and walks
// through it with the automated browser: sign-in, the API and Graph as
// the user, sign-out, and the pages asking for a sign-in again after it
// (also with the old session cookie).
func TestSelftest(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-selftest"}, &out); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, out.String())
	}
	want := []string{
		"before sign-in: GET /profile -> 303 /login",
		"sign-in: signed in as alice@contoso.onmicrosoft.com",
		"session cookie: opaque ID, HttpOnly, SameSite=Lax",
		"API: hello alice@contoso.onmicrosoft.com (scp access_as_user)",
		"Graph /v1.0/me: Alice Demo <alice@contoso.onmicrosoft.com>",
		"second visit: same session, no new sign-in",
		`sign-out: home page says "signed out"`,
		"after sign-out: GET /profile -> 303 /login",
		"old session cookie replayed: GET /profile -> 303 /login",
		"selftest ok",
	}
	last := -1
	for _, w := range want {
		i := strings.Index(out.String(), w)
		if i < 0 || i < last {
			t.Errorf("transcript lacks %q (in order):\n%s", w, out.String())
			continue
		}
		last = i
	}
}

// TestRealTenantFlags: a real tenant needs the client ID and secret, and
// the self-test needs the emulator.
func TestRealTenantFlags(t *testing.T) {
	t.Setenv("AZURE_CLIENT_SECRET", "")
	for _, args := range [][]string{
		{"-tenant", "contoso.onmicrosoft.com"},
		{"-tenant", "contoso.onmicrosoft.com", "-client-id", "1b2c3d4e-0006-4000-8000-00000000f001"},
		{"-tenant", "contoso.onmicrosoft.com", "-selftest"},
		{"-tenant", "contoso.onmicrosoft.com", "-cloud", "mars"},
	} {
		var out strings.Builder
		if code := run(args, &out); code != 1 || !strings.Contains(out.String(), "webapp:") {
			t.Errorf("%q: exit %d, %q; want 1 and a message", args, code, out.String())
		}
	}
}
