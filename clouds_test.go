package entra

import (
	"errors"
	"strings"
	"testing"
)

func TestPresets(t *testing.T) {
	const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tests := []struct {
		cloud                                         Cloud
		name, authority, graph, arm, armScope, v1, v2 string
	}{
		{Public, "public", "https://login.microsoftonline.com", "https://graph.microsoft.com", "https://management.azure.com",
			"https://management.core.windows.net//.default", "https://sts.windows.net/" + tid + "/", "https://login.microsoftonline.com/" + tid + "/v2.0"},
		{China, "china", "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn", "https://management.chinacloudapi.cn",
			"https://management.core.chinacloudapi.cn//.default", "https://sts.chinacloudapi.cn/" + tid + "/", "https://login.partner.microsoftonline.cn/" + tid + "/v2.0"},
		{USGovernment, "usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us", "https://management.usgovcloudapi.net",
			"https://management.core.usgovcloudapi.net//.default", "https://login.microsoftonline.us/" + tid + "/", "https://login.microsoftonline.us/" + tid + "/v2.0"},
		{USGovernmentDoD, "usgovdod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us", "https://management.usgovcloudapi.net",
			"https://management.core.usgovcloudapi.net//.default", "https://login.microsoftonline.us/" + tid + "/", "https://login.microsoftonline.us/" + tid + "/v2.0"},
		{Germany, "germany", "https://login.microsoftonline.de", "https://graph.microsoft.de", "https://management.microsoftazure.de",
			"https://management.core.cloudapi.de//.default", "https://sts.microsoftonline.de/" + tid + "/", "https://login.microsoftonline.de/" + tid + "/v2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cloud
			for _, f := range []struct{ what, got, want string }{
				{"Name", c.Name(), tt.name},
				{"AuthorityHost", c.AuthorityHost(), tt.authority},
				{"GraphURL", c.GraphURL(), tt.graph},
				{"GraphScope", c.GraphScope(), tt.graph + "/.default"},
				{"ARMEndpoint", c.ARMEndpoint(), tt.arm},
				{"ARMScope", c.ARMScope(), tt.armScope},
				{"IssuerV1", c.IssuerV1(tid), tt.v1},
				{"IssuerV2", c.IssuerV2(tid), tt.v2},
			} {
				if f.got != f.want {
					t.Errorf("%s: got %q, want %q", f.what, f.got, f.want)
				}
			}
			if c.IsZero() {
				t.Errorf("IsZero() = true, want false")
			}
			host := strings.TrimPrefix(tt.authority, "https://")
			if a := c.Aliases(); len(a) == 0 || a[0] != host {
				t.Errorf("Aliases() = %v, want the authority host first", a)
			}
			byName, err := CloudByName(strings.ToUpper(tt.name))
			if err != nil || byName != c {
				t.Errorf("CloudByName(%q) = %v, %v; want %v", strings.ToUpper(tt.name), byName, err, c)
			}
		})
	}
	if !contains(China.Aliases(), "login.chinacloudapi.cn") {
		t.Errorf("China aliases %v lack login.chinacloudapi.cn", China.Aliases())
	}
	if !contains(Public.Aliases(), "sts.windows.net") || !contains(Public.Aliases(), "login.windows.net") {
		t.Errorf("Public aliases %v incomplete", Public.Aliases())
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestCloudByNameUnknown(t *testing.T) {
	_, err := CloudByName("mars")
	var e *Error
	if !errors.As(err, &e) || e.Op != "config" || !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want an *Error Op config wrapping ErrConfig", err)
	}
}

func TestAliasesIsACopy(t *testing.T) {
	a := Public.Aliases()
	a[0] = "evil.example"
	if Public.Aliases()[0] != "login.microsoftonline.com" {
		t.Errorf("modifying Aliases() changed the cloud")
	}
}

