package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

const agentWriteScenario = `
prices:
  - {id: price_basic, product_name: Basic, unit_amount: 1000, currency: usd, interval: month}
  - {id: price_pro, product_name: Pro, unit_amount: 2500, currency: usd, interval: month}
coupons:
  - {id: HALF, name: Half off, percent_off: 50, duration: forever}
customers:
  - id: cus_alice
    name: Alice Example
    card: {brand: visa, last4: "4242"}
    subscriptions:
      - {id: sub_alice, price: price_basic, age: 10d}
      - {id: sub_ending, price: price_basic, age: 10d, cancel_at_period_end: true}
      - {id: sub_held, price: price_basic, age: 10d, pause_collection: void}
    invoices:
      - {id: in_open, description: Setup, amount: 4000, age: 2d, status: open}
      - {id: in_paid, description: Consulting, amount: 5000, age: 3d, status: paid}
  - id: cus_other
    name: Oscar Other
    card: {brand: visa, last4: "4242"}
    subscriptions:
      - {id: sub_other, price: price_basic, age: 10d}
    invoices:
      - {id: in_other, description: Secret, amount: 9900, age: 2d, status: open}
`

// newAgentWriteEnv is newRefundEnv's setup with subscriptions, prices, a
// coupon and open invoices on both customers.
func newAgentWriteEnv(t *testing.T) *refundEnv {
	t.Helper()
	proc, rec := newTestProcessor(t)
	return newStripeEnv(t, proc, rec, agentWriteScenario)
}

