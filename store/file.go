package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/entrakit/entra"
)

// defaultMaxValueSize bounds a stored value (before encryption).
const defaultMaxValueSize = 1 << 20

// entrySuffix ends the name of every entry file; tempPrefix starts the
// name of a file being written.
const (
	entrySuffix = ".entry"
	tempPrefix  = ".tmp-"
)

// FileOptions configures a File store. The zero value (or nil) works.
type FileOptions struct {
	// Dir is the cache directory. Empty means os.UserCacheDir()/entra
	// (~/.cache/entra on Linux, ~/Library/Caches/entra on macOS). It is
	// created with mode 0700 if missing; an existing one must be owned by
	// this user and not readable or writable by others.
	Dir string
	// Logger receives the unusable files found (once per file) and
	// failures to remove expired ones. nil discards.
	Logger *slog.Logger
	// MaxValueSize bounds a value, in bytes; a larger file is treated as
	// corrupt and a larger Save fails. 0 means 1 MiB.
	MaxValueSize int
	// Now is the clock, for expiry; nil means time.Now.
	Now func() time.Time
}

// File is an encrypted file store: one file per entry in one directory,
// named by the SHA-256 of the entry's key, holding the key, its expiry and
// the value sealed by a KeyRing (AES-256-GCM, bound to the key and
// expiry). It implements entra.Store.
//
// Files are written atomically (a temporary file in the same directory,
// fsync, rename, fsync of the directory) with mode 0600 in a 0700
// directory. Several processes can share a directory: writes, deletions
// and the removal of an expired file take a cross-process lock
// (flock(2) on dir/.lock), so no process removes a value another one just
// wrote and nothing is lost. An expired value is a miss and is removed; a
// corrupt, truncated, oversized or foreign-key file is logged once, is a
// miss, and is replaced by the next Save.
//
// A File is safe for concurrent use by goroutines and processes. Each
// method's ctx bounds its wait for the lock.
type File struct {
	dir      string
	ring     *KeyRing
	logger   *slog.Logger
	maxValue int
	now      func() time.Time

	mu     sync.Mutex        // guards logged only; never held across I/O
	logged map[string]string // file name -> signature of the bad content already logged
}

var _ entra.Store = (*File)(nil)

// PermissionError reports a cache directory or file that another user can
// read or write, or that another user owns: the File store refuses it,
// since it would expose or let others plant tokens.
type PermissionError struct {
	Path string
	Mode fs.FileMode
	// Owner is true when the path belongs to another user.
	Owner bool
}

func (e *PermissionError) Error() string {
	if e.Owner {
		return fmt.Sprintf("entra: cache path %s belongs to another user; remove it or choose another FileOptions.Dir", e.Path)
	}
	return fmt.Sprintf("entra: cache path %s has mode %v, open to other users; run chmod go-rwx on it or choose another FileOptions.Dir", e.Path, e.Mode.Perm())
}

// ErrUnsupported is returned by NewFile on a system the file store does
// not support yet (Windows: it needs LockFileEx and an ACL check).
var ErrUnsupported = errors.New("entra: the encrypted file store does not support this system yet (Windows needs LockFileEx and an ACL check); use the Redis store or entra's in-memory cache")

// NewFile returns an encrypted file store in opts.Dir, sealing values with
// ring (required: there is no plaintext mode). It creates the directory
// (0700) if needed and fails with a *PermissionError if it is open to, or
// owned by, another user.
func NewFile(ring *KeyRing, opts *FileOptions) (*File, error) {
	if !fileStoreSupported {
		return nil, ErrUnsupported
	}
	if ring == nil || len(ring.keys) == 0 {
		return nil, errors.New("entra: the file store needs a key ring (store.NewKeyRing); values are always encrypted")
	}
	var o FileOptions
	if opts != nil {
		o = *opts
	}
	if o.Dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, errors.New("entra: no user cache directory (set $HOME or $XDG_CACHE_HOME), or set FileOptions.Dir")
		}
		o.Dir = filepath.Join(base, "entra")
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = defaultMaxValueSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("entra: cache directory %s: %w", o.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("entra: cannot create cache directory %s: %s", dir, errText(err))
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("entra: cache directory %s: %s", dir, errText(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("entra: cache path %s is not a directory; choose another FileOptions.Dir", dir)
	}
	if err := checkPerm(dir, fi); err != nil {
		return nil, err
	}
	return &File{dir: dir, ring: ring, logger: o.Logger, maxValue: o.MaxValueSize, now: o.Now, logged: map[string]string{}}, nil
}

// Dir returns the store's directory. Safe for concurrent use.
func (f *File) Dir() string { return f.dir }

func checkPerm(path string, fi fs.FileInfo) error {
	if ownedByOther(fi) {
		return &PermissionError{Path: path, Mode: fi.Mode(), Owner: true}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &PermissionError{Path: path, Mode: fi.Mode()}
	}
	return nil
}

// name returns the file name of key.
func name(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:]) + entrySuffix
}

