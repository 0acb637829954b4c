package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBinaryTokenIsCachedAcrossRuns(t *testing.T) {
	info := startEmulator(t)
	args := []string{"token", "--authority-host", info.AuthorityHost, "--ca-file", info.CACertFile, "--tenant", info.TenantID,
		"--client-id", info.Daemon.ClientID, "--scope", info.API.AppIDURI + "/.default"}
	env := []string{"AZURE_CLIENT_SECRET=" + info.Daemon.ClientSecret}
	first := runBin(t, "", env, args...)
	second := runBin(t, "", env, args...)
	if first.code != 0 || second.code != 0 {
		t.Fatalf("exit %d/%d, stderr %q %q", first.code, second.code, first.stderr, second.stderr)
	}
	if first.stdout != second.stdout {
		t.Fatal("the second run got a new token: the cache was not used")
	}
	// The key lives apart from the cache, 0600; the cache holds no token in clear.
	key := filepath.Join(testHome(t), "config", "entra", "cache.key")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache key %s: %v, %v", key, fi, err)
	}
	token := strings.TrimSpace(first.stdout)
	filepath.Walk(filepath.Join(testHome(t), "cache"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), token[:40]) || strings.Contains(string(b), info.Daemon.ClientSecret) {
				t.Errorf("%s holds the token or the secret in clear", p)
			}
		}
		return nil
	})
	ls := runBin(t, "", nil, "cache", "ls", "--json")
	var entries []struct{ Key, Problem string }
	if err := json.Unmarshal([]byte(ls.stdout), &entries); err != nil || len(entries) != 1 || !strings.Contains(entries[0].Key, info.Daemon.ClientID) {
		t.Fatalf("cache ls: %q (%v), want one entry naming the client", ls.stdout, err)
	}
	if strings.Contains(ls.stdout, token[:40]) {
		t.Error("cache ls prints the token")
	}
	if r := runBin(t, "", nil, "cache", "clear"); r.code != 0 {
		t.Fatalf("cache clear: %d %q", r.code, r.stderr)
	}
	third := runBin(t, "", env, args...)
	if third.code != 0 || third.stdout == first.stdout {
		t.Fatalf("after clear: exit %d, same token %v", third.code, third.stdout == first.stdout)
	}
	nocache := runBin(t, "", env, append(args, "--no-cache")...)
	if nocache.code != 0 || nocache.stdout == third.stdout {
		t.Fatalf("--no-cache: exit %d, cached token %v", nocache.code, nocache.stdout == third.stdout)
	}
	if r := runBin(t, "", nil, "cache", "nope"); r.code != 2 {
		t.Errorf("cache nope: exit %d, want 2", r.code)
	}
}

func TestBinaryDeviceCodeSignInIsRemembered(t *testing.T) {
	info := startEmulator(t, "--auto-approve")
	args := []string{"token", "--device-code", "--authority-host", info.AuthorityHost, "--ca-file", info.CACertFile,
		"--tenant", info.TenantID, "--client-id", info.PublicClient.ClientID}
	first := runBin(t, "", nil, append(args, "--scope", info.API.Scope)...)
	if first.code != 0 || !strings.Contains(first.stderr, "code") {
		t.Fatalf("first run: exit %d, stderr %q", first.code, first.stderr)
	}
	// Another resource, another run: silent from the cached account.
	second := runBin(t, "", nil, append(args, "--scope", "User.Read")...)
	if second.code != 0 || second.stdout == "" {
		t.Fatalf("second run: exit %d, stderr %q", second.code, second.stderr)
	}
	if strings.Contains(second.stderr, "code") {
		t.Errorf("second run prompted again: %q", second.stderr)
	}
}

func TestBinaryInspectVerify(t *testing.T) {
	info := startEmulator(t)
	tok := runBin(t, "", []string{"AZURE_CLIENT_SECRET=" + info.Daemon.ClientSecret}, "token", "--no-cache", "--authority-host", info.AuthorityHost,
		"--ca-file", info.CACertFile, "--tenant", info.TenantID, "--client-id", info.Daemon.ClientID, "--scope", info.API.AppIDURI+"/.default")
	if tok.code != 0 {
		t.Fatalf("token: %d %q", tok.code, tok.stderr)
	}
	raw := strings.TrimSpace(tok.stdout)
	r := runBin(t, raw, nil, "inspect", "--verify", "--authority-host", info.AuthorityHost, "--ca-file", info.CACertFile)
	if r.code != 0 || !strings.Contains(r.stdout, "signature verified") {
		t.Fatalf("verify a genuine token: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	// The signature of another token: bad-signature, exit 1.
	parts := strings.Split(raw, ".")
	other := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	r = runBin(t, other, nil, "inspect", "--json", "--verify", "--authority-host", info.AuthorityHost, "--ca-file", info.CACertFile)
	if r.code != 1 || !strings.Contains(r.stdout, `"bad-signature"`) || !strings.Contains(r.stdout, `"verified": false`) {
		t.Fatalf("verify a forged signature: exit %d, %q", r.code, r.stdout)
	}
	if r := runBin(t, raw, nil, "inspect", "--ca-file", info.CACertFile); r.code != 2 {
		t.Errorf("--ca-file without --verify: exit %d, want 2", r.code)
	}
}
