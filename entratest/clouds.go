package entratest

// Cloud names the sovereign cloud whose issuer hosts and Graph audience the
// emulator impersonates.
type Cloud string

// The clouds the emulator can impersonate.
const (
	// CloudPublic: v2 issuer host login.microsoftonline.com, v1 sts.windows.net,
	// Graph https://graph.microsoft.com.
	CloudPublic Cloud = "public"
	// CloudChina: login.partner.microsoftonline.cn, sts.chinacloudapi.cn,
	// https://microsoftgraph.chinacloudapi.cn.
	CloudChina Cloud = "china"
	// CloudUSGov: login.microsoftonline.us for both v2 and v1 issuers (the v1
	// issuer host of US Government is not documented; the emulator uses the
	// authority host), https://graph.microsoft.us.
	CloudUSGov Cloud = "usgov"
	// CloudUSGovDoD: as CloudUSGov with Graph https://dod-graph.microsoft.us.
	CloudUSGovDoD Cloud = "usgovdod"
	// CloudGermany: login.microsoftonline.de, sts.microsoftonline.de,
	// https://graph.microsoft.de. The cloud closed on 29 October 2021.
	CloudGermany Cloud = "germany"
)

// Well-known identifiers.
const (
	// GraphAppID is the client ID of Microsoft Graph.
	GraphAppID = "00000003-0000-0000-c000-000000000000"
	// ConsumersTenantID is the tenant of personal Microsoft accounts.
	ConsumersTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"
)

type cloudInfo struct {
	v2Host   string // v2 issuer host (and authority host of the real cloud)
	v1Host   string // v1 issuer host
	graphURL string
}

func cloudInfoFor(c Cloud) (cloudInfo, bool) {
	switch c {
	case CloudPublic:
		return cloudInfo{"login.microsoftonline.com", "sts.windows.net", "https://graph.microsoft.com"}, true
	case CloudChina:
		return cloudInfo{"login.partner.microsoftonline.cn", "sts.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"}, true
	case CloudUSGov:
		return cloudInfo{"login.microsoftonline.us", "login.microsoftonline.us", "https://graph.microsoft.us"}, true
	case CloudUSGovDoD:
		return cloudInfo{"login.microsoftonline.us", "login.microsoftonline.us", "https://dod-graph.microsoft.us"}, true
	case CloudGermany:
		return cloudInfo{"login.microsoftonline.de", "sts.microsoftonline.de", "https://graph.microsoft.de"}, true
	}
	return cloudInfo{}, false
}

// knownInstanceMetadata returns the metadata list of a real instance-discovery answer.
func knownInstanceMetadata() []map[string]any {
	return []map[string]any{
		{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
			"aliases": []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
		{"preferred_network": "login.partner.microsoftonline.cn", "preferred_cache": "login.partner.microsoftonline.cn",
			"aliases": []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
		{"preferred_network": "login.microsoftonline.de", "preferred_cache": "login.microsoftonline.de",
			"aliases": []string{"login.microsoftonline.de"}},
		{"preferred_network": "login.microsoftonline.us", "preferred_cache": "login.microsoftonline.us",
			"aliases": []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
		{"preferred_network": "login-us.microsoftonline.com", "preferred_cache": "login-us.microsoftonline.com",
			"aliases": []string{"login-us.microsoftonline.com"}},
	}
}

// IssuerV1 returns the v1 token issuer for a tenant, e.g.
// "https://sts.windows.net/<tid>/". Safe for concurrent use.
func (s *Server) IssuerV1(tenantID string) string {
	return "https://" + s.cloud.v1Host + "/" + tenantID + "/"
}

// IssuerV2 returns the v2 token issuer for a tenant, e.g.
// "https://login.microsoftonline.com/<tid>/v2.0". Safe for concurrent use.
func (s *Server) IssuerV2(tenantID string) string {
	return "https://" + s.cloud.v2Host + "/" + tenantID + "/v2.0"
}

// GraphResource returns the identifier of the cloud's Microsoft Graph,
// e.g. "https://graph.microsoft.com": the aud of Graph tokens. Safe for
// concurrent use.
func (s *Server) GraphResource() string { return s.cloud.graphURL }

// GraphURL returns the base URL at which the emulator serves its minimal
// Microsoft Graph (see graph.go): s.URL, whose /v1.0/... paths are Graph's.
// Use it as the Graph URL of the client's cloud, e.g. entra.CloudConfig's
// GraphURL. A scope on it ("<GraphURL>/.default", as a client derives from
// that cloud) is a scope of Microsoft Graph: the token's aud is still
// GraphResource, as Graph expects. Safe for concurrent use.
func (s *Server) GraphURL() string { return s.URL }

// Cloud returns the cloud the server impersonates. Safe for concurrent use.
func (s *Server) Cloud() Cloud { return s.opts.cloud() }
