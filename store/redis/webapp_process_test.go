package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	redisstore "github.com/entrakit/entra/store/redis"
)

// webAppReg is the demo web app's registration, as a child gets it.
type webAppReg struct{ TenantID, ClientID, Secret, RedirectURI string }

// newWebApp returns the web app reg with opts (its Store keeps the
// accounts).
func newWebApp(opts entra.Options, reg webAppReg) (*entra.WebApp, error) {
	return entra.NewWebApp(reg.TenantID, reg.ClientID, reg.RedirectURI, entra.ClientSecret(reg.Secret), &opts)
}

// runWebAppChild is a web app instance on the Redis store, serving one
// account (ENTRA_CHILD_ACCOUNT). Commands: "new" restarts it (nothing in
// memory); "token <scope>" gets the account's token, answering
// "ok <oid>", "signin <error>" for an error asking for a new sign-in
// (ErrInteractionRequired) or "err <error>".
func runWebAppChild() error {
	var reg webAppReg
	var acct entra.Account
	if err := json.Unmarshal([]byte(os.Getenv("ENTRA_CHILD_APP")), &reg); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(os.Getenv("ENTRA_CHILD_ACCOUNT")), &acct); err != nil {
		return err
	}
	st, err := childStore()
	if err != nil {
		return err
	}
	opts, err := childOptions(st)
	if err != nil {
		return err
	}
	app, err := newWebApp(opts, reg)
	if err != nil {
		return err
	}
	defer func() { app.Close() }()
	answer("ready")
	in := commands()
	for in.Scan() {
		cmd := in.Text()
		if cmd == "new" {
			app.Close()
			if app, err = newWebApp(opts, reg); err != nil {
				return err
			}
			answer("ok")
			continue
		}
		scope, ok := strings.CutPrefix(cmd, "token ")
		if !ok {
			return errors.New("unknown command")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		tok, err := app.Token(ctx, acct, scope)
		cancel()
		switch {
		case errors.Is(err, entra.ErrInteractionRequired):
			answer("signin " + err.Error())
		case err != nil:
			answer("err " + err.Error())
		default:
			answer("ok " + claim(tok.AccessToken, "oid"))
		}
	}
	return in.Err()
}

// A user's account, kept by a web app in Redis, across a FLUSHALL and a
// sign-out, with instances in other processes:
//
//   - FLUSHALL loses the account in Redis: a restarted instance must ask
//     the user to sign in again, but an instance holding the account in
//     memory keeps serving it (cached tokens, and new ones from its
//     refresh token), and its next refresh puts the account back in
//     Redis, for every instance.
//   - A sign-out in one instance leaves a tombstone in Redis: an instance
//     holding the account in memory, with a live refresh token, refuses
//     it at its next refresh without redeeming that token, and a
//     restarted instance refuses it too.
func TestWebAppAccountInRedisAcrossFlushAndSignOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 2 processes")
	}
	p := startRedis(t)
	srv := entratest.NewTestServer(t, &entratest.Options{StrictRefreshTokens: true, TokenLifetime: 4 * time.Minute})
	demo, err := srv.SeedDemo()
	if err != nil {
		t.Fatal(err)
	}
	reg := webAppReg{demo.TenantID, demo.WebApp.ClientID, demo.WebApp.ClientSecret, demo.WebApp.RedirectURI}
	prefix, key := uniquePrefix(t), randomKey(t)
	cloud, err := entra.Public.WithAuthorityHost(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	app, err := newWebApp(entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true,
		Store: newStore(t, p.Addr(), ring(t, key), &redisstore.Options{Prefix: prefix})}, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	acct := signIn(t, srv, app, demo)

	env := childEnv(t, srv, p.Addr(), prefix, key)
	b, _ := json.Marshal(reg)
	env["ENTRA_CHILD_APP"] = string(b)
	b, _ = json.Marshal(acct)
	env["ENTRA_CHILD_ACCOUNT"] = string(b)
	holder := startChild(t, "instance holding the account", "webapp", env)
	other := startChild(t, "restarted instance", "webapp", env)
	ok := "ok " + demo.User.ObjectID
	expect := func(c *child, cmd, want string, redemptions int) {
		t.Helper()
		before := srv.GrantCount("refresh_token")
		got := c.do(cmd)
		if !strings.HasPrefix(got, want) {
			t.Fatalf("%s, %q: %s; want %s...", c.name, cmd, got, want)
		}
		if n := srv.GrantCount("refresh_token") - before; n != redemptions {
			t.Fatalf("%s, %q: %d refresh-token redemptions, want %d", c.name, cmd, n, redemptions)
		}
	}
	expect(holder, "token "+demo.API.Scope, ok, 1) // loaded from Redis, refreshed (4-minute tokens)

	if err := p.client(t).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	expect(other, "token "+demo.API.Scope, "signin ", 0) // Redis lost the account
	expect(holder, "token "+demo.API.Scope, ok, 0)       // its in-memory cache
	expect(holder, "token User.Read", ok, 1)             // its refresh token, in memory; saved again
	expect(other, "new", "ok", 0)
	expect(other, "token "+demo.API.Scope, ok, 1) // back in Redis

	if err := app.SignOut(context.Background(), acct); err != nil {
		t.Fatal(err)
	}
	// other holds the newest refresh token in memory; the tombstone wins.
	expect(other, "token "+demo.OBOAPI.Scope, "signin ", 0)
	expect(holder, "new", "ok", 0)
	expect(holder, "token "+demo.API.Scope, "signin ", 0)
	// What a sign-out elsewhere does not reach: an access token already
	// in another instance's memory is served until it expires.
	t.Logf("after the sign-out, the other instance's cached token: %.40s", other.do("token "+demo.API.Scope))
	for _, r := range srv.Requests() {
		if r.Grant == "refresh_token" && r.Status != http.StatusOK {
			t.Errorf("a refresh token was refused (%d): an instance redeemed a dead one", r.Status)
		}
	}
}

// signIn signs the demo user in to app for the demo API as a browser
// would: StartSignIn, the emulator's /authorize (which signs the user in
// at once and redirects), and the callback request to CompleteSignIn.
func signIn(t testing.TB, srv *entratest.Server, app *entra.WebApp, demo *entratest.Demo) entra.Account {
	t.Helper()
	ctx := context.Background()
	u, pending, err := app.StartSignIn(ctx, &entra.SignInOptions{LoginHint: demo.User.Username}, demo.API.Scope)
	if err != nil {
		t.Fatal(err)
	}
	browser := *srv.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(callback, "code=") {
		t.Fatalf("authorize: %d, redirect %q", resp.StatusCode, callback)
	}
	acct, err := app.CompleteSignIn(ctx, httptest.NewRequest(http.MethodGet, callback, nil), pending)
	if err != nil {
		t.Fatal(err)
	}
	return acct
}
