package commands

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// ceilingScenario gives cus_alice a $50.00 payment (in_alice) and a billing
// currency, so refunds and credits both have something to act on.
const ceilingScenario = `
prices:
  - {id: price_basic, product_name: Basic, unit_amount: 1000, currency: usd, interval: month}
customers:
  - id: cus_alice
    name: Alice Example
    card: {brand: visa, last4: "4242"}
    subscriptions:
      - {id: sub_alice, price: price_basic, age: 10d}
    invoices:
      - {id: in_alice, description: Consulting, amount: 5000, age: 3d, status: paid}
  - id: cus_other
    name: Oscar Other
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_other, description: Secret, amount: 9900, age: 2d, status: paid}
`

// newCeilingEnv is a refund environment whose usd ceiling is $40.00, below
// the $50.00 payment.
func newCeilingEnv(t *testing.T) *refundEnv {
	t.Helper()
	proc, rec := newTestProcessor(t)
	env := newStripeEnv(t, proc, rec, ceilingScenario)
	env.chargeIDs(t)
	proc.deps.Config.Bridge.MaxWriteAmount = map[string]string{"usd": "40", "eur": "1000"}
	return env
}

// stored reports whether the command event left a pending action behind.
func (env *refundEnv) stored(t *testing.T, evt id.EventID) bool {
	t.Helper()
	action, err := env.db.PendingAction.Get(context.Background(), mustActionID(evt))
	if err != nil {
		t.Fatal(err)
	}
	return action != nil
}

func TestWriteCeilingRefusesBeforeConfirmation(t *testing.T) {
	cases := []struct {
		name, body, command, reply string
	}{
		{"partial refund over the ceiling", "!stripe refund {charge} 45", "refund",
			"That refund of $45.00 is over the $40.00 limit for one write (bridge.max_write_amount); an admin can raise it."},
		{"full refund with no amount", "!stripe refund {charge}", "refund",
			"That refund of $50.00 is over the $40.00 limit for one write (bridge.max_write_amount); an admin can raise it."},
		{"full refund by invoice, with a reason", "!stripe refund in_alice requested", "refund",
			"That refund of $50.00 is over the $40.00 limit for one write (bridge.max_write_amount); an admin can raise it."},
		{"credit over the ceiling", "!stripe credit 1,000.01 goodwill", "credit",
			"That credit of $1,000.01 is over the $40.00 limit for one write (bridge.max_write_amount); an admin can raise it."},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newCeilingEnv(t)
			evt := id.EventID("$over" + string(rune('a'+i)))
			got := env.run(t, agent, evt, strings.ReplaceAll(c.body, "{charge}", env.charge))
			if got == nil || got.Body != c.reply {
				t.Fatalf("reply %+v, want %q", got, c.reply)
			}
			if env.stored(t, evt) {
				t.Error("a refused write was stored for confirmation")
			}
			entries := env.audit(t)
			if len(entries) != 1 || entries[0].Outcome != database.AuditDenied || entries[0].Command != c.command ||
				entries[0].Actor != agent || !strings.Contains(entries[0].Error, "max_write_amount") {
				t.Fatalf("audit %+v", entries)
			}
			if n := len(env.refunds(t)) + len(env.balanceTxns(t)); n != 0 {
				t.Errorf("%d writes reached Stripe", n)
			}
		})
	}
}

func TestWriteCeilingAllowsUpToIt(t *testing.T) {
	env := newCeilingEnv(t)
	if got := env.run(t, agent, "$at", "!stripe refund "+env.charge+" 40"); got == nil || !strings.Contains(got.Body, "Refund $40.00") {
		t.Fatalf("refund at the ceiling: %+v", got)
	}
	if got := env.run(t, agent, "$ok", "!stripe confirm "+mustActionID("$at")); got == nil || !strings.Contains(got.Body, "Refunded $40.00") {
		t.Fatalf("confirm: %+v", got)
	}
	if got := env.run(t, agent, "$cr", "!stripe credit 40"); got == nil || !strings.Contains(got.Body, "Credit $40.00") {
		t.Fatalf("credit at the ceiling: %+v", got)
	}
}

func TestWriteCeilingUnlistedCurrency(t *testing.T) {
	env := newCeilingEnv(t)
	// usd is not listed, so a $50.00 refund has no ceiling; eur's does not apply.
	env.proc.deps.Config.Bridge.MaxWriteAmount = map[string]string{"eur": "1"}
	if got := env.run(t, agent, "$usd", "!stripe refund "+env.charge); got == nil || !strings.Contains(got.Body, "Refund $50.00") {
		t.Fatalf("refund in an unlisted currency: %+v", got)
	}
}

func TestWriteCeilingRecheckedAtConfirmation(t *testing.T) {
	env := newCeilingEnv(t)
	env.run(t, agent, "$p", "!stripe refund "+env.charge+" 30")
	env.run(t, agent, "$c", "!stripe credit 30")
	// An admin lowers the ceiling (and restarts) while both prompts wait.
	env.proc.deps.Config.Bridge.MaxWriteAmount["usd"] = "20"
	for _, c := range []struct{ evt, reply string }{
		{"$p", "That refund of $30.00 is over the $20.00 limit for one write (bridge.max_write_amount); an admin can raise it. Nothing was refunded."},
		{"$c", "That credit of $30.00 is over the $20.00 limit for one write (bridge.max_write_amount); an admin can raise it. No credit was added."},
	} {
		if got := env.run(t, agent, id.EventID(c.evt+"ok"), "!stripe confirm "+mustActionID(id.EventID(c.evt))); got == nil || got.Body != c.reply {
			t.Errorf("confirm %s: %+v, want %q", c.evt, got, c.reply)
		}
	}
	if n := len(env.refunds(t)) + len(env.balanceTxns(t)); n != 0 {
		t.Errorf("%d writes reached Stripe", n)
	}
}

func TestWriteCeilingOnApprovedRequest(t *testing.T) {
	env := newCeilingEnv(t)
	env.run(t, customer, "$rq", "!stripe request-refund in_alice")
	got := env.run(t, agent, "$ap", "!stripe approve")
	want := "That refund of $50.00 is over the $40.00 limit for one write (bridge.max_write_amount); an admin can raise it. The request stays open."
	if got == nil || got.Body != want {
		t.Fatalf("approve over the ceiling: %+v, want %q", got, want)
	}
	if env.stored(t, "$ap") {
		t.Error("the refused approval prepared a refund")
	}
	entries := env.audit(t)
	if len(entries) == 0 || entries[0].Command != "approve" || entries[0].Outcome != database.AuditDenied {
		t.Fatalf("audit %+v", entries)
	}
	// The request is still waiting: once the ceiling allows, it is approved.
	env.proc.deps.Config.Bridge.MaxWriteAmount["usd"] = "50"
	if got = env.run(t, agent, "$ap2", "!stripe approve"); got == nil || !strings.Contains(got.Body, "Refund $50.00") {
		t.Fatalf("approve after raising the ceiling: %+v", got)
	}
}
