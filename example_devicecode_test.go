package entra_test

import (
	"context"
	"fmt"
	"log"

	"github.com/entrakit/entra"
)

// A CLI signs a user in with the device code flow, then gets tokens for
// Microsoft Graph and another API silently. The emulator approves the code
// for its demo user as soon as it is issued; a real user would open
// dc.VerificationURI on any device and enter dc.UserCode.
func ExampleNewDeviceCodeCredential() {
	srv, demo, opts := startEmulator()
	defer srv.Close()
	srv.SetAutoApproveUser(demo.User.Username)

	cred, err := entra.NewDeviceCodeCredential(demo.TenantID, demo.PublicClient.ClientID,
		func(_ context.Context, dc entra.DeviceCode) error {
			fmt.Println("prompt shown:", dc.UserCode != "" && dc.VerificationURI != "")
			return nil
		}, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer cred.Close()
	ctx := context.Background()
	acct, err := cred.SignIn(ctx, "User.Read")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in:", acct.Username)
	// Another API: no new sign-in, the account's refresh token is enough.
	tok, err := cred.Token(ctx, acct, demo.API.Scope)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("API token:", tok.Valid())
	// Output:
	// prompt shown: true
	// signed in: alice@contoso.onmicrosoft.com
	// API token: true
}
