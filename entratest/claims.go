package entratest

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// maxClaimsRequest bounds the claims parameter the emulator reads; longer
// ones are ignored.
const maxClaimsRequest = 8 << 10

// claimsRequest is what the emulator honours of a token request's claims
// parameter (OIDC claims request, §5.5 of OpenID Connect Core), as MSAL
// sends it: client capabilities and a CAE "not before".
//
//	{"access_token":{"xms_cc":{"values":["cp1"]},"nbf":{"essential":true,"value":"1604106651"}}}
type claimsRequest struct {
	capabilities []string // access_token.xms_cc.values, lower-cased (at most 8)
	nbf          int64    // access_token.nbf.value, 0 if absent
	capolids     []string // access_token.capolids.values: policies the token must satisfy (at most 8)
}

// parseClaimsRequest reads a claims parameter. Anything malformed or
// oversized is ignored, never an error: capabilities are a hint.
func parseClaimsRequest(raw string) claimsRequest {
	var out claimsRequest
	if raw == "" || len(raw) > maxClaimsRequest {
		return out
	}
	var doc struct {
		AccessToken map[string]json.RawMessage `json:"access_token"`
	}
	if json.Unmarshal([]byte(raw), &doc) != nil {
		return out
	}
	for k, v := range doc.AccessToken {
		var c struct {
			Value  any   `json:"value"`
			Values []any `json:"values"`
		}
		if json.Unmarshal(v, &c) != nil {
			continue
		}
		switch strings.ToLower(k) {
		case "xms_cc":
			for _, x := range c.Values {
				s, ok := x.(string)
				if !ok || s == "" || len(s) > 32 || !isPrintableToken(s) || len(out.capabilities) >= 8 {
					continue
				}
				if s = strings.ToLower(s); !hasScope(out.capabilities, s) {
					out.capabilities = append(out.capabilities, s)
				}
			}
		case "capolids":
			for _, x := range c.Values {
				if s, ok := x.(string); ok && isGUID(s) && len(out.capolids) < 8 {
					out.capolids = append(out.capolids, strings.ToLower(s))
				}
			}
		case "nbf":
			switch n := c.Value.(type) {
			case string:
				out.nbf, _ = strconv.ParseInt(n, 10, 64)
			case float64:
				if n > 0 && n < 1<<53 {
					out.nbf = int64(n)
				}
			}
			if out.nbf < 0 {
				out.nbf = 0
			}
		}
	}
	return out
}

// ClaimsChallenge returns the WWW-Authenticate value a resource API answers
// with (status 401) to demand claims from a CAE-capable client, e.g.
// ClaimsChallenge(`{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`):
//
//	Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJ..."
//
// claims is sent as standard padded base64, as Entra-protected APIs do and
// azcore requires. Test APIs use it to exercise a client's challenge
// handling; the emulator's Graph uses it after RevokeRefreshTokens.
func ClaimsChallenge(claims string) string {
	return `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", ` +
		`error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte(claims)) + `"`
}
