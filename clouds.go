package entra

import (
	"net/url"
	"strconv"
	"strings"
)

// Cloud describes one Microsoft Entra cloud: where tokens come from
// (authority host), which Microsoft Graph and Azure Resource Manager
// endpoints belong to it, and which issuers its tokens carry. A token from
// one cloud is not accepted by another cloud's services, so code that calls
// Graph should take the Graph URL from the same Cloud it took the token from.
//
// Cloud is an immutable value, safe for concurrent use and comparable with
// ==. The zero Cloud means "not set" (entra then uses Public).
type Cloud struct {
	name          string
	authorityHost string // "https://host[:port]"
	graphURL      string // "https://graph.microsoft.com" ("" if the cloud has none)
	graphAudience string // Graph's token audience when not graphURL (WithGraphURL)
	armEndpoint   string // "https://management.azure.com"
	armAudience   string // "https://management.core.windows.net/"
	issuerHostV1  string // "sts.windows.net"
	issuerHostV2  string // "login.microsoftonline.com"
	aliases       string // space-separated hosts, kept as a string so Cloud stays comparable
}

// CloudConfig describes a custom cloud for NewCloud. URLs must be https and
// carry a host only (no path, query, fragment or user info).
type CloudConfig struct {
	Name          string   // free-form name, e.g. "contoso-stack"; default "custom"
	AuthorityHost string   // required, e.g. "https://login.microsoftonline.com"
	GraphURL      string   // Microsoft Graph base URL; optional
	GraphAudience string   // Microsoft Graph token audience; default GraphURL
	ARMEndpoint   string   // Azure Resource Manager endpoint; optional
	ARMAudience   string   // ARM token audience; default ARMEndpoint
	IssuerHostV1  string   // host in v1 token issuers; default: the authority host
	IssuerHostV2  string   // host in v2 token issuers; default: the authority host
	Aliases       []string // other hosts of the same authority (instance aliases)
}

// The predefined clouds.
var (
	// Public is the global Azure / Microsoft Entra cloud.
	Public = Cloud{
		name:          "public",
		authorityHost: "https://login.microsoftonline.com",
		graphURL:      "https://graph.microsoft.com",
		armEndpoint:   "https://management.azure.com",
		armAudience:   "https://management.core.windows.net/",
		issuerHostV1:  "sts.windows.net",
		issuerHostV2:  "login.microsoftonline.com",
		aliases:       "login.microsoftonline.com login.windows.net login.microsoft.com sts.windows.net",
	}
	// China is Microsoft Azure operated by 21Vianet. The older authority
	// host login.chinacloudapi.cn is an alias.
	China = Cloud{
		name:          "china",
		authorityHost: "https://login.partner.microsoftonline.cn",
		graphURL:      "https://microsoftgraph.chinacloudapi.cn",
		armEndpoint:   "https://management.chinacloudapi.cn",
		armAudience:   "https://management.core.chinacloudapi.cn/",
		issuerHostV1:  "sts.chinacloudapi.cn",
		issuerHostV2:  "login.partner.microsoftonline.cn",
		aliases:       "login.partner.microsoftonline.cn login.chinacloudapi.cn",
	}
	// USGovernment is Azure Government (L4 / GCC High). M365 GCC (not High)
	// uses Public.
	//
	// The v1 token issuer host of this cloud is not documented; entra assumes
	// login.microsoftonline.us ("https://login.microsoftonline.us/<tid>/").
	USGovernment = Cloud{
		name:          "usgov",
		authorityHost: "https://login.microsoftonline.us",
		graphURL:      "https://graph.microsoft.us",
		armEndpoint:   "https://management.usgovcloudapi.net",
		armAudience:   "https://management.core.usgovcloudapi.net/",
		issuerHostV1:  "login.microsoftonline.us", // undocumented: assumed
		issuerHostV2:  "login.microsoftonline.us",
		aliases:       "login.microsoftonline.us login.usgovcloudapi.net",
	}
	// USGovernmentDoD is Azure Government DoD (L5). It shares the authority
	// and ARM endpoints of USGovernment and has its own Graph. The v1 issuer
	// host is assumed as for USGovernment.
	USGovernmentDoD = Cloud{
		name:          "usgovdod",
		authorityHost: "https://login.microsoftonline.us",
		graphURL:      "https://dod-graph.microsoft.us",
		armEndpoint:   "https://management.usgovcloudapi.net",
		armAudience:   "https://management.core.usgovcloudapi.net/",
		issuerHostV1:  "login.microsoftonline.us", // undocumented: assumed
		issuerHostV2:  "login.microsoftonline.us",
		aliases:       "login.microsoftonline.us login.usgovcloudapi.net",
	}
	// Germany is Microsoft Cloud Deutschland, which closed on 29 October
	// 2021. It is kept for legacy configuration and tests; new code should
	// not use it.
	Germany = Cloud{
		name:          "germany",
		authorityHost: "https://login.microsoftonline.de",
		graphURL:      "https://graph.microsoft.de",
		armEndpoint:   "https://management.microsoftazure.de",
		armAudience:   "https://management.core.cloudapi.de/",
		issuerHostV1:  "sts.microsoftonline.de",
		issuerHostV2:  "login.microsoftonline.de",
		aliases:       "login.microsoftonline.de",
	}
)

