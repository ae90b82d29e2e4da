// Package logredact scrubs secrets from log output: an io.Writer that sits
// under every logger the bridge builds and replaces API keys, webhook
// secrets, tokens and bearer URLs in each line before the line reaches the
// real output. It is the last line of defence: code should not log secrets in
// the first place, but libraries (mautrix's request and transaction logging,
// stripe-go) log whole bodies at debug level, and those bodies carry them.
package logredact

import (
	"bytes"
	"io"
	"sync"
)

// Mask is what a secret is replaced with. It holds no quote or backslash, so
// a JSON line stays valid after replacement.
const Mask = "[redacted]"

// MinSecretLen is the shortest literal secret the writer scrubs. A shorter
// value would match all over ordinary log text; config validation rejects
// such tokens and keys anyway.
const MinSecretLen = 6

// maxPending bounds how much output without a newline is held back waiting
// for the rest of its line. zerolog writes one whole line per Write, so this
// only guards against a writer that does not.
const maxPending = 1 << 20

// Writer scrubs each line written to it and passes it on to the real output.
// It is safe for concurrent use.
type Writer struct {
	out      io.Writer
	literals [][]byte
	rules    []rule

	mu      sync.Mutex
	pending []byte // the start of a line whose newline has not come yet
}

// New wraps out. secrets are the literal values known to be secret (tokens,
// keys, passwords); empty and too-short ones are ignored. Each is scrubbed in
// the forms it takes inside a log line, raw and JSON-escaped, besides the
// patterns every Writer knows (see Redact).
func New(out io.Writer, secrets ...string) *Writer {
	return &Writer{out: out, literals: literalForms(secrets), rules: defaultRules()}
}

// Write scrubs p line by line. It reports len(p) on success, as io.Writer
// requires, even though what reaches the output may be shorter or longer.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := p
	if len(w.pending) > 0 {
		data = append(w.pending, p...)
		w.pending = nil
	}
	// Only whole lines are scrubbed, so that a secret split over two writes
	// is still seen in one piece.
	cut := bytes.LastIndexByte(data, '\n') + 1
	if cut < len(data) && len(data)-cut <= maxPending {
		w.pending = append([]byte(nil), data[cut:]...)
		data = data[:cut]
	}
	if len(data) == 0 {
		return len(p), nil
	}
	if _, err := w.out.Write(w.Redact(data)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out a held-back partial line, scrubbed.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil
	}
	data := w.pending
	w.pending = nil
	_, err := w.out.Write(w.Redact(data))
	return err
}

// Redact returns line with every known secret and every secret-shaped value
// replaced. It returns line itself when there is nothing to replace.
func (w *Writer) Redact(line []byte) []byte {
	for _, lit := range w.literals {
		line = replaceLiteral(line, lit)
	}
	for i := range w.rules {
		line = w.rules[i].apply(line)
	}
	return line
}
