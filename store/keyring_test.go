package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyRingRotation(t *testing.T) {
	oldKey, newKey2 := newKey(t), newKey(t)
	oldRing, err := NewKeyRing(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, err := oldRing.Seal([]byte("v1"), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewKeyRing(newKey2, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealedOld, []byte("k")); err != nil || string(got) != "v1" {
		t.Fatalf("rotated ring opening an old value: got %q, %v; want v1", got, err)
	}
	sealedNew, err := rotated.Seal([]byte("v2"), []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldRing.Open(sealedNew, []byte("k")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old ring opening a value sealed with the new key: got %v, want ErrUnknownKey", err)
	}
	newOnly, _ := NewKeyRing(newKey2)
	if got, err := newOnly.Open(sealedNew, []byte("k")); err != nil || string(got) != "v2" {
		t.Fatalf("new ring: got %q, %v; want v2 (written with the newest key)", got, err)
	}
}

func TestKeyRingBadInput(t *testing.T) {
	r, _ := NewKeyRing(newKey(t))
	sealed, _ := r.Seal([]byte("value"), []byte("entry-a"))
	flip := bytes.Clone(sealed)
	flip[len(flip)-1] ^= 1
	hdr := bytes.Clone(sealed)
	hdr[1] ^= 1 // key ID
	ver := bytes.Clone(sealed)
	ver[0] = 0xE0
	for _, tt := range []struct {
		name string
		in   []byte
		ad   string
		want error
	}{
		{"other entry key", sealed, "entry-b", ErrCorrupt},
		{"flipped tag bit", flip, "entry-a", ErrCorrupt},
		{"altered key ID", hdr, "entry-a", ErrUnknownKey},
		{"older or unknown version", ver, "entry-a", ErrCorrupt},
		{"truncated", sealed[:len(sealed)-1], "entry-a", ErrCorrupt},
		{"header only", sealed[:sealedBase], "entry-a", ErrCorrupt},
		{"empty", nil, "entry-a", ErrCorrupt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := r.Open(tt.in, []byte(tt.ad)); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewKeyRingRejects(t *testing.T) {
	k := newKey(t)
	for _, tt := range []struct {
		name string
		keys [][]byte
	}{
		{"short", [][]byte{k[:16]}},
		{"nil", [][]byte{nil}},
		{"duplicate", [][]byte{k, k}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyRing(tt.keys[0], tt.keys[1:]...)
			if err == nil || !strings.HasPrefix(err.Error(), "entra: ") {
				t.Errorf("got %v, want an entra: error", err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	hexKey := strings.Repeat("0f", 32)
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{hexKey, true},
		{" " + hexKey + "\n", true},
		{"Dw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8=", true},
		{"Dw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8PDw8", true},
		{hexKey[:62], false},
		{"secret-not-a-key", false},
		{"", false},
	} {
		k, err := ParseKey(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseKey(%q): err %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err != nil && strings.Contains(err.Error(), tt.in) && tt.in != "" {
			t.Errorf("ParseKey's error repeats its input: %v", err)
		}
		if tt.ok && !bytes.Equal(k, bytes.Repeat([]byte{0x0f}, 32)) {
			t.Errorf("ParseKey(%q) = %x", tt.in, k)
		}
	}
}

// FuzzDecodeEntry: any bytes given to the entry-file decoder (and the
// key ring under it) are a miss or a value this ring sealed for this key,
// never a panic.
func FuzzDecodeEntry(f *testing.F) {
	key := bytes.Repeat([]byte{7}, KeySize)
	r, _ := NewKeyRing(key)
	good, _ := encodeEntry(r, "entra/v1/app/x", time.Unix(2e9, 0), []byte(`{"access_token":"a"}`))
	other, _ := encodeEntry(r, "entra/v1/app/y", time.Unix(2e9, 0), []byte(`{"access_token":"a"}`))
	f.Add(good)
	f.Add(other)
	f.Add(good[:len(good)/2])
	f.Add([]byte{fileV1})
	f.Add([]byte{fileV1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, v, err := decodeEntry(r, b, "entra/v1/app/x")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrUnknownKey", err)
			}
			return
		}
		if h.key != "entra/v1/app/x" || string(v) != `{"access_token":"a"}` {
			t.Fatalf("decoded a value this ring never sealed for this key: %q %q", h.key, v)
		}
		if _, err := r.Open(b, nil); err == nil {
			t.Fatal("an entry file opened as a bare sealed value")
		}
	})
}
