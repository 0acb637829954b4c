package store_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/store"
)

// The multi-process tests re-run this test binary as a helper process:
// with ENTRA_STORE_HELPER set, TestMain acquires the tokens described by
// the ENTRA_HELPER_* variables through a File store and exits.
func TestMain(m *testing.M) {
	if os.Getenv("ENTRA_STORE_HELPER") != "" {
		if err := runHelper(); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// directory is an emulator with one tenant, clients daemon apps and
// resources APIs; every client may get a token for every resource.
type directory struct {
	srv       *entratest.Server
	caFile    string
	tenantID  string
	clients   []string // client IDs; the secret of each is "secret-" + ID
	resources []string // scopes: "<App ID URI>/.default"
}

func newDirectory(t testing.TB, clients, resources int) *directory {
	t.Helper()
	srv := entratest.NewTestServer(t, nil)
	d := &directory{srv: srv, tenantID: "6f1e7b5a-1c2d-4e3f-9a8b-00000000aaaa"}
	if err := srv.AddTenant(entratest.Tenant{ID: d.tenantID, Domain: "stores.onmicrosoft.com"}); err != nil {
		t.Fatal(err)
	}
	for i := range resources {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 100000+i)
		if err := srv.AddApp(d.tenantID, entratest.App{ClientID: id, AppIDURI: "api://" + id, AppRoles: []string{"Data.Read"}, AccessTokenAcceptedVersion: 2}); err != nil {
			t.Fatal(err)
		}
		d.resources = append(d.resources, "api://"+id+"/.default")
	}
	for i := range clients {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 200000+i)
		var grants []entratest.Grant
		for j := range resources {
			grants = append(grants, entratest.Grant{Resource: fmt.Sprintf("00000000-0000-4000-8000-%012d", 100000+j), AppRoles: []string{"Data.Read"}, AdminConsent: true})
		}
		if err := srv.AddApp(d.tenantID, entratest.App{ClientID: id, Secrets: []entratest.Secret{{Value: "secret-" + id}}, Grants: grants}); err != nil {
			t.Fatal(err)
		}
		d.clients = append(d.clients, id)
	}
	d.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(d.caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// credential returns a credential of client i using st.
func (d *directory) credential(t testing.TB, i int, st entra.Store) *entra.Credential {
	t.Helper()
	cred, err := helperCredential(d.srv.URL, d.srv.CertPool(), d.tenantID, d.clients[i], st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cred.Close() })
	return cred
}

func helperCredential(url string, pool *x509.CertPool, tenantID, clientID string, st entra.Store) (*entra.Credential, error) {
	cloud, err := entra.Public.WithAuthorityHost(url)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return entra.NewClientSecretCredential(tenantID, clientID, "secret-"+clientID,
		&entra.Options{Cloud: cloud, HTTPClient: hc, DisableInstanceDiscovery: true, Store: st, StoreTimeout: 5 * time.Second})
}

// helperEnv is the environment of a helper process getting tokens for
// client i of d, for scopes, in the File store dir with key.
func (d *directory) helperEnv(i int, scopes []string, dir string, key []byte) []string {
	return append(os.Environ(),
		"ENTRA_STORE_HELPER=tokens",
		"ENTRA_HELPER_URL="+d.srv.URL,
		"ENTRA_HELPER_CA="+d.caFile,
		"ENTRA_HELPER_TENANT="+d.tenantID,
		"ENTRA_HELPER_CLIENT="+d.clients[i],
		"ENTRA_HELPER_SCOPES="+strings.Join(scopes, ","),
		"ENTRA_HELPER_DIR="+dir,
		"ENTRA_HELPER_KEY="+hex.EncodeToString(key),
	)
}

// trackedStore counts a File store's misses and finished saves, so a
// helper can wait for its saves (they run in the background) before it
// exits, and keep few in flight.
type trackedStore struct {
	*store.File
	misses, saves, saveErrs atomic.Int64
}

func (s *trackedStore) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := s.File.Load(ctx, key)
	if err != nil {
		s.misses.Add(1)
	}
	return v, err
}

func (s *trackedStore) Save(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := s.File.Save(ctx, key, value, ttl)
	if err != nil {
		s.saveErrs.Add(1)
	}
	s.saves.Add(1)
	return err
}

