package entra_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra"
)

// FuzzInspect feeds Inspect arbitrary text and arbitrary claims: it must
// never panic, must answer with a report or an ErrNotJWT error, and no
// report or error may hold the token's signature.
func FuzzInspect(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	f.Add(enc([]byte(`{"alg":"RS256","nonce":"n"}`)) + "." + enc([]byte(`{"aud":"https://graph.microsoft.com","iss":"https://sts.windows.net/t/","appid":"a","exp":1e9}`)) + ".c2lnbmF0dXJlLXNlY3JldA")
	f.Add("eyJ.eyJ.x")
	f.Add("a.b.c.d.e")
	f.Add("<saml/>")
	f.Add(enc([]byte(`{"uid":"u","utid":"t"}`)))
	f.Add(enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"aud":[1,"x"],"exp":"x","nbf":-1,"roles":{"a":1}}`)) + ".")
	f.Fuzz(func(t *testing.T, raw string) {
		for _, in := range []string{raw, enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(raw)) + ".c2lnbmF0dXJlLXNlY3JldA"} {
			r, err := entra.InspectWith(in, &entra.InspectOptions{TargetURL: "https://graph.microsoft.com/v1.0/me",
				Audience: "api://x", MiddleTierClientID: "m", AcceptedVersion: 2, Now: time.Unix(1e9, 0)})
			if err != nil {
				if r != nil || !strings.HasPrefix(err.Error(), "entra: inspect: ") {
					t.Fatalf("Inspect: report %v, error %q", r, err)
				}
				if strings.Contains(err.Error(), "c2lnbmF0dXJlLXNlY3JldA") {
					t.Fatalf("error holds the signature: %v", err)
				}
				continue
			}
			for _, fi := range r.Findings {
				if fi.Code == "" || fi.Severity == "" || strings.Contains(fi.Message, "c2lnbmF0dXJlLXNlY3JldA") {
					t.Fatalf("finding %+v", fi)
				}
			}
		}
	})
}
