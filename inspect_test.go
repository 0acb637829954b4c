package entra_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra"
)

// dummySignature stands for the signature of tokens rebuilt from decoded
// seed documents: Inspect never verifies it.
const dummySignature = "ZHVtbXktc2lnbmF0dXJl"

// seedCase is one file of testdata/inspect: a token's header and claims
// as a seed document shows them, where it was going, and the findings
// Inspect must (want) and must not (deny) report.
type seedCase struct {
	Seed    string         `json:"seed"`
	Pitfall string         `json:"pitfall"`
	Header  map[string]any `json:"header"`
	Claims  map[string]any `json:"claims"`
	Options struct {
		Target             string `json:"target"`
		Audience           string `json:"audience"`
		MiddleTierClientID string `json:"middleTierClientID"`
		AcceptedVersion    int    `json:"acceptedVersion"`
	} `json:"options"`
	Now    int64    `json:"now"`
	Scopes []string `json:"scopes"`
	Want   []string `json:"want"`
	Deny   []string `json:"deny"`
}

func (c seedCase) token(t testing.TB) string { return makeJWT(t, c.Header, c.Claims) }

func (c seedCase) options() *entra.InspectOptions {
	return &entra.InspectOptions{TargetURL: c.Options.Target, Audience: c.Options.Audience,
		MiddleTierClientID: c.Options.MiddleTierClientID, AcceptedVersion: c.Options.AcceptedVersion,
		Now: time.Unix(c.Now, 0)}
}

func makeJWT(t testing.TB, header, claims any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + dummySignature
}

func loadSeedCases(t testing.TB) map[string]seedCase {
	t.Helper()
	files, err := filepath.Glob("testdata/inspect/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no seed cases: %v", err)
	}
	cases := map[string]seedCase{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c seedCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases[strings.TrimSuffix(filepath.Base(f), ".json")] = c
	}
	return cases
}

func codes(fs []entra.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Code))
	}
	return out
}

func TestInspectSeedPitfalls(t *testing.T) {
	for name, c := range loadSeedCases(t) {
		t.Run(name, func(t *testing.T) {
			raw := c.token(t)
			r, err := entra.InspectWith(raw, c.options())
			if err != nil {
				t.Fatalf("InspectWith: %v", err)
			}
			got := codes(r.Findings)
			if len(c.Scopes) > 0 {
				got = append(got, codes(entra.CheckScopes(entra.Public, c.Scopes...))...)
			}
			for _, w := range c.Want {
				if !slices.Contains(got, w) {
					t.Errorf("%s (%s): findings %v lack %q", c.Seed, c.Pitfall, got, w)
				}
			}
			for _, d := range c.Deny {
				if slices.Contains(got, d) {
					t.Errorf("%s (%s): findings %v include %q", c.Seed, c.Pitfall, got, d)
				}
			}
			for _, f := range r.Findings {
				if f.Message == "" || f.Fix == "" || strings.ContainsAny(f.Message+f.Fix, "\r\n") {
					t.Errorf("finding %s: want a one-line message and fix, got %q / %q", f.Code, f.Message, f.Fix)
				}
			}
			if r.Verified {
				t.Error("Verified = true for a token whose signature was not checked")
			}
			assertNoToken(t, r, raw)
		})
	}
}

// assertNoToken fails if the report holds the token's signature or its
// encoded parts.
func assertNoToken(t *testing.T, r *entra.Report, raw string) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b) + fmt.Sprintf("%+v", *r)
	parts := strings.Split(raw, ".")
	for _, p := range parts {
		if len(p) > 8 && strings.Contains(text, p) {
			t.Fatalf("the report holds a part of the raw token: %.40s…", p)
		}
	}
}

func TestInspectReport(t *testing.T) {
	c := loadSeedCases(t)["obo-graph-token-as-assertion"]
	r, err := entra.InspectWith(c.token(t), &entra.InspectOptions{Now: time.Unix(1633941558+600, 0)})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Kind", r.Kind, entra.KindAccessToken},
		{"Version", r.Version, "1.0"},
		{"Cloud", r.Cloud, "public"},
		{"AudienceKind", r.AudienceKind, entra.AudienceGraph},
		{"AppOnly", r.AppOnly, false},
		{"TenantID", r.TenantID, "2ed832a8-cd8c-4f7d-89b3-935447e260c8"},
		{"AppID", r.AppID, "abfb7030-ff37-48cd-8bd7-1bf5ec0777db"},
		{"Scopes", strings.Join(r.Scopes, " "), "openid profile User.Read email"},
		{"HeaderNonce", r.HeaderNonce, true},
		{"Remaining", r.Remaining, 3900*time.Second - 600*time.Second},
		{"ExpiresAt", r.ExpiresAt, time.Unix(1633945458, 0).UTC()},
		{"HasErrors", r.HasErrors(), false},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	app := loadSeedCases(t)["app-only-no-roles-v2-endpoint"]
	r, err = entra.Inspect(app.token(t))
	if err != nil {
		t.Fatal(err)
	}
	if !r.AppOnly || r.AudienceKind != entra.AudienceCustom || r.Remaining > 0 || !r.Has(entra.CodeExpired) || !r.HasErrors() {
		t.Errorf("app-only seed token now: AppOnly %v, AudienceKind %v, Remaining %v, findings %v", r.AppOnly, r.AudienceKind, r.Remaining, codes(r.Findings))
	}
}

