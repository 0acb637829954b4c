package jwks_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/entrakit/entra/internal/jwks"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary tokens to Verify over a loaded, static key
// set: it must never panic, every error must wrap a sentinel, and whatever
// it accepts must verify independently with the provider's key.
func FuzzVerify(f *testing.F) {
	p := newProvider(f)
	clk := newFakeClock()
	s := jwks.New(p.metadataURL(), jwks.Options{HTTPClient: p.srv.Client(), Clock: clk.Now})
	priv := p.keys[0].priv
	valid := sign(f, priv, "k1", claims())
	if _, err := s.Verify(context.Background(), valid); err != nil {
		f.Fatal(err)
	}
	// Every unknown kid is inside the limiter window from here on: no
	// network during fuzzing.
	_, _ = s.Verify(context.Background(), sign(f, priv, "other", claims()))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims())
	noneRaw, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	for _, seed := range []string{valid, noneRaw, "", ".", "..", "a.b.c", valid + "x", strings.ToUpper(valid),
		b64(`{"alg":"RS256","kid":"k1"}`) + "." + b64(`[[[[[[[[`) + ".AAAA"} {
		f.Add(seed)
	}
	sentinels := []error{jwks.ErrMalformed, jwks.ErrAlgorithm, jwks.ErrUnknownKey, jwks.ErrSignature, jwks.ErrKeyIssuer}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := s.Verify(context.Background(), raw)
		if err != nil {
			for _, e := range sentinels {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		jws, perr := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
		if perr != nil {
			t.Fatalf("accepted a token go-jose cannot parse: %v", perr)
		}
		payload, verr := jws.Verify(&priv.PublicKey)
		if verr != nil || string(payload) != string(v.Payload) {
			t.Fatalf("accepted a token that does not verify: %v", verr)
		}
	})
}
