package bearer_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/bearer"
	"github.com/entrakit/entra/entratest"
)

func ExampleValidator_Middleware() {
	// The emulator stands in for Entra ID; against real Entra leave
	// Options.Cloud and HTTPClient unset.
	srv, err := entratest.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	demo, err := srv.SeedDemo()
	if err != nil {
		log.Fatal(err)
	}
	cloud, err := entra.Public.WithAuthorityHost(srv.URL)
	if err != nil {
		log.Fatal(err)
	}

	// The API: validate every request, require the Data.Read.All app role.
	v, err := bearer.New(demo.TenantID, demo.API.ClientID, &bearer.Options{Cloud: cloud, HTTPClient: srv.Client()})
	if err != nil {
		log.Fatal(err)
	}
	api := httptest.NewServer(v.Middleware(v.RequireRoles("Data.Read.All")(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := bearer.FromContext(r.Context())
			fmt.Fprintf(w, "hello app %s", c.ClientID)
		}))))
	defer api.Close()

	// A client: an app-only token for the API's scope.
	cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret,
		&entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := cred.Token(context.Background(), demo.API.AppIDURI+"/.default")
	if err != nil {
		log.Fatal(err)
	}
	for _, authz := range []string{"Bearer " + tok.AccessToken, ""} {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		var body [64]byte
		n, _ := resp.Body.Read(body[:])
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Println(resp.StatusCode, string(body[:n]))
		} else {
			fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// Output:
	// 200 hello app 1b2c3d4e-0001-4000-8000-00000000d001
	// 401 Bearer realm="api://1b2c3d4e-0002-4000-8000-00000000a001"
}
