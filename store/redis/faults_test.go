package redisstore_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	redisstore "github.com/entrakit/entra/store/redis"
)

// directory is an emulator with one daemon app allowed tokens for a few
// APIs.
type directory struct {
	srv      *entratest.Server
	tenantID string
	clientID string
	scopes   []string
}

func newDirectory(t testing.TB, resources int) *directory {
	t.Helper()
	srv := entratest.NewTestServer(t, nil)
	d := &directory{srv: srv, tenantID: "6f1e7b5a-1c2d-4e3f-9a8b-00000000bbbb", clientID: "00000000-0000-4000-8000-000000300000"}
	if err := srv.AddTenant(entratest.Tenant{ID: d.tenantID}); err != nil {
		t.Fatal(err)
	}
	var grants []entratest.Grant
	for i := range resources {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 300001+i)
		if err := srv.AddApp(d.tenantID, entratest.App{ClientID: id, AppIDURI: "api://" + id, AppRoles: []string{"Data.Read"}, AccessTokenAcceptedVersion: 2}); err != nil {
			t.Fatal(err)
		}
		grants = append(grants, entratest.Grant{Resource: id, AppRoles: []string{"Data.Read"}, AdminConsent: true})
		d.scopes = append(d.scopes, "api://"+id+"/.default")
	}
	if err := srv.AddApp(d.tenantID, entratest.App{ClientID: d.clientID, Secrets: []entratest.Secret{{Value: "s3cret"}}, Grants: grants}); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *directory) credential(t testing.TB, st entra.Store, logger *slog.Logger) *entra.Credential {
	t.Helper()
	cloud, err := entra.Public.WithAuthorityHost(d.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.srv.CertPool(), MinVersion: tls.VersionTLS12}}}
	opts := &entra.Options{Cloud: cloud, HTTPClient: hc, DisableInstanceDiscovery: true, Logger: logger}
	if st != nil {
		opts.Store = st
	}
	cred, err := entra.NewClientSecretCredential(d.tenantID, d.clientID, "s3cret", opts)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// tally counts token calls while Redis misbehaves.
type tally struct {
	calls, fails, late atomic.Int64
	worst              atomic.Int64 // nanoseconds
}

// hammer makes token calls until stop is closed: each round a new
// credential (an empty L1, so every call goes to the store) asks for
// every scope, each call with a deadline of callBudget.
func hammer(t *testing.T, d *directory, st entra.Store, logger *slog.Logger, stop <-chan struct{}, tl *tally) {
	const callBudget = time.Second
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cred := d.credential(t, st, logger)
				for _, scope := range d.scopes {
					ctx, cancel := context.WithTimeout(context.Background(), callBudget)
					start := time.Now()
					_, err := cred.Token(ctx, scope)
					took := time.Since(start)
					cancel()
					tl.calls.Add(1)
					if err != nil {
						tl.fails.Add(1)
						t.Errorf("token call failed: %v", err)
					}
					if took > callBudget+50*time.Millisecond {
						tl.late.Add(1)
					}
					for w := tl.worst.Load(); int64(took) > w && !tl.worst.CompareAndSwap(w, int64(took)); w = tl.worst.Load() {
					}
				}
				cred.Close()
			}
		}()
	}
	wg.Wait()
}

// Redis stopped mid-run, paused (SIGSTOP) beyond its timeout, flushed,
// holding corrupt values and values sealed with another key: every token
// call succeeds within its deadline + 50 ms; each outage is logged once
// when it starts and once when it ends; the store recovers by itself.
func TestFaultsNeverFailTokenCalls(t *testing.T) {
	p := startRedis(t)
	d := newDirectory(t, 8)
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	prefix := uniquePrefix(t)
	key := randomKey(t)
	st := newStore(t, p.Addr(), ring(t, key), &redisstore.Options{Prefix: prefix, Logger: logger})
	raw := p.client(t)
	ctx := context.Background()

	stop := make(chan struct{})
	tl := &tally{}
	done := make(chan struct{})
	go func() { hammer(t, d, st, logger, stop, tl); close(done) }()

	phase := func(name string, f func()) {
		before, fetched := tl.calls.Load(), d.srv.GrantCount("client_credentials")
		f()
		t.Logf("%-28s %4d calls, %3d token requests to the emulator", name, tl.calls.Load()-before, d.srv.GrantCount("client_credentials")-fetched)
	}
	phase("healthy", func() { time.Sleep(700 * time.Millisecond) })
	phase("stopped, then restarted", func() {
		p.Stop()
		time.Sleep(2 * time.Second)
		p.start()
		time.Sleep(1500 * time.Millisecond)
	})
	phase("paused 2s (SIGSTOP)", func() {
		p.Pause()
		time.Sleep(2 * time.Second)
		p.Resume()
		time.Sleep(1500 * time.Millisecond)
	})
	phase("FLUSHALL", func() {
		raw.FlushAll(ctx)
		time.Sleep(700 * time.Millisecond)
	})
	keys := func() []string {
		ks, err := raw.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	phase("corrupt values", func() {
		for _, k := range keys() {
			raw.Set(ctx, k, "\xe1corrupt-corrupt-corrupt-corrupt-corrupt", time.Minute)
		}
		time.Sleep(700 * time.Millisecond)
	})
	phase("another encryption key", func() {
		other := newStore(t, p.Addr(), ring(t), &redisstore.Options{Prefix: prefix})
		for _, k := range keys() {
			other.Save(ctx, strings.TrimPrefix(k, prefix), []byte(`{"access_token":"x"}`), time.Minute)
		}
		time.Sleep(700 * time.Millisecond)
	})
	close(stop)
	<-done

	t.Logf("%d token calls, %d failed, %d later than deadline+50ms, slowest %v",
		tl.calls.Load(), tl.fails.Load(), tl.late.Load(), time.Duration(tl.worst.Load()).Round(time.Millisecond))
	if tl.fails.Load() != 0 || tl.late.Load() != 0 || tl.calls.Load() < 100 {
		t.Fatalf("token calls: %d, failed %d, late %d; want 100%% success within the deadline", tl.calls.Load(), tl.fails.Load(), tl.late.Load())
	}
	if n := logs.Count("redis store unreachable"); n != 2 {
		t.Errorf("outage warnings: %d, want 2 (one per outage)\n%s", n, logs)
	}
	if n := logs.Count("redis store reachable again"); n != 2 {
		t.Errorf("recovery logs: %d, want 2", n)
	}
	for _, noisy := range []string{"store load failed", "store save failed"} {
		if n := logs.Count(noisy); n != 0 {
			t.Errorf("%q logged %d times: an outage must be logged once, not per call", noisy, n)
		}
	}
	t.Logf("cache's own store-timeout warnings: %d", logs.Count("store load timed out"))
	// Recovered: every value left in Redis is one of ours again.
	good := 0
	for _, k := range keys() {
		if _, err := st.Load(ctx, strings.TrimPrefix(k, prefix)); err == nil {
			good++
		}
	}
	if good != len(d.scopes) {
		t.Errorf("after the faults, %d of %d entries in Redis are readable; the next saves should have replaced the bad ones", good, len(d.scopes))
	}
}
