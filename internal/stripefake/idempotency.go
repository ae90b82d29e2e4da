package stripefake

import (
	"sort"
	"strings"
	"time"
)

// idemTTL is how long Stripe keeps idempotency keys.
const idemTTL = 24 * time.Hour

type idemEntry struct {
	method, path string
	params       string
	requestID    string
	res          response
	at           time.Time
}

// idempotencyStore replays responses for a repeated Idempotency-Key.
// stripe-go puts a random key on every POST, so entries expire as Stripe's
// do, or a long demo would grow without bound.
type idempotencyStore struct {
	entries map[string]*idemEntry
	stores  int
}

// normalizeParams makes parameter order irrelevant when comparing requests.
func normalizeParams(raw string) string {
	var pairs []string
	for _, p := range strings.Split(raw, "&") {
		if p != "" {
			pairs = append(pairs, p)
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// replay answers a request whose key was seen before: the same response
// when it is the same request, Stripe's idempotency_error when it is not.
func (s *idempotencyStore) replay(key, method, path, rawParams string) (response, bool) {
	e, ok := s.entries[key]
	if !ok || time.Since(e.at) > idemTTL {
		return response{}, false
	}
	if e.method != method || e.path != path {
		return errorResponse(errIdempotency(
			"Keys for idempotent requests can only be used for the same endpoint they were first used for ('%s %s' vs '%s %s'). Try using a key other than '%s' if you meant to execute a different request.",
			e.method, e.path, method, path, key)), true
	}
	if e.params != normalizeParams(rawParams) {
		return errorResponse(errIdempotency(
			"Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '%s' if you meant to execute a different request.",
			key)), true
	}
	res := e.res
	res.replayOf = e.requestID
	return res, true
}

func (s *idempotencyStore) store(key, method, path, rawParams, reqID string, res response, now time.Time) {
	s.stores++
	if s.stores%256 == 0 {
		for k, e := range s.entries {
			if now.Sub(e.at) > idemTTL {
				delete(s.entries, k)
			}
		}
	}
	s.entries[key] = &idemEntry{
		method: method, path: path, params: normalizeParams(rawParams),
		requestID: reqID, res: res, at: now,
	}
}
