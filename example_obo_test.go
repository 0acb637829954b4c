package entra_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/entrakit/entra"
)

// A web API (the middle tier) calls a downstream API as the user who
// called it. The user's token to this API arrives in the Authorization
// header (here a client gets one from the emulator); one
// OnBehalfOfCredential per app exchanges it, caches the result per user,
// and refuses a token that cannot work (here the user's Graph token)
// before any request.
func ExampleNewOnBehalfOfCredential() {
	srv, demo, opts := startEmulator()
	defer srv.Close()
	ctx := context.Background()

	// The client side: the user signs in and gets a token for the
	// middle tier's own scope, api://<middle tier>/access_as_user.
	srv.SetAutoApproveUser(demo.User.Username)
	client, err := entra.NewDeviceCodeCredential(demo.TenantID, demo.PublicClient.ClientID,
		func(context.Context, entra.DeviceCode) error { return nil }, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	acct, err := client.SignIn(ctx, demo.OBOAPI.Scope)
	if err != nil {
		log.Fatal(err)
	}
	incoming, err := client.Token(ctx, acct, demo.OBOAPI.Scope)
	if err != nil {
		log.Fatal(err)
	}

	// The middle tier: one credential for the app, the assertion per call.
	obo, err := entra.NewOnBehalfOfCredential(demo.TenantID, demo.OBOAPI.ClientID,
		entra.ClientSecret(demo.OBOAPI.ClientSecret), &entra.OnBehalfOfOptions{Options: *opts})
	if err != nil {
		log.Fatal(err)
	}
	defer obo.Close()
	tok, err := obo.Token(ctx, incoming.AccessToken, demo.API.Scope)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("downstream token:", tok.Valid())

	// A client that forwards its Graph token gets told what to do, at once.
	graphTok, err := client.Token(ctx, acct, "User.Read")
	if err != nil {
		log.Fatal(err)
	}
	_, err = obo.Token(ctx, graphTok.AccessToken, demo.API.Scope)
	var e *entra.Error
	if errors.As(err, &e) && errors.Is(err, entra.ErrBadAssertion) {
		fmt.Println("refused:", e.Code)
	}
	// Output:
	// downstream token: true
	// refused: assertion_for_graph
}