// CloudByName returns a predefined cloud by name, case-insensitively:
// "public" (also "azurepublic", "azurecloud", "global"), "china"
// ("azurechina", "azurechinacloud"), "usgov" ("usgovernment",
// "azureusgovernment", "azureusgovernmentcloud"), "usgovdod"
// ("usgovernmentdod") and "germany" ("azuregermany", "azuregermancloud").
// An unknown name is an *Error wrapping ErrConfig.
func CloudByName(name string) (Cloud, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "public", "azurepublic", "azurecloud", "global":
		return Public, nil
	case "china", "azurechina", "azurechinacloud":
		return China, nil
	case "usgov", "usgovernment", "azureusgovernment", "azureusgovernmentcloud":
		return USGovernment, nil
	case "usgovdod", "usgovernmentdod", "dod":
		return USGovernmentDoD, nil
	case "germany", "azuregermany", "azuregermancloud":
		return Germany, nil
	}
	return Cloud{}, configErrorHint("use one of public, china, usgov, usgovdod or germany, or build a custom cloud with NewCloud",
		"unknown cloud %q", oneLine(name, 64))
}

// NewCloud validates c and returns it as a Cloud. Errors are *Error values
// wrapping ErrConfig.
func NewCloud(c CloudConfig) (Cloud, error) {
	auth, err := httpsHost("AuthorityHost", c.AuthorityHost, true)
	if err != nil {
		return Cloud{}, err
	}
	graph, err := httpsHost("GraphURL", c.GraphURL, false)
	if err != nil {
		return Cloud{}, err
	}
	graphAud, err := httpsHost("GraphAudience", c.GraphAudience, false)
	if err != nil {
		return Cloud{}, err
	}
	if graphAud == graph {
		graphAud = ""
	}
	arm, err := httpsHost("ARMEndpoint", c.ARMEndpoint, false)
	if err != nil {
		return Cloud{}, err
	}
	aud := strings.TrimSpace(c.ARMAudience)
	if aud == "" {
		aud = arm
	} else if u, perr := url.Parse(aud); perr != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
		return Cloud{}, configErrorHint("write the ARM token audience as an absolute URI, such as \"https://management.core.windows.net/\", or leave it empty to use ARMEndpoint",
			"ARMAudience %q is not an absolute URI", oneLine(aud, 128))
	}
	authHost := strings.TrimPrefix(auth, "https://")
	v1, err := issuerHost("IssuerHostV1", c.IssuerHostV1, authHost)
	if err != nil {
		return Cloud{}, err
	}
	v2, err := issuerHost("IssuerHostV2", c.IssuerHostV2, authHost)
	if err != nil {
		return Cloud{}, err
	}
	aliases := []string{authHost}
	for _, a := range c.Aliases {
		h, err := issuerHost("Aliases", a, "")
		if err != nil {
			return Cloud{}, err
		}
		if h != "" && !containsString(aliases, h) {
			aliases = append(aliases, h)
		}
	}
	name := strings.TrimSpace(c.Name)
	if name == "" {
		name = "custom"
	}
	return Cloud{
		name:          oneLine(name, 64),
		authorityHost: auth,
		graphURL:      graph,
		graphAudience: graphAud,
		armEndpoint:   arm,
		armAudience:   aud,
		issuerHostV1:  v1,
		issuerHostV2:  v2,
		aliases:       strings.Join(aliases, " "),
	}, nil
}

