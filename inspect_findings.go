package entra

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Severity ranks a Finding.
type Severity string

// Severities. The entra CLI exits with status 1 when a finding has
// SeverityError.
const (
	SeverityInfo    Severity = "info"    // worth knowing; nothing fails because of it
	SeverityWarning Severity = "warning" // likely to fail, depending on the receiver
	SeverityError   Severity = "error"   // will be refused where it is going
)

// FindingCode names a known mistake. Codes are stable: match on them, not
// on the text.
type FindingCode string

// Finding codes. Each is a surprise that has cost people days.
const (
	// CodeExpired: exp is past (beyond 5 minutes of clock skew: error).
	CodeExpired FindingCode = "expired"
	// CodeNotYetValid: nbf is more than 5 minutes in the future.
	CodeNotYetValid FindingCode = "not-yet-valid"
	// CodeIDTokenAsAccessToken: an id_token where an access token belongs.
	CodeIDTokenAsAccessToken FindingCode = "id-token-as-access-token"
	// CodeUnsigned: alg "none": nobody may accept the token.
	CodeUnsigned FindingCode = "unsigned"
	// CodeAppOnlyNoRoles: an app-only token without roles: no app role of
	// the API was granted to the app with admin consent.
	CodeAppOnlyNoRoles FindingCode = "app-only-no-roles"
	// CodeGraphHeaderNonce: a Microsoft Graph token, with a nonce in its
	// header: only Graph can validate it.
	CodeGraphHeaderNonce FindingCode = "graph-header-nonce"
	// CodeGraphTokenForAPI: a Microsoft Graph token sent to another API.
	CodeGraphTokenForAPI FindingCode = "graph-token-for-api"
	// CodeIssuerVersionMismatch: a v1 token (iss https://sts.windows.net/
	// <tid>/) for an API whose validator reads the v2 metadata (issuer
	// https://login.microsoftonline.com/<tid>/v2.0).
	CodeIssuerVersionMismatch FindingCode = "issuer-version-mismatch"
	// CodeV1TokenForV2API: a v1 token for an API that expects v2
	// (accessTokenAcceptedVersion 2).
	CodeV1TokenForV2API FindingCode = "v1-token-for-v2-api"
	// CodeMultipleResources: scopes of two resources in one request
	// (CheckScopes).
	CodeMultipleResources FindingCode = "multiple-resources"
	// CodeInvalidScope: a scope list that cannot be requested (CheckScopes).
	CodeInvalidScope FindingCode = "invalid-scope"
	// CodeWrongCloud: a token of one cloud sent to another cloud's Graph
	// or ARM, or a scope naming another cloud's Graph.
	CodeWrongCloud FindingCode = "wrong-cloud"
	// CodeGermanyClosed: a Microsoft Cloud Deutschland token; that cloud
	// closed on 29 October 2021.
	CodeGermanyClosed FindingCode = "germany-cloud-closed"
	// CodeAudienceMismatch: the token's aud is not what the receiver
	// expects.
	CodeAudienceMismatch FindingCode = "audience-mismatch"
	// CodeOBOAudience: an on-behalf-of assertion whose aud is not the
	// middle tier (AADSTS50013).
	CodeOBOAudience FindingCode = "obo-audience"
	// CodeMSAGraphID: a personal Microsoft account, whose Graph user id is
	// the last 16 hex digits of oid.
	CodeMSAGraphID FindingCode = "msa-graph-id"
	// CodeB2CProfileInfo: an Azure AD B2C token; B2C's token response also
	// carries profile_info, which is not a token.
	CodeB2CProfileInfo FindingCode = "b2c-profile-info"
)

// Finding is one thing Inspect or CheckScopes found: a stable Code, a
// Severity, a one-line Message and the Fix. It holds no token.
type Finding struct {
	Code     FindingCode `json:"code"`
	Severity Severity    `json:"severity"`
	Message  string      `json:"message"`
	Fix      string      `json:"fix"`
}

// String returns "severity code: message — fix: fix" on one line.
func (f Finding) String() string {
	return string(f.Severity) + " " + string(f.Code) + ": " + f.Message + " — fix: " + f.Fix
}

// clockSkew is the tolerance validators allow around nbf and exp.
const clockSkew = 5 * time.Minute

// consumersTenant is the tenant of personal Microsoft accounts.
const consumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// armAppID is Azure Resource Manager's application ID.
const armAppID = "797f4846-ba00-4fd7-ba43-dac1f8f63013"

// knownClouds are the presets Inspect recognises (USGovernmentDoD shares
// the issuer of USGovernment and is reported as it).
var knownClouds = [...]*Cloud{&Public, &China, &USGovernment, &Germany, &USGovernmentDoD}