func TestNewCloud(t *testing.T) {
	c, err := NewCloud(CloudConfig{
		Name:          "stack",
		AuthorityHost: "https://Login.Example.COM/",
		GraphURL:      "https://graph.example.com",
		ARMEndpoint:   "https://arm.example.com",
		ARMAudience:   "https://arm-aud.example.com/",
		IssuerHostV1:  "sts.example.com",
		Aliases:       []string{"login2.example.com", "https://login.example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ what, got, want string }{
		{"AuthorityHost", c.AuthorityHost(), "https://login.example.com"},
		{"GraphScope", c.GraphScope(), "https://graph.example.com/.default"},
		{"ARMScope", c.ARMScope(), "https://arm-aud.example.com//.default"},
		{"IssuerV1", c.IssuerV1("t"), "https://sts.example.com/t/"},
		{"IssuerV2 (default)", c.IssuerV2("t"), "https://login.example.com/t/v2.0"},
		{"Aliases", strings.Join(c.Aliases(), ","), "login.example.com,login2.example.com"},
		{"Name", c.Name(), "stack"},
	} {
		if f.got != f.want {
			t.Errorf("%s: got %q, want %q", f.what, f.got, f.want)
		}
	}
	same, _ := NewCloud(CloudConfig{Name: "stack", AuthorityHost: "https://login.example.com", GraphURL: "https://graph.example.com",
		ARMEndpoint: "https://arm.example.com", ARMAudience: "https://arm-aud.example.com/", IssuerHostV1: "https://sts.example.com",
		Aliases: []string{"login2.example.com"}})
	if same != c {
		t.Errorf("equal configs gave unequal clouds: %#v vs %#v", same, c)
	}
}

func TestNewCloudRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  CloudConfig
	}{
		{"empty", CloudConfig{}},
		{"http", CloudConfig{AuthorityHost: "http://login.example.com"}},
		{"no scheme", CloudConfig{AuthorityHost: "login.example.com"}},
		{"path", CloudConfig{AuthorityHost: "https://login.example.com/tenant"}},
		{"query", CloudConfig{AuthorityHost: "https://login.example.com?x=1"}},
		{"fragment", CloudConfig{AuthorityHost: "https://login.example.com#f"}},
		{"userinfo", CloudConfig{AuthorityHost: "https://user:hunter2@login.example.com"}},
		{"no host", CloudConfig{AuthorityHost: "https://"}},
		{"graph http", CloudConfig{AuthorityHost: "https://login.example.com", GraphURL: "http://graph.example.com"}},
		{"graph path", CloudConfig{AuthorityHost: "https://login.example.com", GraphURL: "https://graph.example.com/v1.0"}},
		{"issuer path", CloudConfig{AuthorityHost: "https://login.example.com", IssuerHostV2: "x.example.com/tenant"}},
		{"bad audience", CloudConfig{AuthorityHost: "https://login.example.com", ARMAudience: "not a uri"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCloud(tt.cfg)
			var e *Error
			if !errors.As(err, &e) || e.Op != "config" || !errors.Is(err, ErrConfig) {
				t.Fatalf("got %v, want an *Error Op config wrapping ErrConfig", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks user info", err)
			}
		})
	}
}

func TestWithAuthorityHost(t *testing.T) {
	c, err := China.WithAuthorityHost("https://127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthorityHost() != "https://127.0.0.1:8443" {
		t.Errorf("AuthorityHost() = %q", c.AuthorityHost())
	}
	if c.GraphURL() != China.GraphURL() || c.IssuerV2("t") != China.IssuerV2("t") || c.ARMScope() != China.ARMScope() || c.Name() != "china" {
		t.Errorf("WithAuthorityHost changed more than the authority host: %v", c)
	}
	if China.AuthorityHost() != "https://login.partner.microsoftonline.cn" {
		t.Errorf("WithAuthorityHost modified the preset")
	}
	for _, bad := range []string{"http://127.0.0.1:8443", "https://127.0.0.1:8443/tenant", "", "https://u:p@h"} {
		if _, err := Public.WithAuthorityHost(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("WithAuthorityHost(%q) = %v, want ErrConfig", bad, err)
		}
	}
	z, err := (Cloud{}).WithAuthorityHost("https://h.example")
	if err != nil || z.GraphURL() != Public.GraphURL() {
		t.Errorf("zero cloud: got %v, %v; want Public's endpoints", z, err)
	}
}

func TestZeroCloud(t *testing.T) {
	var c Cloud
	if !c.IsZero() || c.String() != "unset" || c.GraphScope() != "" || c.ARMScope() != "" || c.Aliases() != nil {
		t.Errorf("zero cloud: got %q %q %q %v", c.String(), c.GraphScope(), c.ARMScope(), c.Aliases())
	}
	if got := Public.String(); got != "public (https://login.microsoftonline.com)" {
		t.Errorf("String() = %q", got)
	}
}

// WithGraphURL moves where Graph requests go, not the token's audience.
func TestWithGraphURL(t *testing.T) {
	c, err := China.WithGraphURL("https://127.0.0.1:8443")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.GraphURL(), "https://127.0.0.1:8443"; got != want {
		t.Errorf("GraphURL = %q, want %q", got, want)
	}
	if got, want := c.GraphScope(), China.GraphScope(); got != want {
		t.Errorf("GraphScope = %q, want China's %q", got, want)
	}
	if _, err := appScopes(c, []string{Public.GraphScope()}); !errors.Is(err, ErrWrongCloud) {
		t.Errorf("public Graph scope with China moved: got %v, want ErrWrongCloud", err)
	}
	cred, err := NewClientSecretCredential("contoso.onmicrosoft.com", "00000000-0000-0000-0000-000000000001", "s", &Options{Cloud: c})
	if err != nil {
		t.Fatal(err)
	}
	if got := cred.resourceHost(China.GraphAudience()); got != "127.0.0.1:8443" {
		t.Errorf("host for China's Graph tokens = %q, want the moved Graph host", got)
	}
	for _, bad := range []string{"", "http://127.0.0.1", "https://h/path"} {
		if _, err := Public.WithGraphURL(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("WithGraphURL(%q): got %v, want ErrConfig", bad, err)
		}
	}
}