// WithAuthorityHost returns a copy of c that fetches tokens from host (an
// https URL without path), keeping c's Graph URL, ARM endpoint, issuers
// and aliases. It is meant for a proxy or an emulator impersonating the
// cloud: entra.Public.WithAuthorityHost(server.URL).
func (c Cloud) WithAuthorityHost(host string) (Cloud, error) {
	h, err := httpsHost("AuthorityHost", host, true)
	if err != nil {
		return Cloud{}, err
	}
	if c.IsZero() {
		c = Public
	}
	c.authorityHost = h
	return c, nil
}

// Name returns the cloud's name ("public", "china", "usgov", "usgovdod",
// "germany", or the name given to NewCloud).
func (c Cloud) Name() string { return c.name }

// AuthorityHost returns the https URL tokens are fetched from, without a
// trailing slash, e.g. "https://login.microsoftonline.com".
func (c Cloud) AuthorityHost() string { return c.authorityHost }

// GraphURL returns the Microsoft Graph base URL without a trailing slash,
// e.g. "https://graph.microsoft.com" ("" for a custom cloud without one):
// where Credential.Graph sends requests.
func (c Cloud) GraphURL() string { return c.graphURL }

// GraphAudience returns the audience of Microsoft Graph's tokens, e.g.
// "https://graph.microsoft.com": the GraphURL, unless WithGraphURL (or
// CloudConfig.GraphAudience) set a base URL that differs from it.
func (c Cloud) GraphAudience() string {
	if c.graphAudience != "" {
		return c.graphAudience
	}
	return c.graphURL
}

// GraphScope returns the app-only scope for Microsoft Graph, e.g.
// "https://graph.microsoft.com/.default" ("" without a Graph URL).
func (c Cloud) GraphScope() string {
	if c.GraphAudience() == "" {
		return ""
	}
	return c.GraphAudience() + "/.default"
}

// WithGraphURL returns a copy of c that sends Microsoft Graph requests to
// base (an https URL without path), such as an emulator's or a proxy's,
// while tokens are still requested for c's Graph audience: with
// entra.Public.WithAuthorityHost(srv.URL) and WithGraphURL(srv.GraphURL()),
// Credential.Graph talks to the emulator with a token whose audience is
// https://graph.microsoft.com, as real Graph requires.
func (c Cloud) WithGraphURL(base string) (Cloud, error) {
	h, err := httpsHost("GraphURL", base, true)
	if err != nil {
		return Cloud{}, err
	}
	if c.IsZero() {
		c = Public
	}
	c.graphAudience = c.GraphAudience()
	c.graphURL = h
	if c.graphAudience == h {
		c.graphAudience = ""
	}
	return c, nil
}

// ARMEndpoint returns the Azure Resource Manager endpoint, e.g.
// "https://management.azure.com".
func (c Cloud) ARMEndpoint() string { return c.armEndpoint }

// ARMScope returns the scope for Azure Resource Manager tokens: its
// audience followed by "/.default". The audience ends with a slash, so the
// scope has a double slash: "https://management.core.windows.net//.default".
func (c Cloud) ARMScope() string {
	if c.armAudience == "" {
		return ""
	}
	return c.armAudience + "/.default"
}

// IssuerV1 returns the "iss" of v1 access tokens for tenantID, e.g.
// "https://sts.windows.net/<tid>/".
func (c Cloud) IssuerV1(tenantID string) string {
	return "https://" + c.issuerHostV1 + "/" + tenantID + "/"
}

