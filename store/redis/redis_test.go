package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/store"
	redisstore "github.com/entrakit/entra/store/redis"
	"github.com/redis/go-redis/v9"
)

func TestRoundTripTTLAndPrefix(t *testing.T) {
	addr := sharedAddr(t)
	ctx := context.Background()
	prefix := uniquePrefix(t)
	s := newStore(t, addr, ring(t), &redisstore.Options{Prefix: prefix})
	if _, err := s.Load(ctx, "k"); !errors.Is(err, entra.ErrNotFound) {
		t.Fatalf("empty: got %v, want ErrNotFound", err)
	}
	if err := s.Save(ctx, "k", []byte("value"), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "k"); err != nil || string(got) != "value" {
		t.Fatalf("Load = %q, %v", got, err)
	}
	raw := s.Client()
	ttl, err := raw.PTTL(ctx, prefix+"k").Result()
	if err != nil || ttl <= 85*time.Second || ttl > 90*time.Second {
		t.Fatalf("TTL in Redis: %v, %v; want about 90s", ttl, err)
	}
	b, _ := raw.Get(ctx, prefix+"k").Bytes()
	if strings.Contains(string(b), "value") {
		t.Fatal("value stored in clear")
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "k"); !errors.Is(err, entra.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}

// Unusable values are misses, logged once each, and replaced by the next
// Save; none is an error the cache would log per call.
func TestBadValuesAreMisses(t *testing.T) {
	addr := sharedAddr(t)
	ctx := context.Background()
	keyA, keyB := randomKey(t), randomKey(t)
	for _, tt := range []struct {
		name string
		bad  func(t *testing.T, prefix string, raw redis.UniversalClient)
	}{
		{"corrupt", func(t *testing.T, prefix string, raw redis.UniversalClient) {
			raw.Set(ctx, prefix+"k", "\xe1garbage-garbage-garbage-garbage-garbage", time.Minute)
		}},
		{"truncated", func(t *testing.T, prefix string, raw redis.UniversalClient) {
			b, _ := raw.Get(ctx, prefix+"k").Bytes()
			raw.Set(ctx, prefix+"k", b[:len(b)-5], time.Minute)
		}},
		{"another encryption key", func(t *testing.T, prefix string, raw redis.UniversalClient) {
			other := newStore(t, addr, ring(t, keyB), &redisstore.Options{Prefix: prefix})
			if err := other.Save(ctx, "k", []byte("other"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}},
		{"another entry's value", func(t *testing.T, prefix string, raw redis.UniversalClient) {
			s := newStore(t, addr, ring(t, keyA), &redisstore.Options{Prefix: prefix})
			s.Save(ctx, "other", []byte("other"), time.Minute)
			b, _ := raw.Get(ctx, prefix+"other").Bytes()
			raw.Set(ctx, prefix+"k", b, time.Minute)
		}},
		{"oversized", func(t *testing.T, prefix string, raw redis.UniversalClient) {
			raw.Set(ctx, prefix+"k", strings.Repeat("x", 2<<20), time.Minute)
		}},
		{"deleted (as by FLUSHALL)", func(t *testing.T, prefix string, raw redis.UniversalClient) {
			raw.Del(ctx, prefix+"k")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			prefix := uniquePrefix(t)
			s := newStore(t, addr, ring(t, keyA), &redisstore.Options{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err := s.Save(ctx, "k", []byte("good"), time.Minute); err != nil {
				t.Fatal(err)
			}
			tt.bad(t, prefix, s.Client())
			for range 5 {
				if _, err := s.Load(ctx, "k"); !errors.Is(err, entra.ErrNotFound) {
					t.Fatalf("got %v, want a miss", err)
				}
			}
			if n := logs.Count("redis value unusable"); n > 1 {
				t.Fatalf("logged %d times, want at most once", n)
			}
			if err := s.Save(ctx, "k", []byte("fresh"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Load(ctx, "k"); err != nil || string(got) != "fresh" {
				t.Fatalf("after Save: %q, %v", got, err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	addr := sharedAddr(t)
	ctx := context.Background()
	prefix := uniquePrefix(t)
	oldKey, newKey := randomKey(t), randomKey(t)
	old := newStore(t, addr, ring(t, oldKey), &redisstore.Options{Prefix: prefix})
	if err := old.Save(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	rotated := newStore(t, addr, ring(t, newKey, oldKey), &redisstore.Options{Prefix: prefix})
	if got, err := rotated.Load(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("rotated ring reading a value of the old key: %q, %v", got, err)
	}
}

// The same store works on a Redis Cluster (.ci/run starts a 3-node one and
// sets ENTRA_TEST_REDIS_CLUSTER_ADDRS).
func TestCluster(t *testing.T) {
	addrs := os.Getenv("ENTRA_TEST_REDIS_CLUSTER_ADDRS")
	if addrs == "" {
		t.Skip("ENTRA_TEST_REDIS_CLUSTER_ADDRS is not set")
	}
	ctx := context.Background()
	s, err := redisstore.New(&redis.UniversalOptions{Addrs: strings.Split(addrs, ",")}, ring(t), &redisstore.Options{Prefix: uniquePrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("client %T, want *redis.ClusterClient for several addresses", s.Client())
	}
	for i := range 50 { // keys spread over the three nodes' slots
		k := "k" + string(rune('a'+i%26)) + strings.Repeat("x", i)
		if err := s.Save(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx, k); err != nil || string(got) != k {
			t.Fatalf("%s: %q, %v", k, got, err)
		}
	}
}

func TestNewNeedsKeyRingAndAddress(t *testing.T) {
	if _, err := redisstore.New(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:1"}}, nil, nil); err == nil {
		t.Error("New without a key ring succeeded; values must always be encrypted")
	}
	r, _ := store.NewKeyRing(randomKey(t))
	if _, err := redisstore.New(&redis.UniversalOptions{}, r, nil); err == nil {
		t.Error("New without an address succeeded")
	}
}
