package entra_test

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/entrakit/entra"
)

// A Microsoft Graph token (as in the seed questions: its header has a
// nonce) about to be sent to one's own API. Inspect reads it without
// verifying it and says why the API will refuse it.
func ExampleInspectWith() {
	enc := base64.RawURLEncoding.EncodeToString
	token := enc([]byte(`{"typ":"JWT","alg":"RS256","nonce":"Q0_yoiMxqlPUMkBaOwh8vBgM5vir9TkhbVpGQfaZP_8"}`)) + "." +
		enc([]byte(`{"aud":"https://graph.microsoft.com","iss":"https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",`+
			`"appid":"8a1d5e0c-3f2b-4c6d-9e7f-1a2b3c4d5e6f","scp":"openid profile User.Read","ver":"1.0",`+
			`"tid":"72f988bf-86f1-41af-91ab-2d7cd011db47","nbf":1700000000,"exp":1700003600}`)) + ".c2ln"

	r, err := entra.InspectWith(token, &entra.InspectOptions{
		TargetURL: "https://api.contoso.example/orders",
		Now:       time.Unix(1700000600, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Kind, r.Version, r.Cloud, r.AudienceKind, "app-only:", r.AppOnly, "left:", r.Remaining, "verified:", r.Verified)
	for _, f := range r.Findings {
		fmt.Println(f.Severity, f.Code)
	}
	// Output:
	// access_token 1.0 public microsoft_graph app-only: false left: 50m0s verified: false
	// error graph-token-for-api
}

// Scopes of two resources in one request: Entra issues a token for one of
// them only.
func ExampleCheckScopes() {
	for _, f := range entra.CheckScopes(entra.Public, "api://my-api/access_as_user", "User.Read") {
		fmt.Println(f.Severity, f.Code)
	}
	// Output:
	// error multiple-resources
}

// A personal Microsoft account's Graph id and its token's oid.
func ExampleSameUser() {
	fmt.Println(entra.SameUser("0123456789abcdef", "00000000-0000-0000-0123-456789abcdef"))
	// Output:
	// true
}
