package entra

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// FuzzClaimsChallenge: any WWW-Authenticate value is parsed without a
// panic, and an accepted challenge always yields bounded, valid JSON.
func FuzzClaimsChallenge(f *testing.F) {
	enc := base64.StdEncoding.EncodeToString([]byte(challengeClaims))
	for _, seed := range []string{
		`Bearer realm="", error="insufficient_claims", claims="` + enc + `"`,
		`Bearer error="insufficient_claims", claims=` + enc,
		`Basic realm="x", Bearer error="insufficient_claims", claims="` + enc + `"`,
		`Bearer error="insufficient_claims", claims="\"`,
		`bearer ERROR=insufficient_claims,claims="e30="`,
		`Bearer error="insufficient_claims", claims="` + base64.RawURLEncoding.EncodeToString([]byte(`{"a":1}`)) + `"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		claims, ok := claimsChallenge([]string{header})
		if !ok {
			return
		}
		if !json.Valid([]byte(claims)) || len(claims) > maxClaims {
			t.Fatalf("accepted claims %q: want valid JSON of at most %d bytes", claims, maxClaims)
		}
	})
}
