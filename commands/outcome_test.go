package commands

import (
	"context"
	"slices"
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
)

// outcomes records what OnCommand hears, as "command outcome".
type outcomes struct {
	mu   sync.Mutex
	seen []string
}

func (o *outcomes) record(command, outcome string) {
	o.mu.Lock()
	o.seen = append(o.seen, command+" "+outcome)
	o.mu.Unlock()
}

func (o *outcomes) last(t *testing.T) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.seen) == 0 {
		t.Fatal("OnCommand heard nothing")
	}
	return o.seen[len(o.seen)-1]
}

// TestOnCommandOutcomes: each command run reports its registered name and
// what became of it, the processor's refusals and the writes' audited
// outcomes alike.
func TestOnCommandOutcomes(t *testing.T) {
	t.Run("processor outcomes", func(t *testing.T) {
		proc, _ := newTestProcessor(t)
		heard := &outcomes{}
		proc.deps.OnCommand = heard.record
		proc.Register(&Command{Name: "boom", Role: config.RoleAgent, Help: "panics", Func: func(*Event) { panic("boom") }})
		for _, c := range []struct {
			body   string
			sender id.UserID
			want   string
		}{
			{"!stripe version", agent, "version ok"},
			{"!stripe VERSION", agent, "version ok"},
			{"!stripe frobnicate", agent, "unknown unknown"},
			{"!stripe ping", customer, "ping refused"},
			{"!stripe boom", agent, "boom panic"},
		} {
			proc.Handle(context.Background(), message(otherRoom, c.sender, c.body))
			if got := heard.last(t); got != c.want {
				t.Errorf("%s from %s: heard %q, want %q", c.body, c.sender, got, c.want)
			}
		}
		for range 3 * commandBurst {
			proc.Handle(context.Background(), message(otherRoom, agent, "!stripe version"))
		}
		if got := heard.last(t); got != "version rate_limited" {
			t.Errorf("a flood: heard %q, want version rate_limited", got)
		}
	})
	t.Run("audited writes", func(t *testing.T) {
		env := newRefundEnv(t)
		heard := &outcomes{}
		env.proc.deps.OnCommand = heard.record
		env.run(t, agent, "$r1", "!stripe refund "+env.charge+" 5")
		if got := heard.last(t); got != "refund confirm_requested" {
			t.Errorf("a refund asked: heard %q", got)
		}
		env.clock = env.clock.Add(commandRefill)
		env.run(t, agent, "$c1", "!stripe confirm")
		if got := heard.last(t); got != "confirm ok" {
			t.Errorf("the refund confirmed: heard %q", got)
		}
		env.clock = env.clock.Add(commandRefill)
		env.run(t, agent, "$r2", "!stripe refund "+env.other)
		if got := heard.last(t); got != "refund refused" {
			t.Errorf("another customer's charge: heard %q", got)
		}
		heard.mu.Lock()
		defer heard.mu.Unlock()
		if slices.ContainsFunc(heard.seen, func(s string) bool { return len(s) > 40 }) {
			t.Errorf("a label value is not a bounded name: %q", heard.seen)
		}
	})
}
