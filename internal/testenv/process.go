package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

const (
	defaultReadyTimeout = 60 * time.Second
	stopGrace           = 10 * time.Second
	readyPollInterval   = 50 * time.Millisecond
	logTailLines        = 40
)

// procSpec describes one peer process.
type procSpec struct {
	name    string // for messages
	bin     string
	args    []string
	dir     string
	env     []string // added to the test binary's environment
	logPath string   // stdout and stderr, appended across restarts
	// ready reports nil once the peer serves requests.
	ready        func(ctx context.Context) error
	readyTimeout time.Duration
}

// process is a running peer. Its output goes straight into the log file (the
// child holds its own descriptor), so nothing in this process has to keep
// copying, and the log survives a crash of either side.
type process struct {
	spec    procSpec
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // valid once exited is closed
}

// startProcess starts the peer and waits until spec.ready succeeds, the
// process exits, or the ready timeout (or ctx) runs out. On failure the
// process is stopped and the error carries the tail of its log. ctx bounds
// only the start; the process runs until stop.
func startProcess(ctx context.Context, spec procSpec) (*process, error) {
	logFile, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testenv: %s log: %w", spec.name, err)
	}
	// A marker line tells the runs apart when a restarted peer appends.
	fmt.Fprintf(logFile, "--- testenv: %s starting at %s: %s %s\n",
		spec.name, time.Now().Format(time.RFC3339Nano), spec.bin, strings.Join(spec.args, " "))

	cmd := exec.Command(spec.bin, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = childProcAttr()
	err = cmd.Start()
	_ = logFile.Close()
	if err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", spec.name, err)
	}

	p := &process{spec: spec, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	if err := p.waitReady(ctx); err != nil {
		_ = p.stop()
		return nil, fmt.Errorf("%w\n--- last lines of %s:\n%s", err, spec.logPath, logTail(spec.logPath, logTailLines))
	}
	return p, nil
}

func (p *process) waitReady(ctx context.Context) error {
	timeout := p.spec.readyTimeout
	if timeout <= 0 {
		timeout = defaultReadyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	var lastErr error
	for {
		attemptCtx, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		lastErr = p.spec.ready(attemptCtx)
		cancelAttempt()
		if lastErr == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("testenv: %s exited before it was ready: %v", p.spec.name, p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("testenv: %s not ready after %s: %w (last check: %v)", p.spec.name, timeout, ctx.Err(), lastErr)
		case <-ticker.C:
		}
	}
}

// stop asks the peer to shut down cleanly (so SQLite and the media store are
// left consistent for a restart), and kills it if it is still there after
// stopGrace. It is safe to call more than once.
func (p *process) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("testenv: %s ignored SIGTERM for %s and was killed", p.spec.name, stopGrace)
}

func (p *process) pid() int {
	return p.cmd.Process.Pid
}

// httpReady returns a readiness check that wants a 200 from url.
func httpReady(url string, header http.Header) func(ctx context.Context) error {
	client := &http.Client{}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
		}
		return nil
	}
}

// freePort asks the kernel for an unused loopback port. Another process may
// grab it before the peer binds it; that race is rare enough on a test
// machine, and the peer then fails fast with a clear bind error in its log.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last n lines of the file at path, reading at most the
// last 64 KiB so a huge log stays cheap.
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	const maxRead = 64 << 10
	if info, err := f.Stat(); err == nil && info.Size() > maxRead {
		if _, err := f.Seek(-maxRead, io.SeekEnd); err != nil {
			return fmt.Sprintf("(cannot read log: %v)", err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return lastLines(data, n)
}

func lastLines(data []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
