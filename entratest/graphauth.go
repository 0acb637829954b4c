package entratest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// maxGraphToken bounds the bearer tokens the emulator's Graph reads.
const maxGraphToken = 16 << 10

// graphPrincipal is the caller of a Graph request, from a validated token.
type graphPrincipal struct {
	tenant *tenant
	user   *user    // nil for an app-only token
	appID  string   // azp / appid
	roles  []string // app roles (app-only) or user roles
	scp    []string // delegated scopes (user tokens)
}

// graphAuthError is a refused Graph token: 401 InvalidAuthenticationToken.
type graphAuthError struct {
	message   string
	challenge string // WWW-Authenticate value; "" = the default Bearer challenge
}

// graphAuth validates the bearer token of a Graph request as Microsoft
// Graph does: a JWT signed by a published key over Graph's nonce-hashed
// header, for this cloud's Graph (aud), from this cloud's issuer for a
// known tenant, within its lifetime (5 minutes of skew), and, for a
// CAE-capable token (xms_cc), not older than a revocation of the user's
// sessions. It never panics on any input.
func (s *Server) graphAuth(r *http.Request) (*graphPrincipal, *graphAuthError) {
	fail := func(msg string) (*graphPrincipal, *graphAuthError) { return nil, &graphAuthError{message: msg} }
	authz := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(authz, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return fail("Access token is empty.")
	}
	if len(token) > maxGraphToken {
		return fail("Access token validation failure. The token is too large.")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fail("IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.")
	}
	var hdr map[string]any
	var claims map[string]any
	if !decodeSegment(parts[0], &hdr) || !decodeSegment(parts[1], &claims) {
		return fail("IDX14102: Unable to decode the header or payload of the JWT as Base64Url encoded JSON.")
	}
	if !audienceIsGraph(claims["aud"], s.GraphResource()) {
		return fail("Access token validation failure. Invalid audience.")
	}
	if !s.verifyGraphSignature(hdr, parts) {
		return fail("Access token validation failure. Invalid signature.")
	}
	tid, _ := claims["tid"].(string)
	t := s.tenantByID(tid)
	iss, _ := claims["iss"].(string)
	if t == nil || (iss != s.IssuerV1(t.id) && iss != s.IssuerV2(t.id)) {
		return fail("Access token validation failure. Invalid issuer.")
	}
	now := s.now().Unix()
	skew := int64(backdate.Seconds())
	exp, okExp := numericClaim(claims["exp"])
	if !okExp || now > exp+skew {
		return fail("Lifetime validation failed, the token is expired.")
	}
	if nbf, ok := numericClaim(claims["nbf"]); ok && nbf > now+skew {
		return fail("Lifetime validation failed, the token is not yet valid.")
	}
	p := &graphPrincipal{tenant: t, roles: stringList(claims["roles"])}
	p.appID, _ = claims["appid"].(string)
	if p.appID == "" {
		p.appID, _ = claims["azp"].(string)
	}
	if scp, _ := claims["scp"].(string); strings.TrimSpace(scp) != "" {
		p.scp = strings.Fields(scp)
		oid, _ := claims["oid"].(string)
		if p.user = s.userByOID(t, oid); p.user == nil {
			return fail("Access token validation failure. The user of the token does not exist in the tenant.")
		}
		if e := s.caeCheck(p.user, claims); e != nil {
			return nil, e
		}
	}
	return p, nil
}

// caeCheck refuses a CAE-capable token issued before the user's sessions
// were revoked, with a claims challenge asking for a newer token.
func (s *Server) caeCheck(u *user, claims map[string]any) *graphAuthError {
	if !hasScope(stringList(claims["xms_cc"]), "cp1") {
		return nil
	}
	revoked := s.revokedAt(u.Username)
	iat, _ := numericClaim(claims["iat"])
	if revoked == 0 || iat >= revoked {
		return nil
	}
	nbf := `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(revoked, 10) + `"}}}`
	return &graphAuthError{
		message:   "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokensRevoked",
		challenge: ClaimsChallenge(nbf),
	}
}

// verifyGraphSignature checks an RS256 signature made over the header with
// its nonce replaced by the hex SHA-256 of the nonce (see Server.sign).
func (s *Server) verifyGraphSignature(hdr map[string]any, parts []string) bool {
	if alg, _ := hdr["alg"].(string); alg != "RS256" {
		return false
	}
	nonce, _ := hdr["nonce"].(string)
	kid, _ := hdr["kid"].(string)
	k := s.publishedKey(kid)
	if nonce == "" || k == nil {
		return false
	}
	sum := sha256.Sum256([]byte(nonce))
	hashed := make(map[string]any, len(hdr))
	for key, v := range hdr {
		hashed[key] = v
	}
	hashed["nonce"] = hex.EncodeToString(sum[:])
	b, err := json.Marshal(hashed)
	if err != nil {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(base64.RawURLEncoding.EncodeToString(b) + "." + parts[1]))
	return rsa.VerifyPKCS1v15(&k.key.PublicKey, crypto.SHA256, digest[:], sig) == nil
}

// decodeSegment decodes one unpadded base64url JSON object segment.
func decodeSegment(seg string, v *map[string]any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil && *v != nil
}

// audienceIsGraph reports whether aud names Microsoft Graph of the cloud.
func audienceIsGraph(aud any, graphResource string) bool {
	for _, a := range stringList(aud) {
		a = strings.TrimSuffix(a, "/")
		if strings.EqualFold(a, graphResource) || strings.EqualFold(a, GraphAppID) {
			return true
		}
	}
	return false
}

// stringList reads a claim that is a string or an array of strings.
func stringList(v any) []string {
	switch x := v.(type) {
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

// numericClaim reads a NumericDate claim.
func numericClaim(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != f || f > 1<<53 || f < -(1<<53) {
		return 0, false
	}
	return int64(f), true
}

// userByOID finds a user by object ID: in t first, then in any tenant (a
// guest or a personal account signed in to t).
func (s *Server) userByOID(t *tenant, oid string) *user {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tt := range append([]*tenant{t}, s.tenantList...) {
		for _, u := range tt.users {
			if strings.EqualFold(u.ObjectID, oid) {
				return u
			}
		}
	}
	return nil
}
