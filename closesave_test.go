package entra

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// slowSaveStore saves after a delay, as a remote store does.
type slowSaveStore struct {
	memStore
	delay time.Duration
	saved atomic.Int32
}

func (s *slowSaveStore) Save(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	s.saved.Add(1)
	return s.memStore.Save(ctx, key, v, ttl)
}

func TestCloseWaitsForStoreSavesWithinTheBudget(t *testing.T) {
	t.Parallel()
	m := newEmu(t)
	st := &slowSaveStore{delay: 100 * time.Millisecond}
	c := m.secretCred(t, func(o *Options) { o.Store = st; o.StoreTimeout = time.Second })
	if _, err := c.Token(context.Background(), m.apiScope()); err != nil {
		t.Fatal(err)
	}
	c.Close() // a daemon exiting right after its first token
	if st.saved.Load() != 1 {
		t.Fatalf("saves finished before Close returned: %d, want 1", st.saved.Load())
	}
	// A store slower than its budget does not hold Close longer.
	st2 := &slowSaveStore{delay: time.Hour}
	c2 := m.secretCred(t, func(o *Options) { o.Store = st2; o.StoreTimeout = 50 * time.Millisecond })
	if _, err := c2.Token(context.Background(), m.apiScope()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c2.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close waited %v for a hung store, want about its 50ms budget", d)
	}
}