// IssuerV2 returns the "iss" of v2 tokens for tenantID, e.g.
// "https://login.microsoftonline.com/<tid>/v2.0".
func (c Cloud) IssuerV2(tenantID string) string {
	return "https://" + c.issuerHostV2 + "/" + tenantID + "/v2.0"
}

// Aliases returns the hosts known for the cloud's authority (a new slice).
func (c Cloud) Aliases() []string {
	if c.aliases == "" {
		return nil
	}
	return strings.Fields(c.aliases)
}

// IsZero reports whether c is the zero Cloud.
func (c Cloud) IsZero() bool { return c == Cloud{} }

// String returns the name and authority host, e.g.
// "public (https://login.microsoftonline.com)".
func (c Cloud) String() string {
	if c.IsZero() {
		return "unset"
	}
	return c.name + " (" + c.authorityHost + ")"
}

// httpsHost validates an https URL carrying a host only and returns it as
// "https://host[:port]" (lower-cased, no trailing slash). A trailing dot
// (a fully qualified name) and an empty port are refused: they make a
// second spelling of a host, which Entra's instance checks and our
// alias comparisons would not recognise.
func httpsHost(field, raw string, required bool) (string, error) {
	raw = strings.TrimSpace(raw)
	const form = "an https URL with a host only, such as \"https://login.microsoftonline.com\" or \"https://127.0.0.1:8443\""
	if raw == "" {
		if required {
			return "", configErrorHint("set it to "+form, "%s is required", field)
		}
		return "", nil
	}
	u, err := url.Parse(raw)
	shown := shownURL(u, err)
	switch {
	case err != nil:
		return "", configErrorHint("write "+form, "%s %q is not a URL", field, shown)
	case !strings.EqualFold(u.Scheme, "https"):
		return "", configErrorHint("write "+form+": tokens and secrets travel only over https", "%s %q must use https", field, shown)
	case u.User != nil:
		return "", configErrorHint("remove the user info (\"user:password@\"); credentials are passed to the constructor", "%s must not contain user info", field)
	case u.Host == "" || u.Hostname() == "":
		return "", configErrorHint("write "+form, "%s %q has no host", field, shown)
	case strings.HasSuffix(u.Hostname(), "."):
		return "", configErrorHint("remove the trailing dot: write \"https://"+strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")+"\"",
			"%s %q ends with a dot", field, shown)
	case strings.HasSuffix(u.Host, ":"):
		return "", configErrorHint("remove the \":\" or give a port, as in \"https://"+strings.ToLower(u.Hostname())+":8443\"",
			"%s %q has an empty port", field, shown)
	case (u.Path != "" && u.Path != "/") || u.RawPath != "" || u.Opaque != "":
		return "", configErrorHint("keep only the scheme and host, \"https://"+strings.ToLower(u.Host)+"\": entra adds the tenant and endpoint paths",
			"%s %q must be a host without a path", field, shown)
	case u.RawQuery != "" || u.ForceQuery:
		return "", configErrorHint("remove the query: keep only \"https://"+strings.ToLower(u.Host)+"\"", "%s %q must not have a query", field, shown)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", configErrorHint("remove the fragment: keep only \"https://"+strings.ToLower(u.Host)+"\"", "%s %q must not have a fragment", field, shown)
	}
	if p := u.Port(); p != "" {
		if n, perr := strconv.Atoi(p); perr != nil || n < 1 || n > 65535 {
			return "", configErrorHint("use a port between 1 and 65535", "%s %q has an invalid port", field, shown)
		}
	}
	return "https://" + strings.ToLower(u.Host), nil
}

// issuerHost accepts "host" or "https://host" and returns the bare host;
// empty means def.
func issuerHost(field, raw, def string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return def, nil
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	h, err := httpsHost(field, raw, true)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(h, "https://"), nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// shownURL is a URL safe to put in an error: no user info, query or
// fragment (they may hold secrets), capped.
func shownURL(u *url.URL, err error) string {
	if err != nil || u == nil {
		return "(unparseable)"
	}
	c := *u
	c.User = nil
	c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = "", false, "", ""
	return oneLine(c.String(), 128)
}
