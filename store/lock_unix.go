//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// fileStoreSupported: the file store runs here (flock and POSIX modes).
const fileStoreSupported = true

// lockDir takes the cross-process lock of dir: an exclusive flock(2) on
// dir/.lock, polled so that ctx bounds the wait. The lock belongs to the
// open file description, so goroutines of one process exclude each other
// too; it is released by unlock or when the process dies.
func lockDir(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.OpenFile(dir+string(os.PathSeparator)+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, errors.New("entra: cannot open the file store's lock file: " + errText(err))
	}
	wait := 200 * time.Microsecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			_ = f.Close()
			return nil, errors.New("entra: cannot lock the file store: " + errText(err))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			_ = f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
}

// openNoFollow opens an entry file for reading, refusing a symbolic link
// (another user could plant one to make us read or overwrite elsewhere).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// ownedByOther reports whether fi belongs to another user than this
// process's effective user.
func ownedByOther(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) != os.Geteuid()
}