// Load returns the value saved under key. A missing, expired (then
// removed), corrupt, truncated, oversized or foreign-key file gives an
// error wrapping entra.ErrNotFound; a file open to other users gives a
// *PermissionError (the next Save replaces it with a private one). ctx
// bounds the wait for the lock when an expired file is removed. Safe for
// concurrent use.
func (f *File) Load(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := name(key)
	b, err := f.read(n)
	if err != nil {
		return nil, err
	}
	h, v, err := decodeEntry(f.ring, b, key)
	if err != nil {
		f.logBad(n, b, err)
		return nil, &missError{err}
	}
	if !f.now().Before(h.exp) {
		f.removeIfUnchanged(ctx, n, b)
		return nil, entra.ErrNotFound
	}
	return v, nil
}

// read returns the content of entry file n, checked for size and mode.
func (f *File) read(n string) ([]byte, error) {
	fh, err := openNoFollow(filepath.Join(f.dir, n))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, entra.ErrNotFound
	}
	if err != nil {
		f.logBad(n, nil, errors.New("entra: unreadable cache file: "+errText(err)))
		return nil, &missError{ErrCorrupt}
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.logBad(n, nil, errors.New("entra: cache file is not a regular file"))
		return nil, &missError{ErrCorrupt}
	}
	if err := checkPerm(filepath.Join(f.dir, n), fi); err != nil {
		return nil, err
	}
	limit := int64(f.maxValue) + fileHeaderBase + MaxKeySize + minSealedV1
	if fi.Size() > limit {
		f.logBad(n, []byte(fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())), errors.New("entra: cache file is larger than FileOptions.MaxValueSize allows"))
		return nil, &missError{ErrCorrupt}
	}
	b, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil || int64(len(b)) > limit {
		f.logBad(n, b, errors.New("entra: cache file could not be read whole"))
		return nil, &missError{ErrCorrupt}
	}
	return b, nil
}

// logBad logs an unusable file once per content.
func (f *File) logBad(n string, content []byte, why error) {
	sum := sha256.Sum256(content)
	sig := hex.EncodeToString(sum[:8]) + why.Error()
	f.mu.Lock()
	seen := f.logged[n] == sig
	if !seen {
		if len(f.logged) >= 4096 {
			clear(f.logged)
		}
		f.logged[n] = sig
	}
	f.mu.Unlock()
	if !seen {
		f.logger.Warn("entra: cache file unusable; treated as a miss, the next save replaces it",
			slog.String("file", filepath.Join(f.dir, n)), slog.String("error", why.Error()))
	}
}

// removeIfUnchanged removes entry file n if it still holds old, under the
// lock, so that a value another process wrote meanwhile survives.
func (f *File) removeIfUnchanged(ctx context.Context, n string, old []byte) {
	unlock, err := lockDir(ctx, f.dir)
	if err != nil {
		return
	}
	defer unlock()
	cur, err := os.ReadFile(filepath.Join(f.dir, n))
	if err != nil || !bytes.Equal(cur, old) {
		return
	}
	if err := os.Remove(filepath.Join(f.dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.logger.Warn("entra: cannot remove an expired cache file", slog.String("file", filepath.Join(f.dir, n)), slog.String("error", errText(err)))
	}
}

// Save writes value under key, worthless after ttl (a ttl <= 0 deletes
// key). The file is written in full and synced before it replaces the old
// one, so a crash leaves the old value or the new one, never a mix. ctx
// bounds the wait for the lock. Safe for concurrent use.
func (f *File) Save(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return f.Delete(ctx, key)
	}
	if len(value) > f.maxValue {
		return fmt.Errorf("entra: store value of %d bytes exceeds FileOptions.MaxValueSize (%d)", len(value), f.maxValue)
	}
	b, err := encodeEntry(f.ring, key, f.now().Add(ttl), value)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, tempPrefix+"*")
	if err != nil {
		return errors.New("entra: cannot write to the cache directory: " + errText(err))
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := tmp.Chmod(0o600); err != nil && fileStoreSupported {
		_ = tmp.Close()
		return errors.New("entra: cannot set cache file mode: " + errText(err))
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return errors.New("entra: cannot write a cache file: " + errText(err))
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return errors.New("entra: cannot sync a cache file: " + errText(err))
	}
	if err := tmp.Close(); err != nil {
		return errors.New("entra: cannot write a cache file: " + errText(err))
	}
	unlock, err := lockDir(ctx, f.dir)
	if err != nil {
		return err
	}
	err = os.Rename(tmp.Name(), filepath.Join(f.dir, name(key)))
	unlock()
	if err != nil {
		return errors.New("entra: cannot replace a cache file: " + errText(err))
	}
	f.syncDir()
	return nil
}

// syncDir makes renames and removals in the directory durable.
func (f *File) syncDir() {
	if d, err := os.Open(f.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Delete removes key's file; a missing one is not an error. ctx bounds the
// wait for the lock. Safe for concurrent use.
func (f *File) Delete(ctx context.Context, key string) error {
	unlock, err := lockDir(ctx, f.dir)
	if err != nil {
		return err
	}
	err = os.Remove(filepath.Join(f.dir, name(key)))
	unlock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errors.New("entra: cannot remove a cache file: " + errText(err))
	}
	f.syncDir()
	return nil
}

// errText is err's text without the path (the caller names the file).
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Op + ": " + le.Err.Error()
	}
	return err.Error()
}
