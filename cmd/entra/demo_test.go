package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tokenLike matches a JWT or anything shaped like one: three base64url
// parts, the first two long enough to hold a header and claims.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]*|eyJ[A-Za-z0-9_-]{8,}`)

// entra demo runs every flow against its in-process emulator, exits 0,
// prints each step, never a token, and stays well within its time budget.
func TestBinaryDemo(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	r := runBin(t, "", nil, "demo")
	took := time.Since(t0)
	if r.code != 0 {
		t.Fatalf("entra demo: exit %d, stderr %q\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("stderr %q, want nothing", r.stderr)
	}
	// The budget is 10 s on a 2-core machine (device code alone waits
	// Entra's 5 s interval); this bound leaves room for -race and a
	// loaded machine.
	if took > 30*time.Second {
		t.Errorf("entra demo took %v, want well under 30s (10s without -race)", took)
	}
	for _, w := range []string{
		"1  client secret", "roles [Data.Read.All]",
		"2  certificate", "signed client assertion",
		"3  device code", "enter the code", "approved it",
		"4  authorization code", "loopback listener http://localhost:", "PKCE S256", "signed in",
		"5  on-behalf-of", "middle tier", "bearer middleware: valid", "OBO token for https://graph.microsoft.com", "Graph /v1.0/me as the user: Alice Demo",
		"6  cache", "hit:  Credential.Token", "ns/op", "no request", "miss: one request to Entra", "refresh_in", "background refresh", "the new token arrived",
		"7  clouds", "https://login.microsoftonline.com", "https://graph.microsoft.com", "https://login.partner.microsoftonline.cn",
		"https://microsoftgraph.chinacloudapi.cn", "https://graph.microsoft.us", "https://dod-graph.microsoft.us", "https://graph.microsoft.de",
		"8  Microsoft Graph", "/v1.0/users", "200 OK", "Alice Demo <alice@contoso.onmicrosoft.com>",
		"9  inspect", "ERROR graph-token-for-api", "WARNING app-only-no-roles", "fix:",
		"ok: 9 steps in",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout lacks %q", w)
		}
	}
	if m := tokenLike.FindAllString(r.stdout, -1); len(m) > 0 {
		t.Errorf("stdout holds %d token-like strings, e.g. %.40q…", len(m), m[0])
	}
	if !regexp.MustCompile(`eyJ.…\([0-9,]+ chars\)`).MatchString(r.stdout) {
		t.Error(`stdout shows no shortened token such as "eyJh…(1,204 chars)"`)
	}
	if strings.Contains(r.stdout, "not-for-production") {
		t.Error("stdout holds a demo client secret")
	}
}

// The demo's help is on stdout with examples; stray arguments are a usage
// error.
func TestBinaryDemoHelpAndUsage(t *testing.T) {
	for _, args := range [][]string{{"demo", "-h"}, {"demo", "--help"}, {"help", "demo"}} {
		r := runBin(t, "", nil, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("entra %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, w := range []string{"usage: entra demo", "Examples:", "entra demo", "Exit status:", "on-behalf-of"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("entra %v: help lacks %q", args, w)
			}
		}
	}
	runBin(t, "", nil, "demo", "--json").oneErrorLine(t, 2, "-json")
	runBin(t, "", nil, "demo", "extra").oneErrorLine(t, 2, `"extra"`)
}

// In process (so that -race sees the demo's goroutines), the demo passes;
// when a step fails, the demo says which on one line of stderr with a
// hint, marks it FAILED on stdout and exits 1.
func TestDemoInProcess(t *testing.T) {
	t.Parallel()
	var stdout, stderr strings.Builder
	if code := run(t.Context(), []string{"demo"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("entra demo: exit %d, stderr %q\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	if !strings.Contains(stdout.String(), "ok: 9 steps") {
		t.Errorf("stdout lacks the closing line:\n%s", stdout.String())
	}

	// The device code step waits 5 s for Entra's polling interval: a
	// 3-second deadline ends the demo there.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"demo"}, &stdout, &stderr); code != 1 {
		t.Fatalf("entra demo with a 3s deadline: exit %d, want 1 (stderr %q)", code, stderr.String())
	}
	got := stderr.String()
	if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "entra demo: step 3 (device code) failed: ") || !strings.Contains(got, "hint:") {
		t.Errorf("stderr %q: want one line naming step 3 with a hint", got)
	}
	if !strings.Contains(stdout.String(), "FAILED") || strings.Contains(stdout.String(), "4  authorization code") {
		t.Errorf("stdout should end with step 3 FAILED:\n%s", stdout.String())
	}
}

func TestDemoHelpers(t *testing.T) {
	tests := []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"one", 10, []string{"one"}},
		{"aaa bbb ccc", 7, []string{"aaa bbb", "ccc"}},
		{"a-word-longer-than-the-width x", 5, []string{"a-word-longer-than-the-width", "x"}},
	}
	for _, tt := range tests {
		if got := wrap(tt.text, tt.width); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.text, tt.width, got, tt.want)
		}
	}
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJhcGk6Ly9kZW1vIn0.c2lnbmF0dXJlLW9mLWZpdmUtYnl0ZXM"
	for _, s := range []string{jwt, "Bearer " + jwt, "abcdefghijklmnopqrst.abcdefghijklmnopqrst.x"} {
		if !tokenLike.MatchString(s) {
			t.Errorf("tokenLike misses %q", s)
		}
	}
	for _, s := range []string{short(jwt), "https://login.partner.microsoftonline.cn", "1b2c3d4e-0002-4000-8000-00000000a001/.default"} {
		if tokenLike.MatchString(s) {
			t.Errorf("tokenLike matches %q", s)
		}
	}
	if got, want := short("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"+strings.Repeat("x", 1200)), "eyJh…(1,229 chars)"; got != want {
		t.Errorf("short = %q, want %q", got, want)
	}
}
