package entratest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// accessTokenParams are the inputs of mintAccessToken.
type accessTokenParams struct {
	tenant     *tenant
	client     *app
	clientAuth int
	rs         *resolvedScopes
	user       *user          // nil = app-only (roles only, never scp)
	scp        []string       // delegated scopes (user tokens)
	roles      []string       // app roles (app-only: granted with admin consent)
	extra      map[string]any // e.g. OBO
	claims     claimsRequest  // the request's claims parameter (client capabilities, nbf)
	mfa        bool           // the user's session performed MFA (v1 amr)
	signIn     uint64         // policy epoch of the user's sign-in, kept in aio for OBO
}

// backdate is how far iat/nbf lie before issuance, as Entra does.
const backdate = 5 * time.Minute

// mintAccessToken signs an access token. Its version (v1 or v2) follows the
// resource's AccessTokenAcceptedVersion; Graph tokens are v1 with a header
// nonce that makes standard signature verification fail, as real Graph tokens do.
func (s *Server) mintAccessToken(p accessTokenParams) (token string, expiresIn int64, err error) {
	if p.client == nil || p.rs == nil || p.rs.resource == nil {
		return "", 0, errors.New("entratest: mint: missing client or resource")
	}
	t := p.tenant
	if t == nil && p.user != nil {
		t = s.tenantByID(p.user.tenantID)
	}
	if t == nil {
		return "", 0, errors.New("entratest: mint: no tenant")
	}
	res := p.rs.resource
	graph := res == s.graph
	v2 := !graph && res.AccessTokenAcceptedVersion == 2
	now := s.now()
	lifetime := s.opts.lifetime(p.user != nil)
	expiresIn = int64(lifetime / time.Second)
	issued := now.Add(-backdate).Unix()
	if nbf := p.claims.nbf; nbf > issued && nbf <= now.Unix() {
		// A CAE challenge asked for a token not before nbf.
		issued = nbf
	}
	aud := p.rs.audience
	if v2 {
		aud = res.ClientID
	} else if graph {
		aud = s.GraphResource()
	}
	c := jwt.MapClaims{
		"aud": aud,
		"iat": issued,
		"nbf": issued,
		"exp": now.Add(lifetime).Unix(),
		"aio": sessionAIO(p.signIn),
		"rh":  "0.A" + randB64(40) + ".",
		"uti": randB64(16),
		"tid": t.id,
	}
	acr := strconv.Itoa(p.clientAuth)
	if v2 {
		c["iss"], c["ver"], c["azp"], c["azpacr"] = s.IssuerV2(t.id), "2.0", p.client.ClientID, acr
	} else {
		c["iss"], c["ver"], c["appid"], c["appidacr"] = s.IssuerV1(t.id), "1.0", p.client.ClientID, acr
	}
	if p.user == nil {
		c["oid"], c["sub"] = p.client.spOID, p.client.spOID
		if wantsClaim(res, "idtyp") {
			c["idtyp"] = "app"
		}
		if !v2 {
			c["idp"] = s.IssuerV1(t.id)
		}
	} else {
		u := p.user
		c["oid"], c["sub"], c["name"] = u.ObjectID, pairwiseSub(u.ObjectID, p.client.ClientID), u.DisplayName
		if v2 {
			c["preferred_username"] = u.Username
		} else {
			c["upn"], c["unique_name"], c["amr"] = u.Username, u.Username, []string{"pwd"}
			if p.mfa {
				c["amr"] = []string{"pwd", "mfa"}
			}
		}
		if u.tenantID != t.id {
			c["idp"] = s.IssuerV1(u.tenantID)
		}
		if len(p.scp) > 0 {
			c["scp"] = strings.Join(p.scp, " ")
		}
	}
	if len(p.roles) > 0 {
		c["roles"] = append([]string(nil), p.roles...)
	}
	if caps := p.claims.capabilities; len(caps) > 0 && wantsClaim(res, "xms_cc") {
		c["xms_cc"] = append([]string(nil), caps...)
	}
	for k, v := range p.extra {
		c[k] = v
	}
	token, err = s.sign(c, !v2, graph)
	return token, expiresIn, err
}

