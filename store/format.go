package store

import (
	"errors"
	"time"

	"github.com/entrakit/entra"
)

// Entry file format, version 1:
//
//	byte 0          fileV1 (0xF1)
//	bytes 1-8       expiry, Unix nanoseconds, big-endian
//	bytes 9-10      length n of the entry key, big-endian (at most MaxKeySize)
//	bytes 11-11+n   the entry key
//	then            the value sealed by the KeyRing, its additional data
//	                being every byte before it
//
// The key and expiry are in clear (List shows them without decrypting
// values) but authenticated: a file copied to another name, or whose
// expiry was edited, does not open.
const (
	fileV1         = 0xF1
	fileHeaderBase = 1 + 8 + 2
	// MaxKeySize bounds an entry key, in bytes.
	MaxKeySize = 4096
)

// encodeEntry seals value for key, expiring at exp.
func encodeEntry(r *KeyRing, key string, exp time.Time, value []byte) ([]byte, error) {
	if len(key) > MaxKeySize || key == "" {
		return nil, errors.New("entra: store key is empty or longer than 4096 bytes")
	}
	hdr := make([]byte, 0, fileHeaderBase+len(key))
	hdr = append(hdr, fileV1)
	hdr = putUint64(hdr, uint64(exp.UnixNano()))
	hdr = append(hdr, byte(len(key)>>8), byte(len(key)))
	hdr = append(hdr, key...)
	sealed, err := r.Seal(value, hdr)
	if err != nil {
		return nil, err
	}
	return append(hdr, sealed...), nil
}

// entryHeader is the clear part of an entry file.
type entryHeader struct {
	key string
	exp time.Time
	n   int // header length: the sealed value starts here
}

// parseHeader reads the clear header of an entry file; it does not
// authenticate it.
func parseHeader(b []byte) (entryHeader, error) {
	if len(b) < fileHeaderBase || b[0] != fileV1 {
		return entryHeader{}, ErrCorrupt
	}
	kl := int(b[9])<<8 | int(b[10])
	if kl == 0 || kl > MaxKeySize || len(b) < fileHeaderBase+kl {
		return entryHeader{}, ErrCorrupt
	}
	ns := int64(uint64At(b[1:9]))
	return entryHeader{key: string(b[fileHeaderBase : fileHeaderBase+kl]), exp: time.Unix(0, ns), n: fileHeaderBase + kl}, nil
}

// decodeEntry authenticates and decrypts an entry file. It fails with
// ErrCorrupt or ErrUnknownKey for any bad input, and with ErrCorrupt when
// the file belongs to another key than want ("" accepts any key). It
// never panics.
func decodeEntry(r *KeyRing, b []byte, want string) (entryHeader, []byte, error) {
	h, err := parseHeader(b)
	if err != nil {
		return entryHeader{}, nil, err
	}
	if want != "" && h.key != want {
		return entryHeader{}, nil, ErrCorrupt
	}
	v, err := r.Open(b[h.n:], b[:h.n])
	if err != nil {
		return entryHeader{}, nil, err
	}
	return h, v, nil
}

// missError is a miss with a reason: it matches entra.ErrNotFound (so the
// cache treats it as an ordinary miss, already logged here) and the
// reason (ErrCorrupt, ErrUnknownKey, ...).
type missError struct{ reason error }

func (e *missError) Error() string   { return e.reason.Error() }
func (e *missError) Unwrap() []error { return []error{entra.ErrNotFound, e.reason} }
