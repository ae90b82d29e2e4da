package testenv

import (
	"testing"
)

// DendriteServer starts a Dendrite for the test (installing the pinned binary
// first if it is missing), stops it when the test ends, and fails the test
// with the homeserver's log tail if it does not come up. With opts.Dir empty
// the data lives in t.TempDir().
func DendriteServer(t testing.TB, opts DendriteOptions) *Dendrite {
	t.Helper()
	ensureToolForTest(t, dendriteBinary)
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	d, err := StartDendrite(t.Context(), opts)
	if err != nil {
		t.Fatalf("start dendrite: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", d.LogPath, logTail(d.LogPath, logTailLines))
		}
		if err := d.Close(); err != nil {
			t.Errorf("stop dendrite: %v", err)
		}
	})
	return d
}

// StripeMockServer starts stripe-mock for the test (installing the pinned
// binary first if it is missing) and stops it when the test ends.
func StripeMockServer(t testing.TB) *StripeMock {
	t.Helper()
	ensureToolForTest(t, stripeMockBinary)
	m, err := StartStripeMock(t.Context())
	if err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", m.LogPath, logTail(m.LogPath, logTailLines))
		}
		if err := m.Close(); err != nil {
			t.Errorf("stop stripe-mock: %v", err)
		}
	})
	return m
}

// ensureToolForTest installs the peers rather than skipping, so that a test
// run never passes silently without having exercised them.
func ensureToolForTest(t testing.TB, name string) {
	t.Helper()
	skipShort(t, name)
	if _, err := toolPath(name); err == nil {
		return
	}
	t.Logf("%s is missing; running scripts/install-tools.sh (the first time takes minutes)", name)
	if err := EnsureTools(t.Context()); err != nil {
		t.Fatalf("install test peers: %v", err)
	}
	if _, err := toolPath(name); err != nil {
		t.Fatal(err)
	}
}

// skipShort keeps `make test-short` to unit tests: with -short no peer is
// installed or started, whatever the test that asks for one.
func skipShort(t testing.TB, peer string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s (run without -short)", peer)
	}
}
