package ratelimit

import (
	"sync"
	"time"
)

// Verdict is what a Warner says of one message.
type Verdict int

const (
	// Allowed: go ahead.
	Allowed Verdict = iota
	// Warn: over the limit; say "slow down" once.
	Warn
	// Drop: still over the limit after the warning; say nothing.
	Drop
)

// Warner is a token bucket per key for what the bot answers in a room (a
// command, a question to the assistant): a flood gets one warning, then
// silence, so the bot never amplifies it. It is per process: a flood
// spread over several bridge processes gets a larger budget, which is
// acceptable for a guard against spam.
type Warner struct {
	mu      sync.Mutex
	burst   float64
	refill  time.Duration
	buckets map[string]*warnBucket
	sweep   time.Time
}

type warnBucket struct {
	tokens float64
	last   time.Time
	warned bool
}

// NewWarner allows burst at once per key, and one more every refill.
func NewWarner(burst int, refill time.Duration) *Warner {
	return &Warner{burst: float64(burst), refill: refill, buckets: map[string]*warnBucket{}}
}

// Take spends one of key's tokens at now.
func (w *Warner) Take(key string, now time.Time) Verdict {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.forgetIdle(now)
	b, ok := w.buckets[key]
	if !ok {
		b = &warnBucket{tokens: w.burst, last: now}
		w.buckets[key] = b
	}
	b.tokens = min(w.burst, b.tokens+float64(now.Sub(b.last))/float64(w.refill))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		b.warned = false
		return Allowed
	}
	if b.warned {
		return Drop
	}
	b.warned = true
	return Warn
}

// forgetIdle drops, once a minute at most, the buckets full again anyway.
func (w *Warner) forgetIdle(now time.Time) {
	if now.Sub(w.sweep) < time.Minute {
		return
	}
	w.sweep = now
	full := time.Duration(w.burst * float64(w.refill))
	for key, b := range w.buckets {
		if now.Sub(b.last) > full {
			delete(w.buckets, key)
		}
	}
}