// sign makes an RS256 JWT with the active key. x5t adds the v1 x5t header.
// graph adds a header nonce; the signature then covers a header holding the
// SHA-256 of the nonce instead, so ordinary verification fails.
func (s *Server) sign(c jwt.MapClaims, x5t, graph bool) (string, error) {
	k := s.activeKey()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = k.kid
	if x5t {
		tok.Header["x5t"] = k.kid
	}
	if !graph {
		out, err := tok.SignedString(k.key)
		if err != nil {
			return "", fmt.Errorf("entratest: sign: %w", err)
		}
		return out, nil
	}
	nonce := randB64(32)
	sum := sha256.Sum256([]byte(nonce))
	tok.Header["nonce"] = hex.EncodeToString(sum[:])
	signing, err := tok.SigningString()
	if err != nil {
		return "", fmt.Errorf("entratest: sign: %w", err)
	}
	sig, err := tok.Method.Sign(signing, k.key)
	if err != nil {
		return "", fmt.Errorf("entratest: sign: %w", err)
	}
	tok.Header["nonce"] = nonce
	hdr, err := json.Marshal(tok.Header)
	if err != nil {
		return "", fmt.Errorf("entratest: sign: %w", err)
	}
	payload := signing[strings.IndexByte(signing, '.')+1:]
	return base64.RawURLEncoding.EncodeToString(hdr) + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// mintIDToken signs a v2 id_token for u and client (t nil: the user's home tenant).
func (s *Server) mintIDToken(t *tenant, client *app, u *user, nonce string) (string, error) {
	if client == nil || u == nil {
		return "", errors.New("entratest: id token: missing client or user")
	}
	if t == nil {
		t = s.tenantByID(u.tenantID)
	}
	if t == nil {
		return "", errors.New("entratest: id token: no tenant")
	}
	now := s.now()
	c := jwt.MapClaims{
		"aud":                client.ClientID,
		"iss":                s.IssuerV2(t.id),
		"iat":                now.Add(-backdate).Unix(),
		"nbf":                now.Add(-backdate).Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"aio":                randB64(48),
		"rh":                 "0.A" + randB64(40) + ".",
		"uti":                randB64(16),
		"sub":                pairwiseSub(u.ObjectID, client.ClientID),
		"oid":                u.ObjectID,
		"tid":                t.id,
		"name":               u.DisplayName,
		"preferred_username": u.Username,
		"ver":                "2.0",
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return s.sign(c, false, false)
}

// clientInfo returns the unpadded base64url {"uid":oid,"utid":home tenant}.
func clientInfo(u *user) string {
	b, _ := json.Marshal(map[string]string{"uid": u.ObjectID, "utid": u.tenantID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenResponse builds the standard 200 body. scope is echoed only when non-empty.
func (s *Server) tokenResponse(accessToken string, expiresIn int64, scope []string) map[string]any {
	body := map[string]any{
		"token_type":     "Bearer",
		"expires_in":     expiresIn,
		"ext_expires_in": expiresIn,
		"access_token":   accessToken,
	}
	if ri := s.opts.refreshIn(); ri > 0 {
		body["refresh_in"] = ri
	}
	if len(scope) > 0 {
		body["scope"] = strings.Join(scope, " ")
	}
	return body
}

// verifyJWT verifies a token signed by one of the published keys (RS256,
// not expired) and returns its claims. Audience and tenant are the caller's
// to check. Graph tokens fail, as in real Entra. Errors wrap the jwt/v5
// sentinels (jwt.ErrTokenExpired, jwt.ErrTokenSignatureInvalid, ...).
func (s *Server) verifyJWT(raw string) (jwt.MapClaims, error) {
	p := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now),
		jwt.WithExpirationRequired(), jwt.WithLeeway(backdate))
	claims := jwt.MapClaims{}
	_, err := p.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k := s.publishedKey(kid)
		if k == nil {
			return nil, errors.New("entratest: unknown signing key")
		}
		return &k.key.PublicKey, nil
	})
	if err != nil {
		return nil, fmt.Errorf("entratest: verify: %w", err)
	}
	return claims, nil
}

// sessionAIO makes the opaque aio claim: Entra keeps session data there, the
// emulator the policy epoch of the user's sign-in (8 bytes) before random
// bytes, so that on-behalf-of can apply MFA rules to the user's session.
func sessionAIO(signIn uint64) string {
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	binary.BigEndian.PutUint64(b, signIn)
	return base64.RawURLEncoding.EncodeToString(b)
}

// aioSignIn reads the sign-in epoch back from an aio claim (0 if unreadable).
func aioSignIn(aio any) uint64 {
	s, _ := aio.(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// pairwiseSub is the per-app subject of a user.
func pairwiseSub(oid, clientID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(oid + "|" + clientID)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
