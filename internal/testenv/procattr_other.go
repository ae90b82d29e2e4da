//go:build !linux

package testenv

import "syscall"

// childProcAttr has no parent-death signal outside Linux; Close is then the
// only thing that stops a peer.
func childProcAttr() *syscall.SysProcAttr { return nil }