func TestInspectClouds(t *testing.T) {
	tests := []struct{ iss, aud, cloud, version string }{
		{"https://sts.windows.net/t/", "https://graph.microsoft.com", "public", "1.0"},
		{"https://login.microsoftonline.com/t/v2.0", "api://x", "public", "2.0"},
		{"https://sts.chinacloudapi.cn/t/", "https://microsoftgraph.chinacloudapi.cn", "china", "1.0"},
		{"https://login.microsoftonline.us/t/v2.0", "https://graph.microsoft.us", "usgov", "2.0"},
		{"https://sts.microsoftonline.de/t/", "https://graph.microsoft.de", "germany", "1.0"},
		{"https://contoso.b2clogin.com/t/v2.0/", "api://x", "b2c", "2.0"},
		{"https://evil.example/t/", "api://x", "", ""},
	}
	for _, tt := range tests {
		raw := makeJWT(t, map[string]any{"alg": "RS256"}, map[string]any{"iss": tt.iss, "aud": tt.aud, "appid": "a"})
		r, err := entra.Inspect(raw)
		if err != nil {
			t.Fatal(err)
		}
		if r.Cloud != tt.cloud || r.Version != tt.version {
			t.Errorf("iss %s: cloud %q version %q, want %q %q", tt.iss, r.Cloud, r.Version, tt.cloud, tt.version)
		}
	}
}

func TestInspectExpirySkew(t *testing.T) {
	exp := time.Unix(1700000000, 0)
	raw := makeJWT(t, map[string]any{"alg": "RS256"}, map[string]any{"aud": "api://x", "appid": "a", "roles": []string{"r"},
		"iss": "https://login.microsoftonline.com/t/v2.0", "ver": "2.0", "exp": exp.Unix(), "nbf": exp.Add(-time.Hour).Unix()})
	tests := []struct {
		now  time.Time
		code entra.FindingCode
		sev  entra.Severity
	}{
		{exp.Add(-time.Minute), "", ""},
		{exp.Add(4 * time.Minute), entra.CodeExpired, entra.SeverityWarning},
		{exp.Add(6 * time.Minute), entra.CodeExpired, entra.SeverityError},
		{exp.Add(-time.Hour - 4*time.Minute), "", ""},
		{exp.Add(-time.Hour - 6*time.Minute), entra.CodeNotYetValid, entra.SeverityError},
	}
	for _, tt := range tests {
		fs := entra.InspectFindings(raw, &entra.InspectOptions{Now: tt.now})
		if tt.code == "" {
			if len(fs) != 0 {
				t.Errorf("at %v: findings %v, want none", tt.now.Sub(exp), codes(fs))
			}
			continue
		}
		if len(fs) != 1 || fs[0].Code != tt.code || fs[0].Severity != tt.sev {
			t.Errorf("at %v: findings %+v, want one %s %s", tt.now.Sub(exp), fs, tt.sev, tt.code)
		}
	}
}

