// Command cli-browser signs a user in through the browser, as a CLI or a
// desktop app on a workstation does (authorization code with PKCE and a
// loopback listener), then calls Microsoft Graph /v1.0/me for the user.
//
// With no environment it is self-contained: it starts an embedded Entra ID
// emulator, and its "browser" is an automated one that loads the sign-in
// page (the emulator signs the demo user in at once) and submits the
// answer to the loopback listener, as a real browser would.
//
//	go run ./examples/cli-browser
//
// Against a real tenant, set AZURE_TENANT_ID and AZURE_CLIENT_ID (a public
// client with the redirect URI http://localhost): the system browser opens.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
)

func main() { os.Exit(run(os.Stdout)) }

// run signs in and calls Graph; it returns the exit code.
func run(out io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tenantID, clientID := os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID")
	var opts entra.Options
	var open func(context.Context, string) error // nil: the system browser
	if tenantID == "" {
		srv, err := entratest.NewServer(nil)
		if err != nil {
			fmt.Fprintln(out, err)
			return 1
		}
		defer srv.Close()
		demo, err := srv.SeedDemo()
		if err != nil {
			fmt.Fprintln(out, err)
			return 1
		}
		cloud, err := entra.Public.WithAuthorityHost(srv.URL)
		if err == nil {
			cloud, err = cloud.WithGraphURL(srv.GraphURL())
		}
		if err != nil {
			fmt.Fprintln(out, err)
			return 1
		}
		tenantID, clientID = demo.TenantID, demo.PublicClient.ClientID
		opts = entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true}
		open = automatedBrowser(srv.Client())
	}
	cred, err := entra.NewBrowserCredential(tenantID, clientID, "http://localhost", open, &opts)
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
	fmt.Fprintln(out, "signed in:", acct.Username)
	resp, err := cred.Client(ctx, acct, "User.Read").Get(cred.Cloud().GraphURL() + "/v1.0/me")
	if err != nil {
		fmt.Fprintln(out, err)
		return 2
	}
	defer resp.Body.Close()
	var me struct{ DisplayName string }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&me) != nil {
		fmt.Fprintln(out, "Graph /v1.0/me answered", resp.Status)
		return 2
	}
	fmt.Fprintln(out, "Graph /v1.0/me:", me.DisplayName)
	return 0
}

var (
	formAction = regexp.MustCompile(`action="([^"]*)"`)
	formField  = regexp.MustCompile(`name="([^"]*)" value="([^"]*)"`)
)

// automatedBrowser returns an open function that does what a browser does
// with the emulator's sign-in page: load it (hc trusts the emulator) and
// submit its auto-posting form to the app's loopback listener.
func automatedBrowser(hc *http.Client) func(context.Context, string) error {
	return func(ctx context.Context, authURL string) error {
		resp, err := hc.Get(authURL)
		if err != nil {
			return err
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		action := formAction.FindSubmatch(page)
		if action == nil {
			return errors.New("the sign-in page has no form to submit")
		}
		form := url.Values{}
		for _, f := range formField.FindAllSubmatch(page, -1) {
			form.Set(html.UnescapeString(string(f[1])), html.UnescapeString(string(f[2])))
		}
		go func() { // the browser goes on by itself; the app waits on its listener
			if resp, err := http.PostForm(html.UnescapeString(string(action[1])), form); err == nil {
				resp.Body.Close()
			}
		}()
		return nil
	}
}