// waitSaves waits until every miss has been followed by a finished save,
// or until deadline, while at most max saves are pending.
func (s *trackedStore) waitSaves(max int64, deadline time.Time) error {
	for s.misses.Load()-s.saves.Load() > max {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d saves still pending", s.misses.Load()-s.saves.Load())
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// runHelper is the helper process: one daemon start.
func runHelper() error {
	key, err := hex.DecodeString(os.Getenv("ENTRA_HELPER_KEY"))
	if err != nil {
		return err
	}
	r, err := store.NewKeyRing(key)
	if err != nil {
		return err
	}
	f, err := store.NewFile(r, &store.FileOptions{Dir: os.Getenv("ENTRA_HELPER_DIR")})
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(os.Getenv("ENTRA_HELPER_CA"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	st := &trackedStore{File: f}
	cred, err := helperCredential(os.Getenv("ENTRA_HELPER_URL"), pool, os.Getenv("ENTRA_HELPER_TENANT"), os.Getenv("ENTRA_HELPER_CLIENT"), st)
	if err != nil {
		return err
	}
	defer cred.Close()
	scopes := strings.Split(os.Getenv("ENTRA_HELPER_SCOPES"), ",")
	deadline := time.Now().Add(2 * time.Minute)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		errs = make(chan error, len(scopes))
	)
	for range 4 { // 4 at once, a few saves pending at most: the credential's store slots are never exhausted
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(scopes); i = int(next.Add(1)) - 1 {
				if err := st.waitSaves(6, deadline); err != nil {
					errs <- err
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, err := cred.Token(ctx, scopes[i])
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := st.waitSaves(0, deadline); err != nil {
		return err
	}
	if n := st.saveErrs.Load(); n > 0 {
		return fmt.Errorf("%d saves failed", n)
	}
	return nil
}

// A daemon with a file store, started 10 times in a row (10 processes)
// within a token's lifetime, asks Entra for a token once.
func TestRestartedDaemonAsksEntraOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 10 processes")
	}
	d := newDirectory(t, 1, 1)
	dir, key := filepath.Join(t.TempDir(), "cache"), randomKey(t)
	for run := range 10 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = d.helperEnv(0, d.resources, dir, key)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("start %d: %v\n%s", run+1, err, out)
		}
	}
	if got := d.srv.GrantCount("client_credentials"); got != 1 {
		t.Fatalf("token requests over 10 starts: got %d, want 1", got)
	}
	t.Logf("10 starts, %d token request", d.srv.GrantCount("client_credentials"))
}

// 8 processes getting 100 distinct tokens each, all at once, in one cache
// directory: nothing is lost (a fresh credential of each client finds all
// its 100 tokens in the store, so Entra sees no request) and no file is
// corrupt.
func TestProcessesShareFileStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 8 processes")
	}
	const procs, tokens = 8, 100
	d := newDirectory(t, procs, tokens)
	dir, key := filepath.Join(t.TempDir(), "cache"), randomKey(t)
	if _, err := store.NewFile(ring(t, key), &store.FileOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = d.helperEnv(i, d.resources, dir, key)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("process %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if t.Failed() {
		return
	}
	if got := d.srv.GrantCount("client_credentials"); got != procs*tokens {
		t.Errorf("token requests by the processes: got %d, want %d", got, procs*tokens)
	}
	f, err := store.NewFile(ring(t, key), &store.FileOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	good, corrupt := 0, 0
	for _, e := range entries {
		if e.Err != nil {
			corrupt++
			t.Errorf("%s: %v", e.File, e.Err)
			continue
		}
		good++
	}
	if good != procs*tokens || corrupt != 0 {
		t.Fatalf("entries: %d good, %d corrupt; want %d good, 0 corrupt", good, corrupt, procs*tokens)
	}
	d.srv.ResetCounters()
	for i := range procs {
		cred := d.credential(t, i, f)
		for _, scope := range d.resources {
			if _, err := cred.Token(context.Background(), scope); err != nil {
				t.Fatal(err)
			}
		}
		cred.Close()
	}
	lost := d.srv.GrantCount("client_credentials")
	if lost != 0 {
		t.Fatalf("tokens lost: %d of %d had to be fetched again", lost, procs*tokens)
	}
	var tmp []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".tmp-") {
			tmp = append(tmp, de.Name())
		}
	}
	if len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	t.Logf("%d processes x %d tokens in %v: %d entries readable, 0 corrupt, 0 lost", procs, tokens, took.Round(time.Millisecond), good)
}
