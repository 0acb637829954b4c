package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
)

// KeySize is the size of an encryption key: 32 bytes, for AES-256-GCM.
const KeySize = 32

// Sealed value format, version 1:
//
//	byte 0      formatV1 (0xE1: a magic and version byte in one)
//	bytes 1-4   key ID: the first 4 bytes of SHA-256("entra store key id\x00" || key)
//	bytes 5-16  GCM nonce (random, 12 bytes)
//	bytes 17-   AES-256-GCM ciphertext and 16-byte tag
//
// The GCM additional data is bytes 0-4 followed by the caller's
// additional data (the entry's key), so a value copied to another key, or
// whose header was altered, does not decrypt.
const (
	formatV1    = 0xE1
	keyIDSize   = 4
	nonceSize   = 12
	tagSize     = 16
	sealedBase  = 1 + keyIDSize + nonceSize
	minSealedV1 = sealedBase + tagSize
)

// Errors of Open; test them with errors.Is.
var (
	// ErrCorrupt: the value is truncated, altered, of an unknown format
	// version, or was sealed for another entry key.
	ErrCorrupt = errors.New("entra: stored value is corrupt, truncated, of an unknown format or bound to another entry; it counts as a miss and the next save replaces it")
	// ErrUnknownKey: the value was sealed with a key the ring does not
	// hold (add the old key to the ring to read it, or let it be replaced).
	ErrUnknownKey = errors.New("entra: stored value was encrypted with a key this key ring does not hold; add that key to the ring, or let the next save replace the value")
)

// KeyRing encrypts stored values with AES-256-GCM: it seals with its
// newest key and opens with any of its keys, so a key can be rotated
// without losing the cache (put the new key first, keep the old ones until
// their values have expired).
//
// A KeyRing is immutable and safe for concurrent use.
type KeyRing struct {
	keys []ringKey // keys[0] is the newest
}

type ringKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// NewKeyRing returns a key ring that seals with newest and opens with
// newest and any of older. Each key must be KeySize (32) random bytes;
// ParseKey reads one from hex or base64 text. The ring copies nothing it
// does not need: the keys' bytes are not kept, only the ciphers.
func NewKeyRing(newest []byte, older ...[]byte) (*KeyRing, error) {
	r := &KeyRing{}
	for _, k := range append([][]byte{newest}, older...) {
		if len(k) != KeySize {
			return nil, errors.New("entra: a store encryption key must be 32 bytes (AES-256); generate one with `openssl rand -hex 32` and read it with store.ParseKey")
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, errors.New("entra: store encryption key rejected by AES; pass 32 random bytes")
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, errors.New("entra: AES-GCM unavailable for the store encryption key")
		}
		rk := ringKey{id: keyID(k), aead: aead}
		for _, o := range r.keys {
			if o.id == rk.id {
				return nil, errors.New("entra: the store key ring holds the same key twice (or two keys with one ID); remove the duplicate")
			}
		}
		r.keys = append(r.keys, rk)
	}
	return r, nil
}

// keyID names a key without revealing it.
func keyID(k []byte) [keyIDSize]byte {
	h := sha256.New()
	h.Write([]byte("entra store key id\x00"))
	h.Write(k)
	var id [keyIDSize]byte
	copy(id[:], h.Sum(nil))
	return id
}

// ParseKey decodes a KeySize-byte key from text: 64 hex digits, or
// standard or URL-safe base64 (padded or not), surrounding spaces ignored;
// for example the value of an environment variable filled with
// `openssl rand -hex 32`. The error never contains the text.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, errors.New("entra: a store encryption key must be 64 hex digits or base64 of 32 bytes; generate one with `openssl rand -hex 32`")
}

// Seal encrypts value with the ring's newest key, bound to
// additionalData (the entry's key: Open with other additional data fails).
// Safe for concurrent use.
func (r *KeyRing) Seal(value, additionalData []byte) ([]byte, error) {
	k := r.keys[0]
	out := make([]byte, sealedBase, sealedBase+len(value)+tagSize)
	out[0] = formatV1
	copy(out[1:], k.id[:])
	if _, err := rand.Read(out[1+keyIDSize : sealedBase]); err != nil {
		return nil, errors.New("entra: no randomness for a store nonce")
	}
	ad := make([]byte, 0, 1+keyIDSize+len(additionalData))
	ad = append(append(ad, out[:1+keyIDSize]...), additionalData...)
	return k.aead.Seal(out, out[1+keyIDSize:sealedBase], value, ad), nil
}

// Open decrypts a value made by Seal with any key of the ring and the same
// additionalData. Bad input of any kind (truncated, altered, another
// format version, another entry) gives an error wrapping ErrCorrupt, a
// value sealed with a key the ring lacks one wrapping ErrUnknownKey; Open
// never panics. Safe for concurrent use.
func (r *KeyRing) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < minSealedV1 || sealed[0] != formatV1 {
		return nil, ErrCorrupt
	}
	var id [keyIDSize]byte
	copy(id[:], sealed[1:])
	for _, k := range r.keys {
		if k.id != id {
			continue
		}
		ad := make([]byte, 0, 1+keyIDSize+len(additionalData))
		ad = append(append(ad, sealed[:1+keyIDSize]...), additionalData...)
		v, err := k.aead.Open(nil, sealed[1+keyIDSize:sealedBase], sealed[sealedBase:], ad)
		if err != nil {
			return nil, ErrCorrupt
		}
		return v, nil
	}
	return nil, ErrUnknownKey
}

// putUint64 and uint64At are little helpers for the file format.
func putUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func uint64At(b []byte) uint64            { return binary.BigEndian.Uint64(b) }
