package store_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/store"
)

// A daemon that keeps its tokens in an encrypted file store gets them back
// after a restart without asking Entra.
func ExampleNewFile() {
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
	dir, err := os.MkdirTemp("", "entra-cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// In production: key, err := store.ParseKey(os.Getenv("ENTRA_CACHE_KEY")),
	// a key made once with `openssl rand -hex 32`, and FileOptions nil
	// (the directory is os.UserCacheDir()/entra).
	key := make([]byte, store.KeySize)
	rand.Read(key)
	ring, err := store.NewKeyRing(key)
	if err != nil {
		log.Fatal(err)
	}
	start := func() *entra.Credential {
		files, err := store.NewFile(ring, &store.FileOptions{Dir: dir})
		if err != nil {
			log.Fatal(err)
		}
		cred, err := entra.NewClientSecretCredential(demo.TenantID, demo.Daemon.ClientID, demo.Daemon.ClientSecret,
			&entra.Options{Cloud: cloud, HTTPClient: srv.Client(), DisableInstanceDiscovery: true, Store: files})
		if err != nil {
			log.Fatal(err)
		}
		return cred
	}
	scope := demo.API.AppIDURI + "/.default"

	first := start()
	if _, err := first.Token(context.Background(), scope); err != nil {
		log.Fatal(err)
	}
	first.Close()
	files, _ := store.NewFile(ring, &store.FileOptions{Dir: dir})
	for { // the save runs in the background: wait for it, as a daemon's lifetime would
		if entries, _ := files.List(context.Background()); len(entries) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	restarted := start() // a new process would do the same
	defer restarted.Close()
	if _, err := restarted.Token(context.Background(), scope); err != nil {
		log.Fatal(err)
	}
	fmt.Println("token requests to Entra:", srv.GrantCount("client_credentials"))
	// Output:
	// token requests to Entra: 1
}
