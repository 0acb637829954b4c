package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// startEmulator runs `entra emulator args...` in-process and returns the JSON
// line it printed. The emulator stops when the test ends.
func startEmulator(t *testing.T, args ...string) emulatorInfo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"emulator"}, args...), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("entra emulator exit code = %d, want 0", code)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the emulator's JSON line: %v", err)
	}
	go io.Copy(io.Discard, pr) // nothing more is expected, but never block the emulator
	var info emulatorInfo
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		t.Fatalf("decoding %q: %v", line, err)
	}
	return info
}

func clientTrusting(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func TestEmulatorPrintsEverythingAClientNeeds(t *testing.T) {
	info := startEmulator(t)
	for name, v := range map[string]string{
		"authority_host": info.AuthorityHost, "tenant_id": info.TenantID, "ca_cert_file": info.CACertFile,
		"daemon.client_id": info.Daemon.ClientID, "daemon.client_secret": info.Daemon.ClientSecret,
		"daemon.cert_file": info.Daemon.CertFile, "daemon.key_file": info.Daemon.KeyFile,
		"api.client_id": info.API.ClientID, "api.app_id_uri": info.API.AppIDURI, "api.scope": info.API.Scope,
		"api.role": info.API.Role, "public_client.client_id": info.PublicClient.ClientID,
		"public_client.redirect_uri": info.PublicClient.RedirectURI, "obo_api.client_id": info.OBOAPI.ClientID,
		"obo_api.client_secret": info.OBOAPI.ClientSecret, "obo_api.app_id_uri": info.OBOAPI.AppIDURI,
		"obo_api.scope": info.OBOAPI.Scope, "user.username": info.User.Username,
	} {
		if v == "" {
			t.Errorf("%s is empty", name)
		}
	}
	if !strings.HasPrefix(info.AuthorityHost, "https://127.0.0.1:") {
		t.Errorf("authority_host = %q, want https://127.0.0.1:PORT", info.AuthorityHost)
	}
	for _, f := range []string{info.CACertFile, info.Daemon.CertFile, info.Daemon.KeyFile} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("file %s: %v", f, err)
		}
	}

	// A client we did not write gets a token with nothing but the printed line.
	cfg := clientcredentials.Config{
		ClientID:     info.Daemon.ClientID,
		ClientSecret: info.Daemon.ClientSecret,
		TokenURL:     info.AuthorityHost + "/" + info.TenantID + "/oauth2/v2.0/token",
		Scopes:       []string{info.API.AppIDURI + "/.default"},
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, clientTrusting(t, info.CACertFile))
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials against the emulator: %v", err)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" {
		t.Errorf("token type %q, access token empty: %v", tok.TokenType, tok.AccessToken == "")
	}
}

func TestEmulatorAutoApprovesDeviceCodes(t *testing.T) {
	info := startEmulator(t, "--auto-approve", "--cloud", "usgov")
	cfg := oauth2.Config{
		ClientID: info.PublicClient.ClientID,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: info.AuthorityHost + "/" + info.TenantID + "/oauth2/v2.0/devicecode",
			TokenURL:      info.AuthorityHost + "/" + info.TenantID + "/oauth2/v2.0/token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
		Scopes: []string{info.API.Scope, "offline_access"},
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, clientTrusting(t, info.CACertFile))
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	da.Interval = 1 // approved already: x/oauth2 waits one interval before its first poll
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token although offline_access was requested")
	}
}

func TestEmulatorRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"emulator", "--cloud", "mars"},
		{"emulator", "--token-lifetime", "10s"},
		{"emulator", "stray"},
		{"no-such-command"},
		{},
	} {
		var stderr strings.Builder
		if code := run(context.Background(), args, io.Discard, &stderr); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (stderr %q)", args, code, stderr.String())
		}
		if stderr.Len() == 0 {
			t.Errorf("run(%q) printed no explanation", args)
		}
	}
}
