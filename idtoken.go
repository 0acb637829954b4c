package entra

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/entrakit/entra/internal/entrahttp"
	"github.com/entrakit/entra/internal/jwks"
)

// idTokenSkew is the clock skew allowed on an id token's exp, nbf and iat.
const idTokenSkew = 5 * time.Minute

// ErrInvalidIDToken: the id token of a sign-in failed validation (its
// signature, issuer, audience, nonce or lifetime). The sign-in is refused.
var ErrInvalidIDToken = errors.New("entra: the sign-in's id token is not valid")

// idClaims are the id token claims a sign-in checks.
type idClaims struct {
	Iss   string   `json:"iss"`
	Aud   audience `json:"aud"`
	Azp   string   `json:"azp"`
	Nonce string   `json:"nonce"`
	Exp   *float64 `json:"exp"`
	Nbf   *float64 `json:"nbf"`
	Iat   *float64 `json:"iat"`
	Tid   string   `json:"tid"`
	Oid   string   `json:"oid"`
	Ver   string   `json:"ver"`
}

// audience is an aud claim: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// idTokenChecker validates the id tokens of one app's sign-ins.
type idTokenChecker struct {
	clientID    string
	metadataURL string
	keys        *jwks.Set
	hc          *entrahttp.Client // reads the issuer from the metadata (kept an hour)
	now         func() time.Time
}

func newIDTokenChecker(s settings, tenantID, clientID string, hc *entrahttp.Client) *idTokenChecker {
	meta := s.cloud.AuthorityHost() + "/" + tenantID + "/v2.0/.well-known/openid-configuration"
	return &idTokenChecker{clientID: clientID, metadataURL: meta, hc: hc, now: s.clock.Now,
		keys: jwks.New(meta, jwks.Options{HTTPClient: s.httpClient, Logger: s.logger, Clock: s.clock.Now})}
}

// check validates raw, the id token of a sign-in that sent nonce: an RS256
// signature by a key of the tenant's key set, the issuer the tenant's
// metadata names (for common and organizations, with the token's tid),
// the app as audience, the nonce, a v2.0 token, and exp, nbf and iat
// within idTokenSkew.
func (c *idTokenChecker) check(ctx context.Context, raw, nonce string) (idClaims, error) {
	if raw == "" {
		return idClaims{}, idTokenError("Entra returned no id token", "the sign-in must ask for the openid scope (entra adds it); check the app registration's token configuration")
	}
	v, err := c.keys.Verify(ctx, raw)
	if err != nil {
		return idClaims{}, idTokenError("its signature did not verify: "+oneLine(err.Error(), 200), "check that the authority host and tenant are the ones the user signed in with")
	}
	var cl idClaims
	if json.Unmarshal(v.Payload, &cl) != nil {
		return idClaims{}, idTokenError("its claims are not valid JSON", "")
	}
	issuer, err := c.issuer(ctx)
	if err != nil {
		return idClaims{}, err
	}
	want := strings.ReplaceAll(issuer, "{tenantid}", cl.Tid)
	switch {
	case cl.Tid == "" || cl.Iss != want:
		return idClaims{}, idTokenError("its issuer is not the tenant's ("+oneLine(cl.Iss, 120)+")", "the user signed in through another tenant or cloud than this app's")
	case len(cl.Aud) == 0 || !slices.Contains(cl.Aud, c.clientID) || len(cl.Aud) > 1 && cl.Azp != c.clientID:
		return idClaims{}, idTokenError("it was issued to another app", "check the client ID")
	case subtle.ConstantTimeCompare([]byte(cl.Nonce), []byte(nonce)) != 1:
		return idClaims{}, idTokenError("its nonce is not the sign-in's", "start a new sign-in: an id token is accepted only by the sign-in that asked for it")
	case cl.Ver != "2.0":
		return idClaims{}, idTokenError("it is not a v2.0 id token", "sign users in through the v2.0 endpoint (entra does)")
	}
	now := c.now()
	if cl.Exp == nil || !now.Before(unixTime(*cl.Exp).Add(idTokenSkew)) {
		return idClaims{}, idTokenError("it has expired", "check this machine's clock")
	}
	if cl.Nbf != nil && now.Add(idTokenSkew).Before(unixTime(*cl.Nbf)) || cl.Iat != nil && now.Add(idTokenSkew).Before(unixTime(*cl.Iat)) {
		return idClaims{}, idTokenError("it is not valid yet", "check this machine's clock")
	}
	return cl, nil
}

// issuer returns the issuer the tenant's OpenID metadata names.
func (c *idTokenChecker) issuer(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metadataURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fromFlowError("sign-in", err)
	}
	defer resp.Body.Close()
	var m struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil || m.Issuer == "" {
		return "", &Error{Op: "sign-in", StatusCode: resp.StatusCode, Code: "invalid_metadata",
			Description: "the tenant's OpenID metadata has no issuer", Hint: "check the tenant ID and the authority host", Err: ErrInvalidIDToken}
	}
	return m.Issuer, nil
}

func idTokenError(why, hint string) *Error {
	return &Error{Op: "sign-in", Code: "invalid_id_token", Description: "the sign-in's id token was refused: " + why,
		Hint: hint, Err: ErrInvalidIDToken}
}

// unixTime converts a NumericDate claim, clamped to [1970, year 5138].
func unixTime(f float64) time.Time {
	return time.Unix(int64(min(max(f, 0), 1e11)), 0)
}
