package entra

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrBadAssertion: the user assertion given for on-behalf-of cannot
// succeed (a Microsoft Graph token, an id_token, a token for another app,
// tenant or cloud, an app-only or expired token, or not a JWT), so no
// request was sent to Entra, which would answer AADSTS50013, 500133 or
// 240002. The *Error's Code says which and its Hint what the client must
// do.
var ErrBadAssertion = errors.New("entra: the user assertion cannot be used for on-behalf-of")

// assertionSkew is the clock skew allowed on the assertion's exp, as
// Entra's validators allow.
const assertionSkew = 5 * time.Minute

// maxAssertion bounds the assertion read by the guard; Entra access
// tokens are a few KB.
const maxAssertion = 32 << 10

// assertionClaims is what the guard reads from an assertion.
type assertionClaims struct {
	Aud   json.RawMessage `json:"aud"`
	Iss   string          `json:"iss"`
	Tid   string          `json:"tid"`
	Exp   *float64        `json:"exp"`
	Scp   string          `json:"scp"`
	Roles json.RawMessage `json:"roles"`
	AppID string          `json:"appid"`
	Azp   string          `json:"azp"`
	Idtyp string          `json:"idtyp"`
	Nonce *string         `json:"nonce"`
}

// checkAssertion decodes, without verifying (the API's bearer validation
// verifies), the assertion's header and claims and refuses one that Entra
// would refuse, before any request. The checks are on the token's
// purpose, not its authenticity.
func (c *OnBehalfOfCredential) checkAssertion(a string, now time.Time) error {
	if len(a) > maxAssertion {
		return c.badAssertion("assertion_not_jwt", "the user assertion is too large to be an access token", "")
	}
	a = strings.TrimSpace(a)
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return c.badAssertion("assertion_not_jwt", "the user assertion starts with \"Bearer \"",
			"pass the token alone, without the \"Bearer \" prefix of the Authorization header")
	}
	parts := strings.Split(a, ".")
	var header map[string]json.RawMessage
	var cl assertionClaims
	if len(parts) != 3 || decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &cl) != nil {
		return c.badAssertion("assertion_not_jwt", "the user assertion is not a JWT access token", "")
	}
	auds := audiences(cl.Aud)
	_, nonce := header["nonce"]
	if nonce || c.isGraph(auds) {
		return c.badAssertion("assertion_for_graph",
			"the user assertion is a Microsoft Graph token (audience "+shownAudience(auds)+"), which only Graph can validate", "")
	}
	if cl.AppID == "" && cl.Azp == "" || cl.Nonce != nil {
		return c.badAssertion("assertion_is_id_token", "the user assertion is an id_token (no appid or azp claim, or a nonce claim), not an access token", "")
	}
	if !c.acceptsAudience(auds) {
		return c.badAssertion("assertion_wrong_audience",
			"the user assertion is for audience "+shownAudience(auds)+", not this API ("+c.clientID+")", "")
	}
	if isGUID(c.tenantID) && !strings.EqualFold(cl.Tid, c.tenantID) {
		return c.badAssertion("assertion_other_tenant",
			fmt.Sprintf("the user assertion was issued by tenant %q, not this API's tenant %s", shown(cl.Tid), c.tenantID),
			"the client must sign the user in through tenant "+c.tenantID+" (or make this API multi-tenant and use the user's tenant) and request api://"+c.clientID+"/<scope>")
	}
	if cl.Iss != c.s.cloud.IssuerV1(cl.Tid) && cl.Iss != c.s.cloud.IssuerV2(cl.Tid) {
		return c.badAssertion("assertion_other_cloud",
			fmt.Sprintf("the user assertion's issuer %q is not of this credential's cloud %q", shown(cl.Iss), c.s.cloud.Name()),
			"the client must get its token from the same cloud as this API (Options.Cloud) and request api://"+c.clientID+"/<scope>")
	}
	if strings.TrimSpace(cl.Scp) == "" || cl.Idtyp == "app" {
		return c.badAssertion("assertion_app_only", "the user assertion is an app-only token (no scp claim): on-behalf-of needs a user's token",
			"an app calling as itself uses client credentials (NewClientSecretCredential and friends), not on-behalf-of")
	}
	if cl.Exp == nil || now.After(time.Unix(int64(*cl.Exp), 0).Add(assertionSkew)) {
		return c.badAssertion("assertion_expired", "the user assertion has expired",
			"the client must send a fresh token for api://"+c.clientID+"/<scope>; this API's bearer validation should refuse expired tokens with 401")
	}
	return nil
}

// badAssertion builds the guard's error; hint "" means the default: the
// client must request this API's scope.
func (c *OnBehalfOfCredential) badAssertion(code, desc, hint string) *Error {
	if hint == "" {
		hint = "the client must request a token for this API's scope, api://" + c.clientID +
			"/<scope> (e.g. api://" + c.clientID + "/access_as_user), and send that access token"
	}
	return &Error{Op: "on-behalf-of", Code: code, Description: desc, Hint: hint, Err: ErrBadAssertion}
}

// decodeSegment decodes one base64url JWT segment as JSON into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// audiences reads aud, a string or an array of strings.
func audiences(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

func (c *OnBehalfOfCredential) acceptsAudience(auds []string) bool {
	for _, a := range auds {
		a = strings.ToLower(strings.TrimRight(a, "/"))
		for _, ok := range c.audiences {
			if a == ok {
				return true
			}
		}
	}
	return false
}

// isGraph reports whether an audience is Microsoft Graph of any cloud.
func (c *OnBehalfOfCredential) isGraph(auds []string) bool {
	for _, a := range auds {
		for _, cl := range []Cloud{c.s.cloud, Public, China, USGovernment, USGovernmentDoD, Germany} {
			if g := cl.GraphAudience(); g != "" && sameResource(a, g, c.s.cloud) {
				return true
			}
		}
		if strings.EqualFold(a, graphAppID) {
			return true
		}
	}
	return false
}

// shownAudience prints audiences for a message: quoted, capped, only
// printable characters (they come from an unverified token).
func shownAudience(auds []string) string {
	if len(auds) == 0 {
		return "<none>"
	}
	q := make([]string, 0, len(auds))
	for i, a := range auds {
		if i == 3 {
			q = append(q, "…")
			break
		}
		q = append(q, fmt.Sprintf("%q", shown(a)))
	}
	return strings.Join(q, ", ")
}

// shown caps an untrusted claim value for a message.
func shown(s string) string { return redactOpaque(oneLine(s, 100)) }
