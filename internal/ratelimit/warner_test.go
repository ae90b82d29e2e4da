package ratelimit

import (
	"testing"
	"time"
)

func TestWarnerWarnsOnceThenDrops(t *testing.T) {
	w := NewWarner(3, time.Second)
	now := time.Unix(1000, 0)
	var got []Verdict
	for range 6 {
		got = append(got, w.Take("@a:x", now))
	}
	want := []Verdict{Allowed, Allowed, Allowed, Warn, Drop, Drop}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", got, want)
		}
	}
	if v := w.Take("@b:x", now); v != Allowed {
		t.Errorf("another user: %v", v)
	}
	// One token back after refill; a new flood warns again.
	now = now.Add(time.Second)
	if v := w.Take("@a:x", now); v != Allowed {
		t.Errorf("after refill: %v", v)
	}
	if v := w.Take("@a:x", now); v != Warn {
		t.Errorf("the next flood: %v", v)
	}
	// Idle buckets are forgotten; a forgotten one is full.
	now = now.Add(time.Hour)
	w.Take("@c:x", now)
	if _, ok := w.buckets["@a:x"]; ok {
		t.Error("an idle bucket was kept")
	}
}
