package store_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	"github.com/entrakit/entra/store"
)

// benchValue is the size of a stored app-only entry: a ~1.5 KB JWT in
// JSON with its expiry and refresh time.
var benchValue = []byte(`{"access_token":"` + strings.Repeat("x", 1500) + `","expires_on":"2026-01-01T00:00:00Z","refresh_on":"2026-01-01T00:00:00Z"}`)

// The encryption's cost per entry: sealing and opening one entry, beside a
// plain copy of it (the baseline a plaintext store would pay).
func BenchmarkEncryption(b *testing.B) {
	r := ring(b)
	ad := []byte("entra:entra/v1/app/https://login.microsoftonline.com/tenant/client/api://x/.default")
	sealed, _ := r.Seal(benchValue, ad)
	b.Run("baseline=copy", func(b *testing.B) {
		b.SetBytes(int64(len(benchValue)))
		b.ReportAllocs()
		for b.Loop() {
			_ = bytes.Clone(benchValue)
		}
	})
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(int64(len(benchValue)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Seal(benchValue, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		b.SetBytes(int64(len(benchValue)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Open(sealed, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// An L1 miss (a new credential, as after a restart) for one of 100 tokens
// picked at random, served from the file store, beside the same miss
// served by the emulator answering after 20 ms (Entra's latency at best).
// The credential's construction is in both.
func BenchmarkL1Miss(b *testing.B) {
	d := newDirectory(b, 1, 100)
	f, err := store.NewFile(ring(b), &store.FileOptions{Dir: filepath.Join(b.TempDir(), "cache")})
	if err != nil {
		b.Fatal(err)
	}
	warm := d.credential(b, 0, f)
	for _, s := range d.resources {
		if _, err := warm.Token(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; { // saves run in the background
		if es, _ := f.List(context.Background()); len(es) == len(d.resources) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	run := func(b *testing.B, st entra.Store) {
		b.ReportAllocs()
		for b.Loop() {
			cred := d.credential(b, 0, st)
			if _, err := cred.Token(context.Background(), d.resources[rand.IntN(len(d.resources))]); err != nil {
				b.Fatal(err)
			}
			cred.Close()
		}
	}
	b.Run("baseline=emulator-20ms", func(b *testing.B) {
		d.srv.InjectFault(entratest.EndpointToken, entratest.Fault{Delay: 20 * time.Millisecond, Count: 1 << 30})
		defer d.srv.ClearFaults()
		run(b, nil)
	})
	b.Run("file-store", func(b *testing.B) {
		d.srv.ResetCounters()
		run(b, f)
		if n := d.srv.GrantCount("client_credentials"); n != 0 {
			b.Fatalf("%d misses went to the emulator, want all from the file store", n)
		}
	})
}