// issuerParts splits "https://host/<tenant>/..." into host and tenant.
func issuerParts(iss string) (host, tenant string) {
	rest, ok := strings.CutPrefix(iss, "https://")
	if !ok {
		return "", ""
	}
	host, rest, _ = strings.Cut(rest, "/")
	tenant, _, _ = strings.Cut(rest, "/")
	return strings.ToLower(host), tenant
}

// cloudOfHost returns the name of the cloud an issuer host belongs to.
func cloudOfHost(host string) string {
	switch {
	case host == "":
		return ""
	case strings.HasSuffix(host, ".b2clogin.com") || strings.HasSuffix(host, ".b2clogin.cn") || strings.HasSuffix(host, ".b2clogin.us"):
		return "b2c"
	case strings.HasSuffix(host, ".ciamlogin.com"):
		return "ciam"
	}
	for _, c := range knownClouds {
		if host == c.issuerHostV1 || host == c.issuerHostV2 || containsString(c.Aliases(), host) {
			return c.name
		}
	}
	return ""
}

// cloudOfServiceHost returns the cloud whose Graph or ARM is at host:
// own (the caller's cloud, possibly zero) first, then the presets.
func cloudOfServiceHost(host string, own *Cloud) (c *Cloud, graph bool) {
	if !own.IsZero() {
		if resourceHost(own.graphURL) == host {
			return own, true
		}
		if resourceHost(own.armEndpoint) == host {
			return own, false
		}
	}
	for _, k := range knownClouds {
		if resourceHost(k.graphURL) == host {
			return k, true
		}
	}
	for _, k := range knownClouds {
		if resourceHost(k.armEndpoint) == host {
			return k, false
		}
	}
	return nil, false
}

// audienceKind classifies one audience.
func audienceKind(aud string) (AudienceKind, *Cloud) {
	a := strings.ToLower(strings.TrimRight(aud, "/"))
	if a == graphAppID {
		return AudienceGraph, nil
	}
	if a == armAppID {
		return AudienceARM, nil
	}
	for _, c := range knownClouds {
		if a == strings.TrimRight(c.GraphAudience(), "/") {
			return AudienceGraph, c
		}
		if a == strings.TrimRight(c.armAudience, "/") || a == strings.TrimRight(c.armEndpoint, "/") {
			return AudienceARM, c
		}
	}
	return AudienceCustom, nil
}

