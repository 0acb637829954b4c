package entra

import (
	"context"
	"testing"
	"time"

	"github.com/entrakit/entra/entratest"
)

// TestAccountsDoesNotWaitForRefreshes is a regression test (found by review). Before the fix:
// Accounts takes each account's turn (accountBook.list) with
// no ctx and no timeout, so it waits for every refresh in flight, one
// account after another: a slow token endpoint (here 3 s; up to
// FetchTimeout each in production) stalls an admin page listing users,
// and Accounts' ctx cannot bound it.
func TestAccountsDoesNotWaitForRefreshes(t *testing.T) {
	t.Parallel()
	m := newUserEmu(t, shortLived)
	w := newWebEnvOn(t, m, nil)
	if _, err := w.signIn(t, ""); err != nil {
		t.Fatal(err)
	}
	acct, _ := w.app.Accounts(context.Background())
	m.s.InjectFault(entratest.EndpointToken, entratest.Fault{Delay: 3 * time.Second})
	go w.app.Token(context.Background(), acct[0], "User.Read") // a refresh, slow at Entra
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	w.app.Accounts(ctx)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Accounts took %v (its ctx allowed 100ms): it waited for another user's refresh at Entra", took.Round(time.Millisecond))
	}
}
