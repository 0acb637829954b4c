package bearer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/entrakit/entra/internal/jwks"
)

// payload is the JSON form of the claims read here. A claim of the wrong
// JSON type makes the token malformed.
type payload struct {
	Iss               string   `json:"iss"`
	Aud               any      `json:"aud"`
	Tid               string   `json:"tid"`
	Ver               string   `json:"ver"`
	Oid               string   `json:"oid"`
	Sub               string   `json:"sub"`
	Azp               string   `json:"azp"`
	AppID             string   `json:"appid"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	UPN               string   `json:"upn"`
	Scp               string   `json:"scp"`
	Roles             []string `json:"roles"`
	XmsCC             []string `json:"xms_cc"`
	Exp               *float64 `json:"exp"`
	Nbf               *float64 `json:"nbf"`
	Iat               *float64 `json:"iat"`
}

// checkClaims validates the verified claims and builds Claims.
func (v *Validator) checkClaims(vt *jwks.Verified, now time.Time) (*Claims, *Error) {
	var p payload
	if err := jsonUnmarshal(vt.Payload, &p); err != nil {
		return nil, invalidToken(ErrMalformed, "token is malformed: a claim has the wrong JSON type", "send an Entra ID access token")
	}
	tid := strings.ToLower(p.Tid)
	if !isGUID(tid) {
		return nil, invalidToken(ErrTenant, "token has no valid tid claim", "send an Entra ID access token")
	}
	switch {
	case v.tenantID != "" && tid != v.tenantID:
		return nil, invalidToken(ErrTenant, "token was issued in tenant "+tid+", not this API's tenant "+v.tenantID,
			"request the token from this API's tenant ("+v.tenantID+"), or configure the API as multi-tenant")
	case v.tenantID == "" && !v.allowAll && !v.allowed[tid]:
		return nil, invalidToken(ErrTenant, "tenant "+tid+" is not allowed", "add the tenant to Options.AllowedTenants if it should be served")
	}
	// iss must be this cloud's v1 or v2 issuer for tid, in the form ver says.
	v1, v2 := v.cloud.IssuerV1(p.Tid), v.cloud.IssuerV2(p.Tid)
	switch {
	case p.Iss == v2 && p.Ver == "2.0", p.Iss == v1 && p.Ver == "1.0":
	case p.Iss == v1 && p.Ver != "1.0", p.Iss == v2 && p.Ver != "2.0":
		return nil, invalidToken(ErrIssuer, fmt.Sprintf("token version %q does not match its issuer's form", short(p.Ver)),
			"send an unmodified Entra ID access token")
	default:
		return nil, invalidToken(ErrIssuer, fmt.Sprintf("issuer %q is not %s's v1 or v2 issuer for tenant %s", short(p.Iss), v.cloud.Name(), tid),
			"request the token from the cloud and tenant this API is configured for")
	}
	aud, ok := v.audience(p.Aud)
	if !ok {
		return nil, invalidToken(ErrAudience, fmt.Sprintf("token audience %q is not this API (%s or %s)", short(aud), v.clientID, v.appIDURI),
			"the client must request this API's scope, "+v.scopeAdvice+" (or "+v.appIDURI+"/.default for an app)")
	}
	if p.Azp == "" && p.AppID == "" {
		return nil, invalidToken(ErrIDToken, "token has no azp or appid claim: it is an ID token, not an access token",
			"send an access token requested for "+v.scopeAdvice+", not the ID token from sign-in")
	}
	exp, ok := numericDate(p.Exp)
	if !ok {
		return nil, invalidToken(ErrExpired, "token has no valid exp claim", "send an Entra ID access token")
	}
	if now.After(exp.Add(v.skew)) {
		return nil, invalidToken(ErrExpired, "token expired at "+exp.UTC().Format(time.RFC3339), "get a new token")
	}
	nbf, hasNbf := numericDate(p.Nbf)
	if p.Nbf != nil && !hasNbf {
		return nil, invalidToken(ErrNotYetValid, "token has an invalid nbf claim", "send an Entra ID access token")
	}
	if hasNbf && nbf.After(now.Add(v.skew)) {
		return nil, invalidToken(ErrNotYetValid, "token not valid before "+nbf.UTC().Format(time.RFC3339),
			"check the clocks of the client and this API")
	}
	scopes := strings.Fields(p.Scp)
	if len(scopes) == 0 && len(p.Roles) == 0 && !v.allowNoScp {
		return nil, invalidToken(ErrNoScopes, "token has neither scp nor roles",
			"an app-only token carries roles only when the client app was granted one of this API's app roles with admin consent; a user token needs one of this API's delegated scopes, "+v.scopeAdvice)
	}
	iat, _ := numericDate(p.Iat)
	c := &Claims{
		Issuer: p.Iss, Audience: aud, TenantID: tid, ObjectID: p.Oid, Subject: p.Sub,
		ClientID: p.Azp, Version: p.Ver, Name: p.Name, Username: p.PreferredUsername,
		Scopes: scopes, Roles: p.Roles, Capabilities: p.XmsCC,
		IssuedAt: iat, NotBefore: nbf, ExpiresAt: exp, KeyID: vt.KeyID,
		payload: vt.Payload,
	}
	if c.ClientID == "" {
		c.ClientID = p.AppID
	}
	if c.Username == "" {
		c.Username = p.UPN
	}
	return c, nil
}

// audience checks aud (a string, or an array of exactly one string) against
// the client ID and the App ID URI.
func (v *Validator) audience(raw any) (string, bool) {
	list := audList(raw)
	if len(list) != 1 {
		return strings.Join(list, ","), false
	}
	a := list[0]
	return a, strings.EqualFold(a, v.clientID) || a == v.appIDURI || a == v.appIDURI+"/"
}

// audList reads aud as a list of strings.
func audList(raw any) []string {
	switch x := raw.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// numericDate converts a NumericDate claim, refusing absurd values.
func numericDate(f *float64) (time.Time, bool) {
	if f == nil || math.IsNaN(*f) || *f < 0 || *f > 1<<40 {
		return time.Time{}, false
	}
	return time.Unix(int64(*f), 0), true
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hex form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
				return false
			}
		}
	}
	return true
}

// short caps an untrusted string shown in an error.
func short(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