func TestInspectSampleIDToken(t *testing.T) {
	b, err := os.ReadFile("testdata/inspect/id-token-sample.jwt")
	if err != nil {
		t.Fatal(err)
	}
	r, err := entra.InspectWith(string(b), &entra.InspectOptions{TargetURL: "https://api.contoso.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != entra.KindIDToken || !r.Has(entra.CodeUnsigned) || !r.Has(entra.CodeIDTokenAsAccessToken) || !r.Has(entra.CodeExpired) {
		t.Errorf("kind %v, findings %v: want an unsigned, expired id_token used as an access token", r.Kind, codes(r.Findings))
	}
}

func TestInspectNotJWT(t *testing.T) {
	saml, _ := os.ReadFile("testdata/inspect/saml-token-reference.xml")
	profile, _ := os.ReadFile("testdata/inspect/b2c-profile-info.txt")
	enc := base64.RawURLEncoding.EncodeToString
	deep := `{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	tests := []struct {
		name, in, code string
	}{
		{"empty", "  ", entra.NotJWTEmpty},
		{"garbage", "hello world", entra.NotJWTOpaque},
		{"four dots", "a.b.c.d", entra.NotJWTMalformed},
		{"JWE", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", entra.NotJWTJWE},
		{"JWE header in 3 parts", enc([]byte(`{"alg":"dir","enc":"A256GCM"}`)) + ".e30.x", entra.NotJWTJWE},
		{"SAML", string(saml), entra.NotJWTSAML},
		{"profile_info", string(profile), entra.NotJWTProfileInfo},
		{"client_info", enc([]byte(`{"uid":"u","utid":"t"}`)), entra.NotJWTClientInfo},
		{"bad base64", "eyJ!.eyJ.x", entra.NotJWTMalformed},
		{"claims an array", enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(`[1,2]`)) + ".x", entra.NotJWTMalformed},
		{"deep claims", enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(deep)) + ".x", entra.NotJWTTooDeep},
		{"huge", enc([]byte(`{"alg":"RS256"}`)) + "." + strings.Repeat("A", entra.MaxInspectSize) + ".x", entra.NotJWTTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := entra.Inspect(tt.in)
			var e *entra.Error
			if !errors.As(err, &e) || !errors.Is(err, entra.ErrNotJWT) {
				t.Fatalf("Inspect = %v, want an *entra.Error wrapping ErrNotJWT", err)
			}
			if e.Code != tt.code {
				t.Errorf("Code = %q, want %q (%v)", e.Code, tt.code, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "entra: inspect: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting with entra: inspect:", msg)
			}
			if len(tt.in) > 20 && strings.Contains(msg, strings.TrimSpace(tt.in)[:20]) {
				t.Errorf("error %q repeats the input", msg)
			}
		})
	}
}

func TestInspectToleratesOddClaimTypes(t *testing.T) {
	raw := makeJWT(t, map[string]any{"alg": 7, "nonce": 3}, map[string]any{"aud": []any{"api://x", 3}, "roles": "one",
		"exp": "soon", "iat": 1e300, "scp": []string{"x"}, "appid": "a", "tid": nil, "iss": 12})
	r, err := entra.Inspect(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Audience, []string{"api://x"}) || !slices.Equal(r.Roles, []string{"one"}) || !r.ExpiresAt.IsZero() || !r.IssuedAt.IsZero() {
		t.Errorf("report %+v", r)
	}
}

func TestCheckScopes(t *testing.T) {
	tests := []struct {
		scopes []string
		cloud  entra.Cloud
		want   entra.FindingCode
	}{
		{[]string{"api://a/x", "User.Read"}, entra.Public, entra.CodeMultipleResources},
		{[]string{"https://graph.microsoft.com/.default"}, entra.China, entra.CodeWrongCloud},
		{[]string{"a b"}, entra.Public, entra.CodeInvalidScope},
		{[]string{"User.Read", "Mail.Read", "openid"}, entra.Cloud{}, ""},
		{[]string{"api://a/x", "api://a/y"}, entra.Public, ""},
	}
	for _, tt := range tests {
		fs := entra.CheckScopes(tt.cloud, tt.scopes...)
		switch {
		case tt.want == "" && fs != nil:
			t.Errorf("CheckScopes(%v) = %v, want nil", tt.scopes, fs)
		case tt.want != "" && (len(fs) != 1 || fs[0].Code != tt.want || fs[0].Severity != entra.SeverityError || fs[0].Fix == ""):
			t.Errorf("CheckScopes(%v) = %+v, want one %s", tt.scopes, fs, tt.want)
		}
	}
}

// A Graph token sent to an emulator's Graph (a host of no known cloud) is
// a Graph call when the caller's Cloud says that host is its Graph.
func TestInspectTargetOfCallersCloud(t *testing.T) {
	raw := makeJWT(t, map[string]any{"alg": "RS256", "nonce": "n"}, map[string]any{"aud": "https://graph.microsoft.com",
		"iss": "https://sts.windows.net/t/", "appid": "a", "roles": []string{"User.Read.All"}})
	emu, err := entra.Public.WithGraphURL("https://127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	target := "https://127.0.0.1:8443/v1.0/users"
	if fs := entra.InspectFindings(raw, &entra.InspectOptions{TargetURL: target, Cloud: emu}); slices.ContainsFunc(fs, func(f entra.Finding) bool { return f.Severity == entra.SeverityError }) {
		t.Errorf("with the caller's cloud: %v, want no error", codes(fs))
	}
	if fs := entra.InspectFindings(raw, &entra.InspectOptions{TargetURL: target}); !slices.Contains(codes(fs), string(entra.CodeGraphTokenForAPI)) {
		t.Errorf("without it: %v, want graph-token-for-api", codes(fs))
	}
	api := makeJWT(t, map[string]any{"alg": "RS256"}, map[string]any{"aud": "api://x", "iss": "https://login.microsoftonline.com/t/v2.0", "ver": "2.0", "azp": "a", "roles": []string{"r"}})
	if fs := entra.InspectFindings(api, &entra.InspectOptions{TargetURL: target, Cloud: emu}); !slices.Contains(codes(fs), string(entra.CodeAudienceMismatch)) {
		t.Errorf("API token sent to the emulator's Graph: %v, want audience-mismatch", codes(fs))
	}
}
