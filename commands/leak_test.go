package commands

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
)

// TestNoCommandLeaksAnotherCustomer runs every registered command, as every
// role, with no argument, the room customer's own ids and another customer's
// ids (then confirms whatever it asked), and checks that no reply shows the
// other customer and nothing of theirs changed in Stripe.
func TestNoCommandLeaksAnotherCustomer(t *testing.T) {
	env := newRefundEnv(t)
	roles := map[id.UserID]config.Role{
		"@admin:example.com":    config.RoleAdmin,
		agent:                   config.RoleAgent,
		customer:                config.RoleCustomer,
		"@stranger:example.com": config.RoleNone,
	}
	env.proc.deps.Role = func(_ context.Context, _ id.RoomID, user id.UserID) config.Role { return roles[user] }

	otherIDs := []string{env.other, "in_other", "cus_other"}
	ownIDs := []string{env.charge, "in_alice", "cus_alice"}
	secrets := []string{"Oscar Other", "Secret", "$99.00"}
	otherBefore := otherState(t, env)

	var names []string
	for _, cmd := range env.proc.commands {
		names = append(names, cmd.Name)
	}
	n := 0
	for user, role := range roles {
		for _, name := range names {
			for _, arg := range append(append([]string{""}, ownIDs...), otherIDs...) {
				before := len(env.rec.replies())
				n++
				env.clock = env.clock.Add(time.Minute) // no rate limit, no expiry between tries
				body := strings.TrimSpace("!stripe " + name + " " + arg)
				env.run(t, user, id.EventID(fmt.Sprintf("$leak%d", n)), body)
				if strings.Contains(arg, "other") || arg == env.other {
					env.run(t, user, id.EventID(fmt.Sprintf("$leakc%d", n)), "!stripe confirm")
				}
				for _, reply := range env.rec.replies()[before:] {
					for _, secret := range secrets {
						if strings.Contains(reply.Body, secret) || strings.Contains(reply.FormattedBody, secret) {
							t.Errorf("%s (%s) ran %q and saw %q: %q", user, role, body, secret, reply.Body)
						}
					}
					if role == config.RoleNone && !strings.Contains(reply.Body, "permission") {
						t.Errorf("user without a role ran %q and got %q", body, reply.Body)
					}
				}
			}
		}
	}
	if after := otherState(t, env); after != otherBefore {
		t.Errorf("another customer's Stripe state changed:\nbefore %s\nafter  %s", otherBefore, after)
	}
	t.Logf("%d command runs over %d commands and %d roles: 0 leaks", n, len(names), len(roles))
}

// otherState fingerprints what commands could change for cus_other.
func otherState(t *testing.T, env *refundEnv) string {
	t.Helper()
	sc := env.fake.Client()
	cus, err := sc.Customers.Get("cus_other", nil)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := sc.Invoices.Get("in_other", nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sc.Charges.Get(env.other, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("balance=%d meta=%v invoice=%s refunded=%d", cus.Balance, cus.Metadata, inv.Status, ch.AmountRefunded)
}
