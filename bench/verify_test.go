package bench

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// verifier checks access tokens against the emulator's published keys.
type verifier struct {
	keys map[string]*rsa.PublicKey // by kid
}

// newVerifier fetches the demo tenant's JWKS from the emulator.
func (e *env) newVerifier(t *testing.T) *verifier {
	t.Helper()
	resp, err := e.s.Client().Get(e.s.JWKSURL(e.demo.TenantID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS status: got %d, want 200", resp.StatusCode)
	}
	var set struct {
		Keys []struct{ Kty, Kid, N, E string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	v := &verifier{keys: map[string]*rsa.PublicKey{}}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		eb, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(eb) > 4 {
			t.Fatalf("JWKS key %s is malformed", k.Kid)
		}
		v.keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(eb).Int64())}
	}
	if len(v.keys) == 0 {
		t.Fatal("JWKS has no RSA key")
	}
	return v
}

// check verifies that tok is an app-only v2 access token for the demo API,
// issued by the emulator to the demo daemon with the API's app role.
func (v *verifier) check(tok string) error {
	e := theEnv
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k := v.keys[kid]; k != nil {
			return k, nil
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	},
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(e.s.IssuerV2(e.demo.TenantID)),
		jwt.WithAudience(e.demo.API.ClientID),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(time.Minute),
	)
	if err != nil {
		return fmt.Errorf("token does not verify: %w", err)
	}
	if got, want := claims["azp"], e.demo.Daemon.ClientID; got != want {
		return fmt.Errorf("azp: got %v, want %v", got, want)
	}
	if got, want := claims["tid"], e.demo.TenantID; got != want {
		return fmt.Errorf("tid: got %v, want %v", got, want)
	}
	roles, _ := claims["roles"].([]any)
	if !slices.Contains(roles, any(e.demo.API.Role)) {
		return fmt.Errorf("roles: got %v, want it to contain %s", roles, e.demo.API.Role)
	}
	if _, ok := claims["scp"]; ok {
		return fmt.Errorf("app-only token carries scp %v", claims["scp"])
	}
	return nil
}
