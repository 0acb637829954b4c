package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestHelpGoesToStdout(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"emulator", "-h"}, []string{"usage: entra emulator", "one JSON line", "authority_host", "graph_url", "Ctrl-C", "-token-lifetime"}},
		{[]string{"emulator", "--help"}, []string{"usage: entra emulator", "Ctrl-C"}},
		{[]string{"help", "emulator"}, []string{"usage: entra emulator", "one JSON line", "Ctrl-C"}},
		{[]string{"help"}, []string{"usage: entra <command>", "version"}},
		{[]string{"--help"}, []string{"usage: entra <command>"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit code %d, want 0 (stderr %q)", code, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var stdout strings.Builder
	if code := run(context.Background(), []string{"version"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "entra ") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("version line %q", got)
	}
}

func TestCommandLineErrorsArePrintedOnce(t *testing.T) {
	tests := []struct {
		args       []string
		want, deny string
	}{
		{[]string{"emulator", "--bogus"}, "-bogus", ""},
		{[]string{"emulator", "--token-lifetime", "10s"}, "at least 1m", "5m"},
		{[]string{"emulator", "--token-lifetime", "-1h"}, "at least 1m", ""},
		{[]string{"emulator", "--cloud", "mars"}, "mars", ""},
		{[]string{"emulator", "stray"}, "stray", ""},
		{[]string{"help", "nope"}, "nope", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
			got := stderr.String()
			if n := strings.Count(got, tt.want); n != 1 {
				t.Errorf("stderr mentions %q %d times, want once:\n%s", tt.want, n, got)
			}
			if strings.Count(got, "\n") != 1 {
				t.Errorf("stderr has %d lines, want one:\n%s", strings.Count(got, "\n"), got)
			}
			if tt.deny != "" && strings.Contains(got, tt.deny) {
				t.Errorf("stderr %q mentions %q", got, tt.deny)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestShortTokenLifetimeIsExplained(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // serve no time: start, print, stop
	var stdout, stderr strings.Builder
	if code := run(ctx, []string{"emulator", "--token-lifetime", "2m"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d, want 0 (stderr %q)", code, stderr.String())
	}
	if n := strings.Count(stderr.String(), "will not cache"); n != 1 {
		t.Errorf("stderr %q: want one note that MSAL Go will not cache 2m tokens", stderr.String())
	}
	var info emulatorInfo
	if err := json.Unmarshal([]byte(stdout.String()), &info); err != nil {
		t.Fatalf("stdout %q: %v", stdout.String(), err)
	}
}

func TestEmulatorOnAllInterfacesPrintsAReachableHost(t *testing.T) {
	info := startEmulator(t, "--addr", "0.0.0.0:0")
	if !strings.HasPrefix(info.AuthorityHost, "https://127.0.0.1:") {
		t.Fatalf("authority_host = %q, want https://127.0.0.1:PORT", info.AuthorityHost)
	}
	resp, err := clientTrusting(t, info.CACertFile).Get(info.AuthorityHost + "/" + info.TenantID + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatalf("authority_host is not reachable: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %d", resp.StatusCode)
	}
}

func TestEmulatorServesGraph(t *testing.T) {
	info := startEmulator(t)
	hc := clientTrusting(t, info.CACertFile)
	cfg := clientcredentials.Config{
		ClientID:     info.Daemon.ClientID,
		ClientSecret: info.Daemon.ClientSecret,
		TokenURL:     info.AuthorityHost + "/" + info.TenantID + "/oauth2/v2.0/token",
		Scopes:       []string{info.GraphURL + "/.default"},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	c := cfg.Client(context.WithValue(context.Background(), oauth2.HTTPClient, hc))
	resp, err := c.Get(info.GraphURL + "/v1.0/users")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Value []struct {
			UserPrincipalName string `json:"userPrincipalName"`
		} `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1.0/users: %d %v", resp.StatusCode, err)
	}
	if len(body.Value) != 1 || body.Value[0].UserPrincipalName != info.User.Username {
		t.Errorf("users = %+v, want the demo user", body.Value)
	}
}
