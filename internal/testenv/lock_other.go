//go:build !unix

package testenv

import "context"

// lockFile is a no-op where flock is unavailable; concurrent installs are
// then the caller's risk.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
