package testenv

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
)

const stripeMockBinary = "stripe-mock"

// StripeMockKey is a test secret key that stripe-mock accepts (it checks only
// the shape of the key).
const StripeMockKey = "sk_test_123"

// StripeMock is a running stripe-mock: stateless, it checks request shapes
// against Stripe's OpenAPI spec and answers with fixtures.
type StripeMock struct {
	URL     string // http://127.0.0.1:PORT, the API base for stripe-go
	LogPath string

	dir  string
	proc *process
}

// StartStripeMock starts stripe-mock on a free loopback port and returns once
// it answers an authenticated request. Call Close when done.
func StartStripeMock(ctx context.Context) (*StripeMock, error) {
	bin, err := toolPath(stripeMockBinary)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testenv-stripe-mock-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	m := &StripeMock{URL: "http://" + addr, LogPath: filepath.Join(dir, "stripe-mock.log"), dir: dir}
	m.proc, err = startProcess(ctx, procSpec{
		name: "stripe-mock",
		bin:  bin,
		// -http-addr alone still opens HTTPS on the fixed default port 12112
		// (only -http, -http-port and -port turn it off), which would collide
		// between parallel tests. Binding it to a kernel-chosen loopback port
		// keeps both listeners private and conflict-free.
		args:    []string{"-http-addr", addr, "-https-addr", "127.0.0.1:0"},
		dir:     dir,
		logPath: m.LogPath,
		ready: httpReady(m.URL+"/v1/customers", http.Header{
			"Authorization": {"Bearer " + StripeMockKey},
		}),
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return m, nil
}

// Close stops stripe-mock and removes its log. It is safe to call more than
// once.
func (m *StripeMock) Close() error {
	return errors.Join(m.proc.stop(), os.RemoveAll(m.dir))
}
