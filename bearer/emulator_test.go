package bearer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/bearer"
	"github.com/entrakit/entra/entratest"
)

func TestEmulatorTokens(t *testing.T) {
	srv, demo, cloud := emulator(t, &entratest.Options{AutoApproveUser: "alice@contoso.onmicrosoft.com"})
	v, err := bearer.New(demo.TenantID, demo.API.ClientID, &bearer.Options{Cloud: cloud, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	app := appToken(t, srv, demo, cloud, demo.API.AppIDURI+"/.default")
	c, err := v.Validate(ctx, app)
	if err != nil {
		t.Fatalf("app-only token: %v", err)
	}
	if !c.AppOnly() || !c.HasRole(demo.API.Role) || c.ClientID != demo.Daemon.ClientID || c.Version != "2.0" || c.Assertion() != app {
		t.Errorf("app-only claims %v roles %v client %q", c, c.Roles, c.ClientID)
	}

	user := userToken(t, srv, demo, demo.API.Scope)
	c, err = v.Validate(ctx, user)
	if err != nil {
		t.Fatalf("user token: %v", err)
	}
	if c.AppOnly() || !c.HasScope("access_as_user") || c.ObjectID != demo.User.ObjectID {
		t.Errorf("user claims %v scopes %v", c, c.Scopes)
	}
	if s := c.String(); strings.Contains(s, user[:20]) || !strings.Contains(s, "REDACTED") {
		t.Errorf("String() = %q: must redact the assertion", s)
	}

	graph := userToken(t, srv, demo, "https://graph.microsoft.com/User.Read")
	_, err = v.Validate(ctx, graph)
	var be *bearer.Error
	if !errors.As(err, &be) || !errors.Is(err, bearer.ErrGraphToken) || be.Status != 401 ||
		!strings.Contains(be.Hint, demo.API.AppIDURI+"/<scope>") {
		t.Fatalf("Graph token: got %v, want ErrGraphToken naming %s", err, demo.API.AppIDURI)
	}
	if !slices.ContainsFunc(be.Findings, func(f entra.Finding) bool { return f.Code == entra.CodeGraphTokenForAPI }) {
		t.Errorf("Graph token rejection findings %v, want %s", be.Findings, entra.CodeGraphTokenForAPI)
	}

	// A token for another API of the tenant.
	other := userToken(t, srv, demo, demo.OBOAPI.Scope)
	if _, err := v.Validate(ctx, other); !errors.Is(err, bearer.ErrAudience) {
		t.Fatalf("token for another API: got %v, want ErrAudience", err)
	}

	// Key rotation: a token of a new key is accepted after one refetch.
	kid, err := srv.AddSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	c, err = v.Validate(ctx, appToken(t, srv, demo, cloud, demo.API.AppIDURI+"/.default"))
	if err != nil || c.KeyID != kid {
		t.Fatalf("token of a new signing key: %v (want kid %s)", err, kid)
	}
}

func TestEmulatorV1TokenAndSovereignCloud(t *testing.T) {
	for _, tc := range []struct {
		emu   entratest.Cloud
		cloud string
	}{{entratest.CloudPublic, "public"}, {entratest.CloudChina, "china"}, {entratest.CloudUSGov, "usgov"}} {
		t.Run(tc.cloud, func(t *testing.T) {
			srv, demo, _ := emulator(t, &entratest.Options{Cloud: tc.emu})
			preset, _ := cloudByName(tc.cloud)
			cloud, err := preset.WithAuthorityHost(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			const v1API = "1b2c3d4e-0009-4000-8000-0000000000f1"
			if err := srv.AddApp(demo.TenantID, entratest.App{ClientID: v1API, AppIDURI: "api://" + v1API, AppRoles: []string{"R"}}); err != nil {
				t.Fatal(err)
			}
			if err := srv.AddApp(demo.TenantID, entratest.App{ClientID: "1b2c3d4e-0009-4000-8000-0000000000f2",
				Secrets: []entratest.Secret{{Value: "s"}}, Grants: []entratest.Grant{{Resource: v1API, AppRoles: []string{"R"}, AdminConsent: true}}}); err != nil {
				t.Fatal(err)
			}
			v, err := bearer.New(demo.TenantID, v1API, &bearer.Options{Cloud: cloud, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			tok := secretToken(t, srv, demo.TenantID, cloud, "1b2c3d4e-0009-4000-8000-0000000000f2", "s", "api://"+v1API+"/.default")
			c, err := v.Validate(context.Background(), tok)
			if err != nil {
				t.Fatalf("v1 token: %v", err)
			}
			if c.Version != "1.0" || c.Issuer != cloud.IssuerV1(demo.TenantID) || !c.HasRole("R") {
				t.Errorf("claims ver %q iss %q roles %v", c.Version, c.Issuer, c.Roles)
			}
			// The same token checked as another cloud's: wrong issuer.
			if tc.cloud != "public" {
				pub, _ := cloudByName("public")
				pub, _ = pub.WithAuthorityHost(srv.URL)
				w, _ := bearer.New(demo.TenantID, v1API, &bearer.Options{Cloud: pub, HTTPClient: srv.Client()})
				if _, err := w.Validate(context.Background(), tok); !errors.Is(err, bearer.ErrIssuer) && !errors.Is(err, bearer.ErrKeyIssuer) {
					t.Errorf("token of %s checked as public: got %v, want an issuer error", tc.cloud, err)
				}
			}
		})
	}
}
