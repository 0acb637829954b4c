package entra

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"
)

// ErrNotJWT: the text given to Inspect is not a signed JWT (JWS): garbage,
// an encrypted JWE, a SAML assertion, an opaque token, MSAL's client_info
// or B2C's profile_info. The *Error wrapping it says which in its Code.
var ErrNotJWT = errors.New("entra: not a JWT")

// Codes of the *Error Inspect returns (wrapping ErrNotJWT) for input that
// is not a signed JWT. The Code says what the input looks like.
const (
	NotJWTEmpty       = "empty"        // nothing given
	NotJWTTooLarge    = "too_large"    // over MaxInspectSize bytes
	NotJWTTooDeep     = "too_deep"     // JSON nested deeper than maxJSONDepth
	NotJWTJWE         = "jwe"          // five parts: an encrypted token (JWE)
	NotJWTSAML        = "saml"         // XML: a SAML assertion or WS-Trust response
	NotJWTClientInfo  = "client_info"  // MSAL's client_info (uid, utid), not a token
	NotJWTProfileInfo = "profile_info" // B2C's profile_info, not a token
	NotJWTOpaque      = "opaque"       // one part: an opaque token or a refresh token
	NotJWTMalformed   = "malformed"    // dots, but the parts are not base64url JSON
)

// MaxInspectSize caps the input of Inspect, in bytes. Entra's largest
// tokens (many groups, optional claims) stay far below it.
const MaxInspectSize = 64 << 10

// maxJSONDepth caps the nesting of a token's header and claims. Entra's
// deepest claim (xms_st, signin_state arrays) nests two levels.
const maxJSONDepth = 16

// TokenKind says what a token is for.
type TokenKind string

// Token kinds.
const (
	// KindAccessToken is a token for an API: it carries scp, roles or the
	// calling app's ID (appid, azp).
	KindAccessToken TokenKind = "access_token"
	// KindIDToken proves a sign-in to the client app itself (aud is the
	// client ID); it is not meant for any API.
	KindIDToken TokenKind = "id_token"
)

// AudienceKind says which kind of resource a token is for.
type AudienceKind string

// Audience kinds.
const (
	AudienceGraph  AudienceKind = "microsoft_graph" // Microsoft Graph, any cloud
	AudienceARM    AudienceKind = "azure_resource_manager"
	AudienceCustom AudienceKind = "custom_api" // an API of your own (App ID URI or client ID)
	AudienceClient AudienceKind = "client_app" // an id_token's audience: the app that signed the user in
)

