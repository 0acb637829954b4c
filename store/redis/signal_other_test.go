//go:build !unix

package redisstore_test

import (
	"os"
	"testing"
)

func pause(t testing.TB, _ *os.Process) { t.Skip("pausing a process (SIGSTOP) needs a Unix system") }
func resume(*os.Process)                {}
