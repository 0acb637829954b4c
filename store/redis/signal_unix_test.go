//go:build unix

package redisstore_test

import (
	"os"
	"syscall"
	"testing"
)

func pause(_ testing.TB, p *os.Process) { _ = p.Signal(syscall.SIGSTOP) }
func resume(p *os.Process)              { _ = p.Signal(syscall.SIGCONT) }