func (env *refundEnv) sub(t *testing.T, id string) *stripe.Subscription {
	t.Helper()
	sub, err := env.fake.Client().Subscriptions.Get(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func (env *refundEnv) invoice(t *testing.T, id string) *stripe.Invoice {
	t.Helper()
	inv, err := env.fake.Client().Invoices.Get(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func (env *refundEnv) balanceTxns(t *testing.T) []*stripe.CustomerBalanceTransaction {
	t.Helper()
	var out []*stripe.CustomerBalanceTransaction
	iter := env.fake.Client().CustomerBalanceTransactions.List(&stripe.CustomerBalanceTransactionListParams{Customer: stripe.String("cus_alice")})
	for iter.Next() {
		out = append(out, iter.CustomerBalanceTransaction())
	}
	return out
}

func TestAgentWritesConfirmedOnce(t *testing.T) {
	cases := []struct {
		cmd, prompt, done string
		changed           func(t *testing.T, env *refundEnv) bool
	}{
		{"cancel sub_alice", "at the end of its period", "will end on",
			func(t *testing.T, env *refundEnv) bool { return env.sub(t, "sub_alice").CancelAtPeriodEnd }},
		{"cancel sub_alice now", "Cancel subscription `sub_alice` now", "Canceled subscription",
			func(t *testing.T, env *refundEnv) bool {
				return env.sub(t, "sub_alice").Status == stripe.SubscriptionStatusCanceled
			}},
		{"resume sub_ending", "withdraw its cancellation", "no longer canceling",
			func(t *testing.T, env *refundEnv) bool { return !env.sub(t, "sub_ending").CancelAtPeriodEnd }},
		{"resume sub_held", "Resume payment collection", "back on",
			func(t *testing.T, env *refundEnv) bool { return env.sub(t, "sub_held").PauseCollection == nil }},
		{"pause sub_alice until 2099-01-01", "until 1 Jan 2099", "Paused payment collection",
			func(t *testing.T, env *refundEnv) bool {
				pc := env.sub(t, "sub_alice").PauseCollection
				return pc != nil && pc.Behavior == "void" && pc.ResumesAt == time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
			}},
		{"unpause sub_held", "Resume payment collection", "back on",
			func(t *testing.T, env *refundEnv) bool { return env.sub(t, "sub_held").PauseCollection == nil }},
		{"change-plan sub_alice price_pro", "($10.00/month) → `price_pro` ($25.00/month), effective now. Proration for the rest of the current period is computed by Stripe", "now on `price_pro`",
			func(t *testing.T, env *refundEnv) bool {
				return env.sub(t, "sub_alice").Items.Data[0].Price.ID == "price_pro"
			}},
		{"change-plan sub_alice price_pro none", "No proration", "now on `price_pro`",
			func(t *testing.T, env *refundEnv) bool {
				return env.sub(t, "sub_alice").Items.Data[0].Price.ID == "price_pro"
			}},
		{"coupon sub_alice HALF", "50% off for ever", "Coupon `HALF` is on",
			func(t *testing.T, env *refundEnv) bool {
				d := env.sub(t, "sub_alice").Discount
				return d != nil && d.Coupon != nil && d.Coupon.ID == "HALF"
			}},
		{"credit 12.50 sorry for the outage", "goes from zero to $12.50 in credit", "the balance is now $12.50 in credit",
			func(t *testing.T, env *refundEnv) bool {
				txns := env.balanceTxns(t)
				return len(txns) == 1 && txns[0].Amount == -1250 && txns[0].Description == "sorry for the outage"
			}},
		{"void in_open", "Void invoice", "Voided invoice `in_open`",
			func(t *testing.T, env *refundEnv) bool {
				return env.invoice(t, "in_open").Status == stripe.InvoiceStatusVoid
			}},
		{"retry-invoice in_open", "Charge $40.00 now", "is paid ($40.00 paid)",
			func(t *testing.T, env *refundEnv) bool {
				return env.invoice(t, "in_open").Status == stripe.InvoiceStatusPaid
			}},
	}
	for _, c := range cases {
		t.Run(c.cmd, func(t *testing.T) {
			env := newAgentWriteEnv(t)
			prompt := env.run(t, agent, "$cmd", "!stripe "+c.cmd)
			if prompt == nil || !strings.Contains(prompt.Body, c.prompt) || !strings.Contains(prompt.Body, "confirm") {
				t.Fatalf("prompt %+v, want %q", prompt, c.prompt)
			}
			if c.changed(t, env) {
				t.Fatal("Stripe changed before confirmation")
			}
			done := env.run(t, agent, "$ok", "!stripe confirm")
			if done == nil || !strings.Contains(done.Body, c.done) {
				t.Fatalf("confirm reply %+v, want %q", done, c.done)
			}
			for _, evtID := range []id.EventID{"$ok", "$again"} {
				if got := env.run(t, agent, evtID, "!stripe confirm "+mustActionID("$cmd")); got == nil || !strings.Contains(got.Body, "nothing more") {
					t.Errorf("repeat confirm %s: %+v", evtID, got)
				}
			}
			if !c.changed(t, env) {
				t.Error("Stripe did not change")
			}
			oks := 0
			for _, e := range env.audit(t) {
				if e.Outcome == database.AuditOK {
					oks++
					if e.IdempotencyKey == "" || e.StripeRequestID == "" || e.TargetObject == "" {
						t.Errorf("ok audit entry %+v", e)
					}
				}
			}
			if oks != 1 {
				t.Errorf("%d Stripe writes audited, want 1", oks)
			}
		})
	}
}

func TestAgentWritesRefusals(t *testing.T) {
	env := newAgentWriteEnv(t)
	n := 0
	run := func(body string) string {
		n++
		// Past the per-user rate limit, which would answer nothing.
		env.clock = env.clock.Add(time.Minute)
		got := env.run(t, agent, id.EventID("$r"+string(rune('a'+n%26))+string(rune('a'+n/26))), "!stripe "+body)
		if got == nil {
			t.Errorf("%q: no reply", body)
			return ""
		}
		return got.Body
	}
	// Another customer's object answers exactly like a missing one.
	for _, pair := range [][2]string{
		{"cancel sub_other", "cancel sub_nosuch"}, {"resume sub_other", "resume sub_nosuch"},
		{"pause sub_other", "pause sub_nosuch"}, {"unpause sub_other", "unpause sub_nosuch"},
		{"change-plan sub_other price_pro", "change-plan sub_nosuch price_pro"},
		{"coupon sub_other HALF", "coupon sub_nosuch HALF"},
		{"void in_other", "void in_nosuch"}, {"retry-invoice in_other", "retry-invoice in_nosuch"},
		{"send in_other", "send in_nosuch"},
	} {
		other, missing := run(pair[0]), run(pair[1])
		if other != missing || !strings.Contains(other, "No such") {
			t.Errorf("%q = %q, %q = %q", pair[0], other, pair[1], missing)
		}
	}
	for _, c := range []struct{ body, want string }{
		{"cancel", "Usage: `cancel"}, {"cancel sub_alice later", "Usage: `cancel"},
		{"resume", "Usage: `resume"}, {"pause sub_alice until tomorrow", "Usage: `pause"},
		{"pause sub_alice until 2001-01-01", "future"}, {"unpause", "Usage: `unpause"},
		{"change-plan sub_alice", "Usage: `change-plan"}, {"change-plan sub_alice price_pro maybe", "Usage: `change-plan"},
		{"coupon sub_alice", "Usage: `coupon"}, {"coupon sub_alice ../x", "Usage: `coupon"},
		{"credit", "Usage: `credit"}, {"credit -5", "positive"}, {"credit 1.234", "decimals"},
		{"void", "Usage: `void"}, {"retry-invoice sub_alice", "Usage: `retry-invoice"}, {"send in_open extra", "Usage: `send"},
		// State errors, said before any confirmation.
		{"void in_paid", "is paid; only open"}, {"retry-invoice in_paid", "is paid; only open"},
		{"send in_open", "charged automatically"}, {"resume sub_alice", "nothing to resume"},
		{"unpause sub_alice", "not paused"}, {"pause sub_held", "already paused"},
		{"cancel sub_ending", "already set to cancel"}, {"change-plan sub_alice price_basic", "already on"},
		{"change-plan sub_alice price_nosuch", "No such price"}, {"coupon sub_alice NOSUCH", "No such coupon"},
	} {
		if got := run(c.body); !strings.Contains(got, c.want) {
			t.Errorf("%q: reply %q, want %q", c.body, got, c.want)
		}
	}
	env.run(t, agent, "$cancelnow", "!stripe cancel sub_alice now")
	env.run(t, agent, "$cancelok", "!stripe confirm")
	if got := run("cancel sub_alice now"); !strings.Contains(got, "already canceled") {
		t.Errorf("cancel of a canceled subscription: %q", got)
	}
	for _, e := range env.audit(t) {
		if e.Outcome == database.AuditOK && e.Command != "cancel" {
			t.Errorf("a refusal wrote to Stripe: %+v", e)
		}
	}
}

func TestCustomerCannotRunAgentWrites(t *testing.T) {
	env := newAgentWriteEnv(t)
	cmds := []string{"resume sub_ending", "pause sub_alice", "unpause sub_held", "change-plan sub_alice price_pro",
		"coupon sub_alice HALF", "credit 5", "void in_open", "retry-invoice in_open", "send in_open"}
	for i, body := range cmds {
		env.clock = env.clock.Add(time.Minute)
		got := env.run(t, customer, id.EventID("$c"+string(rune('a'+i))), "!stripe "+body)
		// change-plan is also a self-service command, refused by its policy.
		if got == nil || !(strings.Contains(got.Body, "don't have permission") || strings.Contains(got.Body, "switched off")) {
			t.Errorf("customer %q: %+v", body, got)
		}
	}
	denied := 0
	for _, e := range env.audit(t) {
		if e.Outcome == database.AuditDenied {
			denied++
		}
	}
	if denied != len(cmds) {
		t.Errorf("%d refusals audited, want %d", denied, len(cmds))
	}
	// cancel is shared with the customers' self-service cancel: a customer
	// naming a subscription gets that command's answer, never the agent form.
	env.run(t, customer, "$cx", "!stripe cancel sub_alice now")
	env.run(t, customer, "$cy", "!stripe confirm")
	if sub := env.sub(t, "sub_alice"); sub.Status == stripe.SubscriptionStatusCanceled {
		t.Error("a customer canceled a subscription through the agent form")
	}
	if env.sub(t, "sub_held").PauseCollection == nil || env.invoice(t, "in_open").Status != stripe.InvoiceStatusOpen || len(env.balanceTxns(t)) != 0 {
		t.Error("a customer's refused write changed Stripe")
	}
}

func TestCustomerChangePlanPolicy(t *testing.T) {
	env := newAgentWriteEnv(t)
	bridge := &env.proc.deps.Config.Bridge
	try := func(evt, body string) string {
		env.clock = env.clock.Add(time.Minute)
		got := env.run(t, customer, id.EventID(evt), "!stripe "+body)
		if got == nil {
			t.Fatalf("no reply to %q", body)
		}
		return got.Body
	}
	bridge.SelfService.ChangePlan, bridge.Plans = false, []string{"price_pro"}
	if got := try("$p1", "change-plan price_pro"); !strings.Contains(got, "switched off") {
		t.Errorf("policy off: %q", got)
	}
	bridge.SelfService.ChangePlan = true
	if got := try("$p2", "change-plan price_secret"); !strings.Contains(got, "Usage") || !strings.Contains(got, "price_pro") {
		t.Errorf("unlisted price: %q", got)
	}
	// Several live subscriptions: the customer form cannot guess which.
	if got := try("$p3", "change-plan price_pro"); !strings.Contains(got, "ask an agent") {
		t.Errorf("several subscriptions: %q", got)
	}
}
