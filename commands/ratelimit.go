package commands

import (
	"sync"
	"time"

	"maunium.net/go/mautrix/id"
)

// A user may send commandBurst commands at once and one more every
// commandRefill after that; a flood gets one warning, then silence, so the
// bot never amplifies it.
const (
	commandBurst  = 10
	commandRefill = 2 * time.Second
)

type limitResult int

const (
	limitOK limitResult = iota
	limitWarn
	limitDrop
)

type bucket struct {
	tokens float64
	last   time.Time
	warned bool
}

// rateLimiter is per process: a flood spread over several bridge processes
// gets a larger budget, which is acceptable for a guard against spam.
type rateLimiter struct {
	mu      sync.Mutex
	burst   float64
	refill  time.Duration
	buckets map[id.UserID]*bucket
}

func newRateLimiter(burst int, refill time.Duration) *rateLimiter {
	return &rateLimiter{burst: float64(burst), refill: refill, buckets: make(map[id.UserID]*bucket)}
}

func (rl *rateLimiter) take(user id.UserID, now time.Time) limitResult {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	b, ok := rl.buckets[user]
	if !ok {
		b = &bucket{tokens: rl.burst, last: now}
		rl.buckets[user] = b
	}
	b.tokens = min(rl.burst, b.tokens+float64(now.Sub(b.last))/float64(rl.refill))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		b.warned = false
		return limitOK
	}
	if b.warned {
		return limitDrop
	}
	b.warned = true
	return limitWarn
}
