package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	redisstore "github.com/entrakit/entra/store/redis"
)

// TestSignOutDuringARedisOutageReportsTheFailure is a regression test (found by review). Before the fix:
// WebApp.SignOut during a Redis hiccup returns nil although
// the tombstone never reached Redis (the Redis store's Save answers nil
// for an outage, and the account book trusted that answer), so the
// "store_delete_failed, call SignOut again" error it documents never
// came, and other instances kept serving the user. Now the tombstone is
// read back: SignOut reports the failure, and a second SignOut once Redis
// answers makes every instance refuse the account.
func TestSignOutDuringARedisOutageReportsTheFailure(t *testing.T) {
	p := startRedis(t)
	srv := entratest.NewTestServer(t, &entratest.Options{TokenLifetime: 4 * time.Minute})
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
	opts := func() entra.Options {
		return entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true,
			Store: newStore(t, p.Addr(), ring(t, key), &redisstore.Options{Prefix: prefix})}
	}
	a, err := newWebApp(opts(), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	acct := signIn(t, srv, a, demo)

	// A failover: the node this instance talks to was demoted to a
	// replica for a moment and answers writes with READONLY (an "outage"
	// reply for the Redis store), as during a Sentinel or cluster failover.
	admin := p.client(t)
	if err := admin.ReplicaOf(context.Background(), "127.0.0.1", "1").Err(); err != nil {
		t.Fatal(err)
	}
	err = a.SignOut(context.Background(), acct)
	if err := admin.ReplicaOf(context.Background(), "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if err == nil {
		t.Errorf("SignOut while Redis refused writes returned nil; want the documented store_delete_failed error")
	}
	time.Sleep(1100 * time.Millisecond) // past the store's RetryInterval
	// As the error says: sign out again once the Store answers.
	if err := a.SignOut(context.Background(), acct); err != nil {
		t.Fatalf("SignOut again after the failover: %v", err)
	}
	c, err := newWebApp(opts(), reg) // another instance, or a restart
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tok, err := c.Token(context.Background(), acct, demo.API.Scope); err == nil && tok.AccessToken != "" {
		t.Errorf("after SignOut, another instance still gets tokens for the signed-out account")
	}
}
