package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/entrakit/entra"
)

// Entry describes one file of a File store, for listing: never its value.
type Entry struct {
	// Key is the entry's key ("" if the file is unusable).
	Key string
	// Expires is when the value becomes worthless.
	Expires time.Time
	// Size is the file's size in bytes.
	Size int64
	// File is the file's path.
	File string
	// Err is why the file is unusable (corrupt, truncated, another
	// encryption key, open to other users), nil for a good entry. An
	// unusable file is a miss and is replaced by the next Save of its key.
	Err error
}

// List describes every entry file, expired and unusable ones included,
// without their values (each file is still authenticated, so Key and
// Expires are trustworthy when Err is nil). ctx cancels the listing. Safe
// for concurrent use; files written during the listing may be missed.
func (f *File) List(ctx context.Context) ([]Entry, error) {
	des, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, errors.New("entra: cannot list the cache directory: " + errText(err))
	}
	var out []Entry
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		n := de.Name()
		if !strings.HasSuffix(n, entrySuffix) {
			continue
		}
		e := Entry{File: filepath.Join(f.dir, n)}
		b, err := f.read(n)
		if errors.Is(err, entra.ErrNotFound) && !errors.Is(err, ErrCorrupt) {
			continue // removed since ReadDir
		}
		e.Size = int64(len(b))
		if err == nil {
			var h entryHeader
			h, _, err = decodeEntry(f.ring, b, "")
			if err == nil && name(h.key) != n {
				err = ErrCorrupt // copied from another entry's file
			}
			e.Key, e.Expires = h.key, h.exp
		}
		if err != nil {
			var me *missError
			if errors.As(err, &me) {
				err = me.reason
			}
			e.Key, e.Expires, e.Err = "", time.Time{}, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Clear removes every entry file and any temporary file left by a crashed
// writer, under the lock, and returns how many entries it removed. ctx
// bounds the wait for the lock. Safe for concurrent use.
func (f *File) Clear(ctx context.Context) (int, error) {
	unlock, err := lockDir(ctx, f.dir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	des, err := os.ReadDir(f.dir)
	if err != nil {
		return 0, errors.New("entra: cannot list the cache directory: " + errText(err))
	}
	removed := 0
	for _, de := range des {
		n := de.Name()
		entry := strings.HasSuffix(n, entrySuffix)
		if !entry && !strings.HasPrefix(n, tempPrefix) {
			continue
		}
		if err := os.Remove(filepath.Join(f.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, errors.New("entra: cannot remove a cache file: " + errText(err))
		}
		if entry {
			removed++
		}
	}
	f.syncDir()
	return removed, nil
}
