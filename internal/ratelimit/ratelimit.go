// Package ratelimit keeps one token bucket per key: per session or client
// address for the bridge's HTTP endpoints that strangers can reach, and
// per user (warn once, then silence) for what the bot answers in rooms.
package ratelimit

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Set is one token bucket per key, per process: a flood spread over
// several bridge processes gets a larger budget, which is acceptable for a
// guard against spam.
type Set struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	buckets map[string]*entry
	sweep   time.Time
}

type entry struct {
	limiter *rate.Limiter
	used    time.Time
}

// New allows burst at once per key, refilled at every.
func New(every rate.Limit, burst int) *Set {
	return &Set{every: every, burst: burst, buckets: map[string]*entry{}}
}

// idleBucket: a bucket unused this long is full again anyway, so it is
// forgotten to keep the map small.
const idleBucket = 10 * time.Minute

// Allow takes a token from key's bucket, reporting whether there was one.
func (l *Set) Allow(key string) bool {
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
		e = &entry{limiter: rate.NewLimiter(l.every, l.burst)}
		l.buckets[key] = e
	}
	e.used = now
	return e.limiter.AllowN(now, 1)
}

// ClientIP is the request's peer address without its port.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
