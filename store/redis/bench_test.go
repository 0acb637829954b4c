package redisstore_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/entratest"
	redisstore "github.com/entrakit/entra/store/redis"
)

// An L1 miss (a new credential, as on a new instance) for one of 100
// tokens picked at random, served from Redis, beside the same miss served
// by the emulator answering after 20 ms. The credential's construction is
// in both.
func BenchmarkL1Miss(b *testing.B) {
	addr := sharedAddr(b)
	d := newDirectory(b, 100)
	st := newStore(b, addr, ring(b), &redisstore.Options{Prefix: uniquePrefix(b)})
	warm := d.credential(b, st, nil)
	defer warm.Close()
	for _, s := range d.scopes {
		if _, err := warm.Token(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // saves run in the background
	run := func(b *testing.B, s entra.Store) {
		b.ReportAllocs()
		for b.Loop() {
			cred := d.credential(b, s, nil)
			if _, err := cred.Token(context.Background(), d.scopes[rand.IntN(len(d.scopes))]); err != nil {
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
	b.Run("redis", func(b *testing.B) {
		d.srv.ResetCounters()
		run(b, st)
		if n := d.srv.GrantCount("client_credentials"); n != 0 {
			b.Fatalf("%d misses went to the emulator, want all from Redis", n)
		}
	})
}

// One Load and one Save of a typical entry through the store (encryption
// included) beside a bare GET/SET of the same bytes with go-redis.
func BenchmarkStore(b *testing.B) {
	addr := sharedAddr(b)
	ctx := context.Background()
	prefix := uniquePrefix(b)
	st := newStore(b, addr, ring(b), &redisstore.Options{Prefix: prefix})
	value := make([]byte, 1600)
	const n = 100
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "entra/v1/app/bench/" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if err := st.Save(ctx, keys[i], value, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	raw := st.Client()
	b.Run("baseline=raw-GET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.Get(ctx, prefix+keys[rand.IntN(n)]).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Load", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := st.Load(ctx, keys[rand.IntN(n)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=raw-SET", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.Set(ctx, prefix+keys[rand.IntN(n)]+"raw", value, time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Save", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := st.Save(ctx, keys[rand.IntN(n)], value, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}
