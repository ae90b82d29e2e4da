package webchat

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiterSet is one token bucket per key (a session, a client address), per
// process: a flood spread over several bridge processes gets a larger
// budget, which is acceptable for a guard against spam.
type limiterSet struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	buckets map[string]*limiterEntry
	sweep   time.Time
}

type limiterEntry struct {
	limiter *rate.Limiter
	used    time.Time
}

func newLimiterSet(every rate.Limit, burst int) limiterSet {
	return limiterSet{every: every, burst: burst, buckets: map[string]*limiterEntry{}}
}

// idleBucket: a bucket unused this long is full again anyway, so it is
// forgotten to keep the map small.
const idleBucket = 10 * time.Minute

func (l *limiterSet) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.sweep) > idleBucket {
		for k, e := range l.buckets {
			if now.Sub(e.used) > idleBucket {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	e := l.buckets[key]
	if e == nil {
		e = &limiterEntry{limiter: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = e
	}
	e.used = now
	return e.limiter.AllowN(now, 1)
}
