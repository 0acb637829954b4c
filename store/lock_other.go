//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
)

// fileStoreSupported: the file store does not run on this system yet.
//
// On Windows it needs: a lock with LockFileEx (golang.org/x/sys/windows)
// instead of flock; a check of the directory's and files' DACL (owner
// only, no inherited Everyone/Users access) instead of POSIX modes; and
// os.Rename (MoveFileEx with MOVEFILE_REPLACE_EXISTING) retried while
// another process has the target open. Until then NewFile returns
// ErrUnsupported there, and the package still compiles.
const fileStoreSupported = false

// errUnsupportedLock: no cross-process lock here (NewFile refuses first).
var errUnsupportedLock = errors.New("entra: the file store is not supported on this system yet")

func lockDir(context.Context, string) (func(), error) { return nil, errUnsupportedLock }

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }

func ownedByOther(fs.FileInfo) bool { return false }
