package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra"
)

// entraBin is the entra binary, built once per test binary by TestMain.
var entraBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "entra-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	entraBin = filepath.Join(dir, "entra")
	if out, err := exec.Command("go", "build", "-o", entraBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building entra: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// homes holds each test's user directory (testHome).
var homes sync.Map // *testing.T -> string

// testHome returns t's own home directory, made on first use.
func testHome(t *testing.T) string {
	if h, ok := homes.Load(t); ok {
		return h.(string)
	}
	h := t.TempDir()
	homes.Store(t, h)
	return h
}

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// runBin runs the entra binary with args, stdin and env (added to an
// environment without AZURE_* and ENTRA_* variables).
func runBin(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(entraBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AZURE_") && !strings.HasPrefix(kv, "ENTRA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// Each test has its own user directories: the token cache and its
	// key never touch the real ones, and runs of one test share them.
	home := testHome(t)
	cmd.Env = append(cmd.Env, "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running entra %v: %v", args, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// oneErrorLine fails unless r has empty stdout and exactly one stderr line
// mentioning each of want.
func (r result) oneErrorLine(t *testing.T, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "entra ") {
		t.Errorf("stderr %q: want one line starting with \"entra \"", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q lacks %q", r.stderr, w)
		}
	}
}

// seedCase mirrors a file of ../../testdata/inspect.
type seedCase struct {
	Header  map[string]any `json:"header"`
	Claims  map[string]any `json:"claims"`
	Options struct {
		Target             string `json:"target"`
		Audience           string `json:"audience"`
		MiddleTierClientID string `json:"middleTierClientID"`
		AcceptedVersion    int    `json:"acceptedVersion"`
	} `json:"options"`
	Now  int64    `json:"now"`
	Want []string `json:"want"`
	Deny []string `json:"deny"`
}

func jwtOf(t *testing.T, header, claims any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + ".ZHVtbXktc2lnbmF0dXJl"
}

func TestBinaryInspectSeedPitfalls(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/inspect/*.json")
	if len(files) == 0 {
		t.Fatal("no seed cases in ../../testdata/inspect")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c seedCase
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			raw := jwtOf(t, c.Header, c.Claims)
			args := []string{"inspect", "--json", "--at", fmt.Sprint(c.Now)}
			if o := c.Options; true {
				for flag, v := range map[string]string{"--target": o.Target, "--audience": o.Audience, "--middle-tier": o.MiddleTierClientID} {
					if v != "" {
						args = append(args, flag, v)
					}
				}
				if o.AcceptedVersion != 0 {
					args = append(args, "--accepted-version", fmt.Sprint(o.AcceptedVersion))
				}
			}
			r := runBin(t, "Bearer "+raw+"\n", nil, args...) // token on stdin
			var rep entra.Report
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("stdout is not a JSON report: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
			}
			if r.stderr != "" {
				t.Errorf("stderr %q, want nothing", r.stderr)
			}
			var got []string
			for _, f := range rep.Findings {
				got = append(got, string(f.Code))
			}
			for _, w := range c.Want {
				if w != "multiple-resources" && !slices.Contains(got, w) { // multiple-resources is a request finding (CheckScopes)
					t.Errorf("findings %v lack %q", got, w)
				}
			}
			for _, d := range c.Deny {
				if slices.Contains(got, d) {
					t.Errorf("findings %v include %q", got, d)
				}
			}
			if want := map[bool]int{true: 1, false: 0}[rep.HasErrors()]; r.code != want {
				t.Errorf("exit code %d, want %d (errors: %v)", r.code, want, rep.HasErrors())
			}
			if strings.Contains(r.stdout, "ZHVtbXktc2lnbmF0dXJl") || strings.Contains(r.stdout, strings.Split(raw, ".")[1]) {
				t.Error("the report printed the token")
			}
			// The readable report names the same codes, without colours (not a terminal).
			text := runBin(t, "", nil, append(args[:1:1], append(args[2:], raw)...)...)
			for _, code := range got {
				if !strings.Contains(text.stdout, code) {
					t.Errorf("text report lacks %s:\n%s", code, text.stdout)
				}
			}
			if strings.Contains(text.stdout, "\x1b[") || !strings.Contains(text.stdout, "NOT verified") || text.code != r.code {
				t.Errorf("text report (exit %d):\n%s", text.code, text.stdout)
			}
		})
	}
}

func TestBinaryInspectCleanToken(t *testing.T) {
	now := time.Now()
	raw := jwtOf(t, map[string]any{"typ": "JWT", "alg": "RS256"}, map[string]any{
		"aud": "api://orders", "iss": "https://login.microsoftonline.com/6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b/v2.0", "ver": "2.0",
		"azp": "1b2c3d4e-0001-4000-8000-00000000d001", "roles": []string{"Orders.Read"}, "tid": "6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	r := runBin(t, "", nil, "inspect", raw)
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "no known mistakes") || !strings.Contains(r.stdout, "app-only") {
		t.Errorf("exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestBinaryInspectBadInput(t *testing.T) {
	saml, err := os.ReadFile("../../testdata/inspect/saml-token-reference.xml")
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	deep := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"x":`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`}`)) + ".x"
	huge := enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`{"groups":["`+strings.Repeat("a", 1<<20)+`"]}`)) + ".x"
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"garbage", "not a token at all", nil, "opaque"},
		{"JWE", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", nil, "JWE"},
		{"SAML", string(saml), nil, "SAML"},
		{"deeply nested claims", deep, nil, "too deeply"},
		{"huge claims", huge, nil, "64 KiB"},
		{"empty stdin", "", nil, "no token"},
		{"garbage as argument", "", []string{"%%%"}, "not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, json := range []bool{false, true} {
				args := []string{"inspect"}
				if json {
					args = append(args, "--json")
				}
				r := runBin(t, tt.stdin, nil, append(args, tt.args...)...)
				r.oneErrorLine(t, 2, tt.want)
			}
		})
	}
}

func TestBinaryHelpForEveryCommand(t *testing.T) {
	for _, name := range []string{"token", "inspect", "emulator", "version"} {
		for _, args := range [][]string{{name, "--help"}, {"help", name}} {
			r := runBin(t, "", nil, args...)
			if r.code != 0 || r.stderr != "" {
				t.Errorf("entra %v: exit %d, stderr %q", args, r.code, r.stderr)
			}
			for _, w := range []string{"usage: entra " + name, "Examples:", "Exit status:"} {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("entra %v: help lacks %q", args, w)
				}
			}
		}
	}
	r := runBin(t, "", nil, "help")
	for _, w := range []string{"token", "inspect", "emulator", "version", "Exit status:"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("overview lacks %q:\n%s", w, r.stdout)
		}
	}
}

func TestBinaryVersion(t *testing.T) {
	r := runBin(t, "", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "entra ") || strings.Count(r.stdout, "\n") != 1 || r.stderr != "" {
		t.Errorf("entra version: %+v", r)
	}
}

func TestBinaryTokenUsageErrors(t *testing.T) {
	tests := []struct {
		env  []string
		args []string
		want []string
	}{
		{nil, []string{"token", "--scope", "x/.default"}, []string{"missing input", "--secret", "AZURE_CLIENT_SECRET", "--device-code"}},
		{nil, []string{"token", "--secret", "s", "--device-code", "--scope", "x"}, []string{"conflicting flags", "--secret", "--device-code"}},
		{nil, []string{"token", "--cert", "c.pem", "--browser", "--scope", "x"}, []string{"conflicting flags", "--cert", "--browser"}},
		{nil, []string{"token", "--secret", "s", "--client-id", "c", "--scope", "x/.default"}, []string{"missing --tenant", "AZURE_TENANT_ID"}},
		{[]string{"AZURE_TENANT_ID=t"}, []string{"token", "--secret", "s", "--scope", "x/.default"}, []string{"missing --client-id", "AZURE_CLIENT_ID"}},
		{[]string{"AZURE_CLIENT_SECRET=s", "AZURE_TENANT_ID=t", "AZURE_CLIENT_ID=c"}, []string{"token"}, []string{"missing --scope"}},
		{nil, []string{"token", "--cert-password", "p", "--scope", "x"}, []string{"--cert-password needs --cert"}},
		{nil, []string{"token", "--bogus"}, []string{"-bogus"}},
		{nil, []string{"token", "--device-code", "--scope", "x", "--ca-file", "/nonexistent/ca.pem"}, []string{"--ca-file"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			runBin(t, "", tt.env, tt.args...).oneErrorLine(t, 2, tt.want...)
		})
	}
}

func TestBinaryTokenSecretAgainstEmulator(t *testing.T) {
	info := startEmulator(t)
	common := []string{"--authority-host", info.AuthorityHost, "--ca-file", info.CACertFile, "--scope", info.API.AppIDURI + "/.default"}

	// Flags.
	r := runBin(t, "", nil, append([]string{"token", "--json", "--tenant", info.TenantID, "--client-id", info.Daemon.ClientID,
		"--secret", info.Daemon.ClientSecret}, common...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var out tokenOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	exp := time.Unix(out.ExpiresOnTS, 0)
	if out.AccessToken == "" || out.TokenType != "Bearer" || out.Tenant != info.TenantID || time.Until(exp) < 30*time.Minute {
		t.Errorf("output %+v", out)
	}
	if local, err := time.ParseInLocation("2006-01-02 15:04:05.000000", out.ExpiresOn, time.Local); err != nil || local.Unix() != out.ExpiresOnTS {
		t.Errorf("expiresOn %q (%v), want expires_on %v in az's local format", out.ExpiresOn, err, exp)
	}
	if strings.Contains(r.stdout, info.Daemon.ClientSecret) {
		t.Error("the output holds the client secret")
	}

	// The environment, as azidentity reads it; the token piped to inspect.
	r = runBin(t, "", []string{"AZURE_TENANT_ID=" + info.TenantID, "AZURE_CLIENT_ID=" + info.Daemon.ClientID,
		"AZURE_CLIENT_SECRET=" + info.Daemon.ClientSecret, "AZURE_AUTHORITY_HOST=" + info.AuthorityHost}, "token", "--ca-file", info.CACertFile, "--scope", info.API.AppIDURI+"/.default")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || strings.Count(r.stdout, ".") != 2 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	ins := runBin(t, r.stdout, nil, "inspect", "--json")
	var rep entra.Report
	if err := json.Unmarshal([]byte(ins.stdout), &rep); err != nil || ins.code != 0 || !rep.AppOnly || len(rep.Roles) == 0 {
		t.Errorf("inspect of the token: exit %d, %+v, %v", ins.code, rep, err)
	}

	// A wrong secret: Entra's error on one line with its hint, exit 1.
	// (--no-cache: the cache would serve the token fetched above, as it
	// serves any caller of the same tenant, client and scopes.)
	r = runBin(t, "", nil, append([]string{"token", "--no-cache", "--tenant", info.TenantID, "--client-id", info.Daemon.ClientID, "--secret", "wrong-secret"}, common...)...)
	r.oneErrorLine(t, 1, "AADSTS7000215", "hint:")
	if strings.Contains(r.stderr, "wrong-secret") {
		t.Error("the error holds the secret")
	}
}

func TestBinaryTokenCertificateAgainstEmulator(t *testing.T) {
	info := startEmulator(t)
	cert, _ := os.ReadFile(info.Daemon.CertFile)
	key, _ := os.ReadFile(info.Daemon.KeyFile)
	pemFile := filepath.Join(t.TempDir(), "daemon.pem")
	if err := os.WriteFile(pemFile, append(cert, key...), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBin(t, "", nil, "token", "--authority-host", info.AuthorityHost, "--ca-file", info.CACertFile, "--tenant", info.TenantID,
		"--client-id", info.Daemon.ClientID, "--cert", pemFile, "--scope", info.API.AppIDURI+"/.default")
	if r.code != 0 || strings.Count(r.stdout, ".") != 2 {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestBinaryTokenDeviceCodeAgainstEmulator(t *testing.T) {
	info := startEmulator(t, "--auto-approve")
	r := runBin(t, "", nil, "token", "--device-code", "--json", "--authority-host", info.AuthorityHost, "--ca-file", info.CACertFile,
		"--tenant", info.TenantID, "--client-id", info.PublicClient.ClientID, "--scope", info.API.Scope)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var out tokenOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--json output: %v\n%s", err, r.stdout)
	}
	if out.Account == nil || out.Account.Username != info.User.Username || out.AccessToken == "" {
		t.Errorf("output %+v", out)
	}
	// The prompt went to stderr, not stdout (stdout is the JSON alone).
	if !strings.Contains(r.stderr, "code") || strings.Contains(r.stdout, "enter the code") {
		t.Errorf("stderr %q, stdout %q: want the device-code prompt on stderr only", r.stderr, r.stdout)
	}
	ins := runBin(t, out.AccessToken, nil, "inspect", "--json", "--audience", info.API.AppIDURI)
	var rep entra.Report
	if err := json.Unmarshal([]byte(ins.stdout), &rep); err != nil || rep.AppOnly || rep.Username != info.User.Username || ins.code != 0 {
		t.Errorf("inspect of the user token: exit %d, %+v, %v", ins.code, rep, err)
	}
}
