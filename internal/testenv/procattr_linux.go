package testenv

import "syscall"

// childProcAttr makes the kernel SIGKILL a peer when the test binary dies
// (timeout panic, SIGKILL from `go test`), so no homeserver outlives its test.
// Pdeathsig fires when the creating OS thread exits; the Go runtime only ends
// threads of goroutines that exit while locked with runtime.LockOSThread, so
// do not start peers from such a goroutine.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
