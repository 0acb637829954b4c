package entra_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/golang-jwt/jwt/v5"
)

// benchTokens are 256 distinct realistic tokens (random GUIDs, Entra's
// usual claims), read in random order.
func benchTokens(b *testing.B) []string {
	r := rand.New(rand.NewPCG(1, 2))
	guid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
	}
	toks := make([]string, 256)
	for i := range toks {
		tid := guid()
		toks[i] = makeJWT(b, map[string]any{"typ": "JWT", "alg": "RS256", "kid": guid()}, map[string]any{
			"aud": "api://" + guid(), "iss": "https://login.microsoftonline.com/" + tid + "/v2.0", "iat": 1700000000, "nbf": 1700000000,
			"exp": 1700003600, "aio": guid(), "azp": guid(), "azpacr": "1", "name": "Sample User", "oid": guid(),
			"preferred_username": "user@contoso.com", "rh": guid(), "scp": "access_as_user Orders.Read", "sub": guid(),
			"tid": tid, "uti": guid(), "ver": "2.0", "groups": []string{guid(), guid(), guid()},
		})
	}
	return toks
}

// BenchmarkInspectFindings is what a transport pays to explain a 401;
// BenchmarkParseUnverifiedBaseline is the same decode with golang-jwt
// (no findings), measured beside it.
func BenchmarkInspectFindings(b *testing.B) {
	toks := benchTokens(b)
	r := rand.New(rand.NewPCG(3, 4))
	opts := &entra.InspectOptions{TargetURL: "https://api.contoso.example/orders", Now: time.Unix(1700000600, 0)}
	b.ReportAllocs()
	for b.Loop() {
		_ = entra.InspectFindings(toks[r.IntN(len(toks))], opts)
	}
}

func BenchmarkParseUnverifiedBaseline(b *testing.B) {
	toks := benchTokens(b)
	r := rand.New(rand.NewPCG(3, 4))
	p := jwt.NewParser()
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = p.ParseUnverified(toks[r.IntN(len(toks))], jwt.MapClaims{})
	}
}