// Report is what Inspect learned from a token's header and claims, decoded
// without verifying the signature (Verified is false). It never holds the
// raw token or its signature; it does hold identifiers and the user name
// the token carries. A Report is a plain value, safe to read from several
// goroutines.
type Report struct {
	Kind    TokenKind `json:"kind"`
	Version string    `json:"version"` // "1.0" or "2.0" ("" if unknown)
	// Cloud is the name of the cloud whose issuer host the token carries
	// ("public", "china", "usgov", "germany"; "b2c" or "ciam" for those
	// hosts), "" if the issuer is not a Microsoft one.
	Cloud        string       `json:"cloud"`
	Issuer       string       `json:"issuer"`
	Audience     []string     `json:"audience"`
	AudienceKind AudienceKind `json:"audienceKind"`
	// AppOnly is true for an access token an app got for itself (client
	// credentials): it has no scp.
	AppOnly  bool     `json:"appOnly"`
	Roles    []string `json:"roles,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	AppID    string   `json:"appId,omitempty"` // the calling app (appid or azp)
	TenantID string   `json:"tenantId,omitempty"`
	ObjectID string   `json:"objectId,omitempty"`
	Username string   `json:"username,omitempty"` // preferred_username, upn or unique_name
	// PersonalAccount is true for a Microsoft account (the consumers
	// tenant 9188040d-6c67-4c5b-b112-36a304b66dad).
	PersonalAccount bool `json:"personalAccount,omitempty"`
	// Algorithm and KeyID come from the header; HeaderNonce is true when
	// the header has a nonce (Microsoft Graph's tokens).
	Algorithm   string    `json:"alg"`
	KeyID       string    `json:"kid,omitempty"`
	HeaderNonce bool      `json:"headerNonce,omitempty"`
	IssuedAt    time.Time `json:"issuedAt,omitzero"`
	NotBefore   time.Time `json:"notBefore,omitzero"`
	ExpiresAt   time.Time `json:"expiresAt,omitzero"`
	// Remaining is the time left until ExpiresAt at the inspection (≤ 0
	// once expired).
	Remaining time.Duration `json:"remaining"`
	// Verified is false from Inspect and InspectWith, which read the
	// token without checking its signature, so nothing in the report is
	// proven; InspectVerified sets it when the signature verifies. APIs
	// must validate tokens (the signature, iss, aud, exp) before trusting
	// them: package bearer does.
	Verified bool      `json:"verified"`
	Findings []Finding `json:"findings"`
}

// HasErrors reports whether a finding has SeverityError.
func (r *Report) HasErrors() bool {
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Has reports whether the report has a finding with code.
func (r *Report) Has(code FindingCode) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// InspectOptions tells Inspect where the token is going, so it can say
// whether it will be accepted there. Every field is optional; nil means
// none.
type InspectOptions struct {
	// TargetURL is the URL the token is about to be sent to, e.g.
	// "https://graph.microsoft.de/v1.0/me". Only its host is used.
	TargetURL string
	// Audience is the audience the receiving API expects: its client ID
	// or App ID URI (e.g. "api://my-api").
	Audience string
	// MiddleTierClientID is set when the token is about to be an
	// on-behalf-of assertion: the client ID of the middle-tier API that
	// redeems it. The assertion's aud must be that API (its client ID or
	// App ID URI), or Entra answers AADSTS50013.
	MiddleTierClientID string
	// MiddleTierAppIDURI is the middle tier's App ID URI when it is not
	// "api://<MiddleTierClientID>".
	MiddleTierAppIDURI string
	// AcceptedVersion is the receiving API's accessTokenAcceptedVersion
	// (1 or 2; 0 means unknown).
	AcceptedVersion int
	// Cloud is the cloud of the caller's Credential, when known: the hosts
	// of its GraphURL and ARMEndpoint count as its Graph and ARM even when
	// they are an emulator's or a proxy's (Cloud.WithGraphURL). Other
	// hosts are matched against the predefined clouds; a host of none of
	// them is taken for your own API.
	Cloud Cloud
	// Now is the time of the inspection; zero means time.Now().
	Now time.Time
}

// Inspect decodes a token's header and claims without verifying its
// signature and explains it: what it is, who it is for, and the known
// mistakes it shows (Report.Findings). It does no I/O and is safe for
// concurrent use. Input that is not a signed JWT gives an *Error wrapping
// ErrNotJWT whose Code (NotJWTJWE, NotJWTSAML, ...) says what it is. A
// leading "Bearer " and surrounding spaces are ignored.
func Inspect(rawToken string) (*Report, error) { return InspectWith(rawToken, nil) }

// InspectWith is Inspect with the destination of the token, which adds the
// findings that depend on it (a Graph token sent to your API, a token of
// one cloud sent to another cloud's Graph, an on-behalf-of assertion for
// the wrong audience, a v1 token for a v2 API). opts may be nil.
func InspectWith(rawToken string, opts *InspectOptions) (*Report, error) {
	t, err := decodeToken(rawToken)
	if err != nil {
		return nil, err
	}
	var o InspectOptions
	if opts != nil {
		o = *opts
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	r := t.report(o.Now)
	r.Findings = appendFindings(nil, t, &r, &o)
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	return &r, nil
}

// InspectFindings returns only the findings of InspectWith, nil for input
// that is not a JWT: for a transport or middleware that adds them to an
// error. Safe for concurrent use.
func InspectFindings(rawToken string, opts *InspectOptions) []Finding {
	r, err := InspectWith(rawToken, opts)
	if err != nil {
		return nil
	}
	return r.Findings
}

// jwtHeader and jwtClaims are the fields Inspect reads. A field of an
// unexpected JSON type is left empty (encoding/json skips it).
type jwtHeader struct {
	Alg   string  `json:"alg"`
	Typ   string  `json:"typ"`
	Kid   string  `json:"kid"`
	Enc   string  `json:"enc"`
	Nonce *string `json:"nonce"`
}

type jwtClaims struct {
	Aud               strList `json:"aud"`
	Iss               string  `json:"iss"`
	Tid               string  `json:"tid"`
	Oid               string  `json:"oid"`
	Ver               string  `json:"ver"`
	AppID             string  `json:"appid"`
	Azp               string  `json:"azp"`
	Scp               string  `json:"scp"`
	Roles             strList `json:"roles"`
	Idtyp             string  `json:"idtyp"`
	Nonce             string  `json:"nonce"`
	AtHash            string  `json:"at_hash"`
	CHash             string  `json:"c_hash"`
	PreferredUsername string  `json:"preferred_username"`
	Upn               string  `json:"upn"`
	UniqueName        string  `json:"unique_name"`
	Tfp               string  `json:"tfp"`
	Acr               string  `json:"acr"`
	Exp               numDate `json:"exp"`
	Nbf               numDate `json:"nbf"`
	Iat               numDate `json:"iat"`
}

// decoded is a token's header and claims.
type decoded struct {
	h jwtHeader
	c jwtClaims
}

// strList reads a string or an array of strings; other values are skipped.
type strList []string

func (s *strList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if json.Unmarshal(b, &v) == nil {
			*s = strList{v}
		}
		return nil
	}
	var v []json.RawMessage
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	for _, e := range v {
		var one string
		if json.Unmarshal(e, &one) == nil {
			*s = append(*s, one)
		}
	}
	return nil
}

// numDate reads a NumericDate (seconds since the epoch); anything else,
// or a value outside years 1970-9999, is zero.
type numDate struct{ t time.Time }

func (d *numDate) UnmarshalJSON(b []byte) error {
	var f float64
	if json.Unmarshal(b, &f) != nil || math.IsNaN(f) || f <= 0 || f > 253402300799 {
		return nil
	}
	sec, frac := math.Modf(f)
	d.t = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// notJWT builds the error for input that is not a JWT.
func notJWT(code, desc, hint string) *Error {
	return &Error{Op: "inspect", Code: code, Description: desc, Hint: hint, Err: ErrNotJWT}
}

// decodeToken parses a compact JWS into its header and claims, bounded in
// size and nesting. It never returns the input in an error.
func decodeToken(raw string) (*decoded, error) {
	if len(raw) > MaxInspectSize {
		return nil, notJWT(NotJWTTooLarge, "the input is over 64 KiB: no Entra token is that large",
			"pass the access token alone (the value of access_token), not a whole response or file")
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return nil, notJWT(NotJWTEmpty, "no token given", "pass the token as an argument or on standard input")
	}
	if raw[0] == '<' {
		return nil, notJWT(NotJWTSAML, "the input is XML: a SAML token, not a JWT",
			"SAML tokens come from WS-Federation or SAML sign-ins; request an OAuth 2.0 or OpenID Connect token to get a JWT")
	}
	parts := strings.Split(raw, ".")
	switch len(parts) {
	case 3:
	case 5:
		return nil, notJWT(NotJWTJWE, "the token has five parts: an encrypted JWT (JWE), which only its recipient can decrypt",
			"inspect the token after the API decrypts it, or ask for an unencrypted token (token encryption is set on the API's enterprise application)")
	case 1:
		return nil, oneSegment(raw)
	default:
		return nil, notJWT(NotJWTMalformed, "the input is not a JWT: a JWT has three parts separated by dots",
			"pass the whole access_token value, with nothing added or cut")
	}
	var d decoded
	if err := decodePart(parts[0], &d.h, "header"); err != nil {
		return nil, err
	}
	if d.h.Enc != "" {
		return nil, notJWT(NotJWTJWE, "the header names an encryption (enc): an encrypted JWT (JWE)",
			"inspect the token after the API decrypts it")
	}
	if err := decodePart(parts[1], &d.c, "claims"); err != nil {
		return nil, err
	}
	return &d, nil
}

// decodePart decodes one base64url JSON part into v.
func decodePart(part string, v any, what string) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
	if err != nil {
		return notJWT(NotJWTMalformed, "the "+what+" of the JWT is not base64url", "pass the whole access_token value, with nothing added or cut")
	}
	if !shallowJSON(b, maxJSONDepth) {
		return notJWT(NotJWTTooDeep, "the "+what+" of the JWT nests JSON too deeply: not an Entra token", "")
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || len(b) == 0 || b[0] != '{' {
			return notJWT(NotJWTMalformed, "the "+what+" of the JWT is not a JSON object", "pass the whole access_token value, with nothing added or cut")
		}
	}
	return nil
}

// shallowJSON reports whether b nests arrays and objects at most max deep.
func shallowJSON(b []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// oneSegment explains input without dots: MSAL's client_info, B2C's
// profile_info, or an opaque token.
func oneSegment(raw string) error {
	if len(raw) <= 4096 {
		if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "=")); err == nil && shallowJSON(b, maxJSONDepth) {
			var m map[string]json.RawMessage
			if json.Unmarshal(b, &m) == nil {
				_, uid := m["uid"]
				_, utid := m["utid"]
				_, tid := m["tid"]
				_, ver := m["ver"]
				switch {
				case uid && utid:
					return notJWT(NotJWTClientInfo, "the input is MSAL's client_info (uid, utid), not a token",
						"client_info identifies the account to the client (home account ID <uid>.<utid>); decode it with entra.DecodeClientInfo")
				case tid && ver:
					return notJWT(NotJWTProfileInfo, "the input is Azure AD B2C's profile_info, not a token",
						"profile_info is client information for MSAL's account cache, mostly null; read the user's claims from the id_token (entra.DecodeProfileInfo decodes it)")
				}
			}
		}
	}
	return notJWT(NotJWTOpaque, "the input has no dots: an opaque token (a refresh token, or a token meant only for its API), not a JWT",
		"opaque tokens cannot be inspected; only the API they are for can read them")
}
