// Command cli-devicecode signs a user in with the device code flow, as a
// CLI on a machine without a browser does, then calls Microsoft Graph
// /v1.0/me for the signed-in user in the chosen cloud, and a second API
// silently with the same sign-in.
//
// With no environment it is self-contained: it starts an embedded Entra ID
// emulator (package entratest) of the chosen cloud, which approves the
// code for the demo user as soon as it is shown, and serves Graph.
//
//	go run ./examples/cli-devicecode
//	go run ./examples/cli-devicecode -cloud china
//
// Against a real tenant, set AZURE_TENANT_ID (or "organizations") and
// AZURE_CLIENT_ID (a public client with "Allow public client flows"), and
// open the printed URL on any device to sign in.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

func main() {
	cloud := flag.String("cloud", "public", "cloud: public, china, usgov, usgovdod or germany")
	flag.Parse()
	os.Exit(run(*cloud, os.Stdout))
}

// run signs in and calls Graph; it returns the exit code.
func run(cloudName string, out io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tenantID, clientID, apiScope, opts, stop, err := setup(cloudName)
	if err != nil {
		fmt.Fprintln(out, "setup:", err)
		return 1
	}
	defer stop()
	cred, err := entra.NewDeviceCodeCredential(tenantID, clientID, func(_ context.Context, dc entra.DeviceCode) error {
		fmt.Fprintln(out, dc.Message) // "To sign in, use a web browser to open ... and enter the code ..."
		return nil
	}, &opts)
	if err != nil {
		fmt.Fprintln(out, err)
		return 1
	}
	defer cred.Close()

	acct, err := cred.SignIn(ctx, "User.Read")
	if err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	fmt.Fprintf(out, "signed in: %s (%s)\n", acct.Username, cred.Cloud().Name())

	// Graph of the credential's own cloud, with the user's token.
	resp, err := cred.Client(ctx, acct, "User.Read").Get(cred.Cloud().GraphURL() + "/v1.0/me")
	if err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	defer resp.Body.Close()
	var me struct {
		ID                string `json:"id"`
		DisplayName       string `json:"displayName"`
		UserPrincipalName string `json:"userPrincipalName"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&me) != nil {
		fmt.Fprintln(out, "Graph /v1.0/me answered", resp.Status)
		return 2
	}
	fmt.Fprintf(out, "Graph /v1.0/me: %s <%s>\n", me.DisplayName, me.UserPrincipalName)

	// Another API, silently: Entra's refresh tokens cover every resource.
	if apiScope != "" {
		if _, err := cred.Token(ctx, acct, apiScope); err != nil {
			fmt.Fprintln(out, err)
			return 2
		}
		fmt.Fprintln(out, "token for", apiScope, "without another sign-in")
	}
	return 0
}

// setup returns the tenant, client and options: a real tenant's from the
// environment, else an embedded emulator's (and a function to stop it).
func setup(cloudName string) (tenantID, clientID, apiScope string, opts entra.Options, stop func(), err error) {
	cloud, err := entra.CloudByName(cloudName)
	if err != nil {
		return "", "", "", opts, nil, err
	}
	if t := os.Getenv("AZURE_TENANT_ID"); t != "" {
		return t, os.Getenv("AZURE_CLIENT_ID"), os.Getenv("ENTRA_API_SCOPE"), entra.Options{Cloud: cloud}, func() {}, nil
	}
	srv, err := entratest.NewServer(&entratest.Options{Cloud: entratest.Cloud(cloud.Name())})
	if err != nil {
		return "", "", "", opts, nil, err
	}
	demo, err := srv.SeedDemo()
	if err == nil {
		srv.SetAutoApproveUser(demo.User.Username) // the user signs in as soon as the code is shown
		cloud, err = cloud.WithAuthorityHost(srv.URL)
	}
	if err == nil {
		cloud, err = cloud.WithGraphURL(srv.GraphURL())
	}
	if err != nil {
		srv.Close()
		return "", "", "", opts, nil, err
	}
	opts = entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true}
	return demo.TenantID, demo.PublicClient.ClientID, demo.API.Scope, opts, srv.Close, nil
}
