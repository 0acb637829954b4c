package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrakit/entra"
	"github.com/entrakit/entra/store"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, store.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func ring(t testing.TB, keys ...[]byte) *store.KeyRing {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{randomKey(t)}
	}
	r, err := store.NewKeyRing(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newFile(t testing.TB, r *store.KeyRing, o *store.FileOptions) *store.File {
	t.Helper()
	if o == nil {
		o = &store.FileOptions{}
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "cache")
	}
	f, err := store.NewFile(r, o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFileRoundTripAndModes(t *testing.T) {
	ctx := context.Background()
	f := newFile(t, ring(t), nil)
	if _, err := f.Load(ctx, "k"); !errors.Is(err, entra.ErrNotFound) {
		t.Fatalf("empty store: got %v, want ErrNotFound", err)
	}
	if err := f.Save(ctx, "k", []byte("value"), time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load(ctx, "k")
	if err != nil || string(got) != "value" {
		t.Fatalf("Load = %q, %v; want value", got, err)
	}
	fi, err := os.Stat(f.Dir())
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	entries, err := f.List(ctx)
	if err != nil || len(entries) != 1 {
		t.Fatalf("List = %v, %v; want one entry", entries, err)
	}
	e := entries[0]
	if e.Key != "k" || e.Err != nil || e.Expires.IsZero() || e.Size == 0 {
		t.Fatalf("entry %+v", e)
	}
	fi, err = os.Stat(e.File)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	raw, _ := os.ReadFile(e.File)
	if bytes.Contains(raw, []byte("value")) {
		t.Fatal("the value is stored in clear")
	}
	if err := f.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(ctx, "k"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := f.Load(ctx, "k"); !errors.Is(err, entra.ErrNotFound) {
		t.Fatalf("after Delete: got %v, want ErrNotFound", err)
	}
}

func TestFileRefusesOpenDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o755, 0o770, 0o702} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		_, err := store.NewFile(ring(t), &store.FileOptions{Dir: dir})
		var pe *store.PermissionError
		if !errors.As(err, &pe) || pe.Path != dir || !strings.HasPrefix(err.Error(), "entra: ") {
			t.Errorf("mode %v: got %v, want a *PermissionError naming the directory", mode, err)
		}
	}
}

// A pre-existing entry file readable by others is refused (an error, so
// the credential asks Entra) and the next Save replaces it with a 0600 one.
func TestFileRefusesOpenFileAndHealsIt(t *testing.T) {
	ctx := context.Background()
	f := newFile(t, ring(t), nil)
	if err := f.Save(ctx, "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	entries, _ := f.List(ctx)
	if err := os.Chmod(entries[0].File, 0o644); err != nil {
		t.Fatal(err)
	}
	var pe *store.PermissionError
	if _, err := f.Load(ctx, "k"); !errors.As(err, &pe) {
		t.Fatalf("0644 file: got %v, want *PermissionError", err)
	}
	if err := f.Save(ctx, "k", []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Load(ctx, "k"); err != nil || string(got) != "v2" {
		t.Fatalf("after Save: %q, %v", got, err)
	}
	fi, _ := os.Stat(entries[0].File)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("healed file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestFileExpiryRemovesFile(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	f := newFile(t, ring(t), &store.FileOptions{Now: clock.Now})
	if err := f.Save(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Add(59 * time.Second)
	if _, err := f.Load(ctx, "k"); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clock.Add(time.Second)
	if _, err := f.Load(ctx, "k"); !errors.Is(err, entra.ErrNotFound) {
		t.Fatalf("at expiry: got %v, want ErrNotFound", err)
	}
	if entries, _ := f.List(ctx); len(entries) != 0 {
		t.Fatalf("expired file still there: %+v", entries)
	}
}

// Bad files: each is a miss, logged once however often it is read, listed
// with its reason, and replaced by the next Save.
func TestFileBadFilesAreMissesLoggedOnce(t *testing.T) {
	ctx := context.Background()
	keyA, keyB := randomKey(t), randomKey(t)
	for _, tt := range []struct {
		name    string
		corrupt func(t *testing.T, f *store.File, file string)
	}{
		{"truncated", func(t *testing.T, _ *store.File, file string) {
			b, _ := os.ReadFile(file)
			os.WriteFile(file, b[:len(b)/2], 0o600)
		}},
		{"bit flipped", func(t *testing.T, _ *store.File, file string) {
			b, _ := os.ReadFile(file)
			b[len(b)-3] ^= 0x40
			os.WriteFile(file, b, 0o600)
		}},
		{"garbage", func(t *testing.T, _ *store.File, file string) {
			os.WriteFile(file, []byte("{not a cache file"), 0o600)
		}},
		{"empty", func(t *testing.T, _ *store.File, file string) {
			os.WriteFile(file, nil, 0o600)
		}},
		{"oversized", func(t *testing.T, _ *store.File, file string) {
			os.WriteFile(file, bytes.Repeat([]byte{0xF1}, 2<<20), 0o600)
		}},
		{"another encryption key", func(t *testing.T, f *store.File, file string) {
			other := newFile(t, ring(t, keyB), &store.FileOptions{Dir: filepath.Dir(file)})
			if err := other.Save(ctx, "k", []byte("other"), time.Hour); err != nil {
				t.Fatal(err)
			}
		}},
		{"another entry's file", func(t *testing.T, f *store.File, file string) {
			if err := f.Save(ctx, "other-key", []byte("other"), time.Hour); err != nil {
				t.Fatal(err)
			}
			entries, _ := f.List(ctx)
			for _, e := range entries {
				if e.Key == "other-key" {
					b, _ := os.ReadFile(e.File)
					os.WriteFile(file, b, 0o600)
					os.Remove(e.File)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logBuffer{}
			f := newFile(t, ring(t, keyA), &store.FileOptions{Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err := f.Save(ctx, "k", []byte("good"), time.Hour); err != nil {
				t.Fatal(err)
			}
			entries, _ := f.List(ctx)
			tt.corrupt(t, f, entries[0].File)
			for range 5 {
				if _, err := f.Load(ctx, "k"); !errors.Is(err, entra.ErrNotFound) {
					t.Fatalf("got %v, want a miss (ErrNotFound)", err)
				}
			}
			if n := strings.Count(logs.String(), "cache file unusable"); n != 1 {
				t.Fatalf("logged %d times, want once:\n%s", n, logs)
			}
			entries, _ = f.List(ctx)
			if len(entries) != 1 || entries[0].Err == nil || entries[0].Key != "" {
				t.Fatalf("List: %+v, want one unusable entry", entries)
			}
			if err := f.Save(ctx, "k", []byte("fresh"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if got, err := f.Load(ctx, "k"); err != nil || string(got) != "fresh" {
				t.Fatalf("after Save: %q, %v; want the new value", got, err)
			}
		})
	}
}

func TestFileClear(t *testing.T) {
	ctx := context.Background()
	f := newFile(t, ring(t), nil)
	for _, k := range []string{"a", "b", "c"} {
		if err := f.Save(ctx, k, []byte(k), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(f.Dir(), ".tmp-crashed"), []byte("x"), 0o600)
	n, err := f.Clear(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Clear = %d, %v; want 3", n, err)
	}
	des, _ := os.ReadDir(f.Dir())
	for _, de := range des {
		if de.Name() != ".lock" {
			t.Errorf("left after Clear: %s", de.Name())
		}
	}
}

// Goroutines saving, loading and deleting one key at once never see a
// torn or foreign value.
func TestFileConcurrentSameKey(t *testing.T) {
	ctx := context.Background()
	f := newFile(t, ring(t), nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				v := []byte(strings.Repeat(string(rune('a'+g)), 100+i))
				if err := f.Save(ctx, "k", v, time.Hour); err != nil {
					t.Error(err)
					return
				}
				got, err := f.Load(ctx, "k")
				if err != nil {
					t.Errorf("Load: %v", err)
					return
				}
				if len(got) < 100 || strings.Count(string(got), string(got[:1])) != len(got) {
					t.Errorf("torn value %q", got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestFileSaveRejectsOversizedValue(t *testing.T) {
	f := newFile(t, ring(t), &store.FileOptions{MaxValueSize: 10})
	if err := f.Save(context.Background(), "k", make([]byte, 11), time.Hour); err == nil || !strings.HasPrefix(err.Error(), "entra: ") {
		t.Fatalf("got %v, want an entra: error", err)
	}
}

func TestNewFileNeedsKeyRing(t *testing.T) {
	if _, err := store.NewFile(nil, &store.FileOptions{Dir: t.TempDir()}); err == nil {
		t.Fatal("NewFile without a key ring succeeded; values must always be encrypted")
	}
}
