package entra

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// Two instances (each with its own random hash seeds) give an assertion's
// entry the same Store key, also when its in-memory account holds a 0
// byte (one in 16 accounts): the scopes were once cut at the first 0
// byte, so such an entry was saved under a key of that process alone and
// never shared (found by store/redis TestOBOInstancesShareRedisStickyUsers:
// 1,471 requests for 1,000 users).
func TestOBOStoreKeySameAcrossInstances(t *testing.T) {
	newCred := func() *OnBehalfOfCredential {
		c, err := NewOnBehalfOfCredential("6f1e7b5a-1c2d-4e3f-9a8b-0c1d2e3f4a5b", "1b2c3d4e-0004-4000-8000-00000000b001",
			ClientSecret("not-a-secret"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := newCred(), newCred()
	const scope = "api://1b2c3d4e-0002-4000-8000-00000000a001/access_as_user"
	withZero := 0
	for i := 0; withZero < 20; i++ {
		if i > 100000 {
			t.Fatal("no account with a 0 byte in 100,000 assertions")
		}
		assertion := fmt.Sprintf("eyJhbGciOiJSUzI1NiJ9.user-%d.sig", i)
		acctA, acctB := a.account('a', assertion), b.account('a', assertion)
		if !strings.ContainsRune(string(acctA[:])+string(acctB[:]), 0) {
			continue
		}
		withZero++
		ctx := context.WithValue(context.Background(), assertionKey{}, assertion)
		ka := a.storeKeyOf(ctx, string(acctA[:])+"\x00"+scope)
		kb := b.storeKeyOf(ctx, string(acctB[:])+"\x00"+scope)
		if ka != kb {
			t.Fatalf("assertion %d: store keys differ between instances:\n%q\n%q", i, ka, kb)
		}
		if want := a.storePrefix + "a/" + sha256Key(assertion) + "/" + scope; ka != want {
			t.Fatalf("store key %q, want %q", ka, want)
		}
	}
}