// report fills what the token says, without findings.
func (d *decoded) report(now time.Time) Report {
	c := &d.c
	host, issTenant := issuerParts(c.Iss)
	r := Report{
		Issuer: c.Iss, Audience: append([]string(nil), c.Aud...), Roles: append([]string(nil), c.Roles...),
		Cloud: cloudOfHost(host), TenantID: c.Tid, ObjectID: c.Oid,
		Algorithm: d.h.Alg, KeyID: d.h.Kid, HeaderNonce: d.h.Nonce != nil,
		IssuedAt: c.Iat.t, NotBefore: c.Nbf.t, ExpiresAt: c.Exp.t,
	}
	switch {
	case c.Ver == "1.0" || c.Ver == "2.0":
		r.Version = c.Ver
	case strings.HasSuffix(strings.TrimRight(c.Iss, "/"), "/v2.0"):
		r.Version = "2.0"
	case r.Cloud != "":
		r.Version = "1.0"
	}
	if r.TenantID == "" {
		r.TenantID = issTenant
	}
	r.PersonalAccount = strings.EqualFold(r.TenantID, consumersTenant)
	r.AppID = c.AppID
	if r.AppID == "" {
		r.AppID = c.Azp
	}
	r.Username = firstNonEmpty(c.PreferredUsername, c.Upn, c.UniqueName)
	r.Scopes = strings.Fields(c.Scp)
	if c.Scp != "" || c.AppID != "" || c.Azp != "" || c.Idtyp != "" {
		r.Kind = KindAccessToken
		r.AppOnly = c.Scp == ""
		r.AudienceKind = AudienceCustom
		if len(c.Aud) > 0 {
			r.AudienceKind, _ = audienceKind(c.Aud[0])
		}
	} else {
		r.Kind, r.AudienceKind = KindIDToken, AudienceClient
	}
	if !r.ExpiresAt.IsZero() {
		r.Remaining = r.ExpiresAt.Sub(now)
	}
	return r
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func add(fs []Finding, code FindingCode, sev Severity, msg, fix string) []Finding {
	return append(fs, Finding{Code: code, Severity: sev, Message: msg, Fix: fix})
}

// sameAud compares audiences case-insensitively, ignoring a trailing "/";
// an API's client ID and its default App ID URI "api://<client ID>" are
// the same audience (v2 tokens carry the former, v1 tokens the latter).
func sameAud(a, b string) bool {
	return strings.EqualFold(apiID(a), apiID(b))
}

func apiID(a string) string {
	a = strings.TrimRight(a, "/")
	if len(a) == 42 && strings.EqualFold(a[:6], "api://") && isGUID(a[6:]) {
		return a[6:]
	}
	return a
}

func audHas(aud []string, want ...string) bool {
	for _, a := range aud {
		for _, w := range want {
			if w != "" && sameAud(a, w) {
				return true
			}
		}
	}
	return false
}

// appendFindings adds the findings of one token.
func appendFindings(fs []Finding, d *decoded, r *Report, o *InspectOptions) []Finding {
	now := o.Now
	if !r.ExpiresAt.IsZero() && now.After(r.ExpiresAt) {
		sev, msg := SeverityError, "the token expired "+roundAge(now.Sub(r.ExpiresAt))+" ago ("+r.ExpiresAt.Format(time.RFC3339)+")"
		if now.Sub(r.ExpiresAt) <= clockSkew {
			sev, msg = SeverityWarning, msg+"; validators that allow 5 minutes of clock skew still accept it, for now"
		}
		fs = add(fs, CodeExpired, sev, msg, "get a new token (entra caches tokens and renews them before they expire: reuse one Credential and its TokenSource)")
	}
	if !r.NotBefore.IsZero() && r.NotBefore.After(now.Add(clockSkew)) {
		fs = add(fs, CodeNotYetValid, SeverityError, "the token is not valid before "+r.NotBefore.Format(time.RFC3339)+", "+roundAge(r.NotBefore.Sub(now))+" from now",
			"check this machine's clock (and the issuer's): tokens are valid from nbf, with 5 minutes of skew allowed")
	}
	if d.h.Alg == "" || strings.EqualFold(d.h.Alg, "none") {
		fs = add(fs, CodeUnsigned, SeverityWarning, "the token is unsigned (alg \""+d.h.Alg+"\"): a sample or a forgery, never a token from Entra",
			"accept only tokens signed with the keys of the issuer's jwks_uri (RS256); reject alg none")
	}
	if r.Kind == KindIDToken {
		sev := SeverityInfo
		if o.TargetURL != "" || o.Audience != "" || o.MiddleTierClientID != "" {
			sev = SeverityError
		}
		fs = add(fs, CodeIDTokenAsAccessToken, sev, "this is an id_token: it proves a sign-in to the app "+strings.Join(r.Audience, " ")+" and is not meant for any API",
			"send an access token instead: request the API's scope (e.g. api://<api-app-id>/access_as_user) and use access_token, not id_token")
	}
	if r.Kind == KindAccessToken && r.AppOnly && len(r.Roles) == 0 && r.AudienceKind != AudienceARM {
		fs = add(fs, CodeAppOnlyNoRoles, SeverityWarning, "the app-only token carries no roles: no app role of "+strings.Join(r.Audience, " ")+" is granted to app "+r.AppID+" with admin consent, so an API that checks roles refuses it",
			"in the API's registration define an app role for Applications; in the client's registration add it under API permissions > Application permissions and grant admin consent; new tokens then carry roles")
	}
	fs = destinationFindings(fs, d, r, o)
	if r.Kind == KindAccessToken && r.AudienceKind == AudienceCustom && r.Version == "1.0" && o.AcceptedVersion != 2 {
		fs = add(fs, CodeIssuerVersionMismatch, SeverityWarning, "a v1 token (iss "+r.Issuer+"): a validator configured from the v2.0 metadata expects iss https://login.microsoftonline.com/"+r.TenantID+"/v2.0 and refuses it",
			"set \"accessTokenAcceptedVersion\": 2 in the API's app manifest to get v2 tokens, or validate against the v1 issuer (metadata without /v2.0)")
	}
	if r.Cloud == Germany.name {
		fs = add(fs, CodeGermanyClosed, SeverityWarning, "the token is from Microsoft Cloud Deutschland (issuer host "+strings.SplitN(strings.TrimPrefix(r.Issuer, "https://"), "/", 2)[0]+"), which closed on 29 October 2021; its Graph is "+Germany.graphURL,
			"move to the public cloud's tenant; until then send this cloud's tokens only to its own services: entra.Germany.GraphURL(), never https://graph.microsoft.com")
	}
	if r.PersonalAccount {
		if gid, ok := GraphIDFromOID(r.ObjectID); ok {
			fs = add(fs, CodeMSAGraphID, SeverityInfo, "a personal Microsoft account: Microsoft Graph gives this user the id "+gid+", the last 16 hex digits of oid "+r.ObjectID,
				"compare ids with entra.SameUser(graphID, oid), or store oid; Microsoft calls both opaque, so never parse them elsewhere")
		}
	}
	if r.Cloud == "b2c" || d.c.Tfp != "" || strings.HasPrefix(strings.ToLower(d.c.Acr), "b2c_") {
		fs = add(fs, CodeB2CProfileInfo, SeverityInfo, "an Azure AD B2C token: B2C's token response also carries profile_info, MSAL's client information (mostly null), which is not a token",
			"read the user's claims from this token (or the id_token); entra.DecodeProfileInfo decodes profile_info if you need it")
	}
	return fs
}

// destinationFindings adds what depends on where the token goes.
func destinationFindings(fs []Finding, d *decoded, r *Report, o *InspectOptions) []Finding {
	graphAud := r.Kind == KindAccessToken && r.AudienceKind == AudienceGraph
	var target *Cloud
	targetIsGraph, targetHost := false, ""
	if o.TargetURL != "" {
		if u, err := url.Parse(o.TargetURL); err == nil {
			targetHost = strings.ToLower(u.Host)
			target, targetIsGraph = cloudOfServiceHost(targetHost, &o.Cloud)
		}
	}
	customDest := (targetHost != "" && target == nil) || (o.Audience != "" && func() bool { k, _ := audienceKind(o.Audience); return k == AudienceCustom }())
	switch {
	case graphAud && customDest:
		fs = add(fs, CodeGraphTokenForAPI, SeverityError, "a Microsoft Graph token (aud "+strings.Join(r.Audience, " ")+") sent to your API: the nonce in its header makes its signature unverifiable for anyone but Graph",
			"request a token for your API alone: its scope (api://<api-app-id>/<scope> or /.default) without Graph scopes such as User.Read in the same request; call Graph with a separate token")
	case graphAud && r.HeaderNonce:
		fs = add(fs, CodeGraphHeaderNonce, SeverityInfo, "a Microsoft Graph token: the nonce in its header is replaced before signing, so only Graph can validate it",
			"don't validate Graph tokens yourself; send them to Graph only; to protect your own API request a token for its scope")
	}
	if o.Audience != "" && r.Kind == KindAccessToken && !audHas(r.Audience, o.Audience) && !(graphAud && customDest) {
		fs = add(fs, CodeAudienceMismatch, SeverityError, "the token is for "+strings.Join(r.Audience, " ")+", not for "+o.Audience,
			"request the scope of the API you call: "+strings.TrimRight(o.Audience, "/")+"/.default (app-only) or one of its delegated scopes")
	}
	if target != nil && r.Kind == KindAccessToken {
		if tc := cloudOfHost(issuerHostOf(r.Issuer)); tc != "" && tc != target.name && !(tc == USGovernment.name && target.name == USGovernmentDoD.name) {
			fs = add(fs, CodeWrongCloud, SeverityError, "a token of cloud "+tc+" sent to "+targetHost+", a service of cloud "+target.name+": clouds do not accept each other's tokens",
				"send it to its own cloud's service (e.g. entra.Cloud.GraphURL() of the token's cloud), or get the token from cloud "+target.name)
		} else if _, audCloud := audienceKind(firstOr(r.Audience)); audCloud != nil && audCloud.name != target.name {
			fs = add(fs, CodeWrongCloud, SeverityError, "the token is for "+firstOr(r.Audience)+" (cloud "+audCloud.name+") but is sent to "+targetHost+" (cloud "+target.name+")",
				"take the Graph URL from the same entra.Cloud as the token (Credential.Graph does)")
		} else if targetIsGraph && r.AudienceKind != AudienceGraph {
			fs = add(fs, CodeAudienceMismatch, SeverityError, "a token for "+strings.Join(r.Audience, " ")+" sent to Microsoft Graph ("+targetHost+"), which accepts only Graph tokens",
				"request a Graph scope for Graph calls ("+target.GraphScope()+" app-only, or User.Read etc. delegated)")
		}
	}
	if o.MiddleTierClientID != "" {
		mt := o.MiddleTierClientID
		if !audHas(r.Audience, mt, "api://"+mt, o.MiddleTierAppIDURI) {
			fs = add(fs, CodeOBOAudience, SeverityError, "the on-behalf-of assertion is for "+strings.Join(r.Audience, " ")+", not for the middle tier "+mt+": Entra refuses it with AADSTS50013",
				hint(50013)+"; the client must request the middle tier's scope (api://"+mt+"/<scope>)")
		}
	}
	if o.AcceptedVersion == 2 && r.Kind == KindAccessToken && r.Version == "1.0" {
		fs = add(fs, CodeV1TokenForV2API, SeverityError, "a v1 token (iss "+r.Issuer+") for an API that accepts v2 tokens only",
			"set \"accessTokenAcceptedVersion\": 2 in the manifest of the API's app registration (the API, not the client), then get a new token")
	}
	return fs
}

func issuerHostOf(iss string) string { h, _ := issuerParts(iss); return h }

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// roundAge formats a duration for a message: "3 days", "3h12m0s", "45s".
func roundAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	case d >= time.Minute:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}
