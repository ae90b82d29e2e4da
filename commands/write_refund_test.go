package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

const refundScenario = `
customers:
  - id: cus_alice
    name: Alice Example
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_alice, description: Consulting, amount: 5000, age: 3d, status: paid}
  - id: cus_other
    name: Oscar Other
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_other, description: Secret, amount: 9900, age: 2d, status: paid}
`

type refundEnv struct {
	proc   *Processor
	rec    *recorder
	fake   *stripefake.Server
	db     *database.Database
	clock  time.Time
	charge string
	other  string
}

func newRefundEnv(t *testing.T) *refundEnv {
	t.Helper()
	proc, rec := newTestProcessor(t)
	env := newStripeEnv(t, proc, rec, refundScenario)
	env.chargeIDs(t)
	return env
}

// newStripeEnv wires proc to a fresh stripefake seeded with scenario and a
// SQLite database, in a room that belongs to cus_alice.
func newStripeEnv(t *testing.T, proc *Processor, rec *recorder, scenario string) *refundEnv {
	t.Helper()
	fake := stripefake.New(stripefake.Options{})
	if err := fake.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	if err := fake.LoadScenario(strings.NewReader(scenario)); err != nil {
		t.Fatal(err)
	}
	db := database.New(dbtest.SQLite(t))
	if err := db.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	api := stripeapi.New(stripeapi.Options{Alias: "main", Key: fake.APIKey(), URL: fake.URL(), MaxNetworkRetries: &zero, Log: zerolog.Nop()})
	env := &refundEnv{proc: proc, rec: rec, fake: fake, db: db, clock: time.Now()}
	proc.deps.Portal = func(context.Context, id.RoomID) (*database.Portal, error) {
		return &database.Portal{AccountID: "main", CustomerID: "cus_alice", Name: "Alice Example", RoomID: otherRoom}, nil
	}
	proc.deps.API = func(string) CustomerAPI { return api }
	proc.deps.Audit = db.Audit
	proc.deps.Actions = db.PendingAction
	proc.deps.Now = func() time.Time { return env.clock }
	return env
}

// chargeIDs records the charges paying in_alice and in_other.
func (env *refundEnv) chargeIDs(t *testing.T) {
	t.Helper()
	for invoice, into := range map[string]*string{"in_alice": &env.charge, "in_other": &env.other} {
		inv, err := env.fake.Client().Invoices.Get(invoice, nil)
		if err != nil || inv.Charge == nil {
			t.Fatalf("%s: %v", invoice, err)
		}
		*into = inv.Charge.ID
	}
}

// run handles one command event and returns the bot's reply to it.
func (env *refundEnv) run(t *testing.T, sender id.UserID, eventID id.EventID, body string) *event.MessageEventContent {
	t.Helper()
	before := len(env.rec.replies())
	evt := message(otherRoom, sender, body)
	evt.ID = eventID
	env.proc.Handle(context.Background(), evt)
	replies := env.rec.replies()
	if len(replies) == before {
		return nil
	}
	return replies[len(replies)-1]
}

func (env *refundEnv) refunds(t *testing.T) []*stripe.Refund {
	t.Helper()
	var out []*stripe.Refund
	iter := env.fake.Client().Refunds.List(&stripe.RefundListParams{Charge: stripe.String(env.charge)})
	for iter.Next() {
		out = append(out, iter.Refund())
	}
	return out
}

func (env *refundEnv) audit(t *testing.T) []*database.AuditEntry {
	entries, err := env.db.Audit.ListByRoom(context.Background(), otherRoom, 50)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestRefundConfirmedOnce(t *testing.T) {
	env := newRefundEnv(t)
	prompt := env.run(t, agent, "$cmd1", "!stripe refund "+env.charge+" 12.50 requested")
	if prompt == nil || !strings.Contains(prompt.Body, "Refund $12.50") || !strings.Contains(prompt.Body, "$50.00") {
		t.Fatalf("prompt %+v", prompt)
	}
	// The same command event delivered again asks nothing new.
	if again := env.run(t, agent, "$cmd1", "!stripe refund "+env.charge+" 12.50 requested"); again != nil {
		t.Errorf("redelivered command prompted again: %q", again.Body)
	}
	if got := env.run(t, customer, "$c0", "!stripe confirm"); got == nil || !strings.Contains(got.Body, "nothing waiting") {
		t.Errorf("someone else's bare confirm: %+v", got)
	}
	actionID, _ := actionKeys("$cmd1")
	if got := env.run(t, customer, "$c1", "!stripe confirm "+actionID); got == nil || !strings.Contains(got.Body, "Only") {
		t.Errorf("non-requester confirm: %+v", got)
	}
	if n := len(env.refunds(t)); n != 0 {
		t.Fatalf("%d refunds before confirmation", n)
	}
	done := env.run(t, agent, "$c2", "!stripe confirm")
	if done == nil || !strings.Contains(done.Body, "Refunded $12.50") {
		t.Fatalf("confirm reply %+v", done)
	}
	for _, evtID := range []id.EventID{"$c2", "$c3"} { // redelivery, then a second confirm
		if got := env.run(t, agent, evtID, "!stripe confirm "+actionID); got == nil || !strings.Contains(got.Body, "nothing more") {
			t.Errorf("repeat confirm %s: %+v", evtID, got)
		}
	}
	refunds := env.refunds(t)
	if len(refunds) != 1 || refunds[0].Amount != 1250 || refunds[0].Reason != stripe.RefundReasonRequestedByCustomer {
		t.Fatalf("refunds %+v", refunds)
	}
	var outcomes []string
	for _, e := range env.audit(t) {
		outcomes = append(outcomes, string(e.Outcome))
		if e.Outcome == database.AuditOK && (e.TargetObject != refunds[0].ID || e.IdempotencyKey == "" || e.StripeRequestID == "") {
			t.Errorf("ok audit entry %+v", e)
		}
	}
	// Newest first: the two repeated confirms, the refund, the customer's
	// confirm of someone else's write, the prompt. Every refusal is audited.
	if strings.Join(outcomes, ",") != "denied,denied,ok,denied,confirm_requested" {
		t.Errorf("audit outcomes newest first: %v", outcomes)
	}
}

func TestRefundRefusals(t *testing.T) {
	env := newRefundEnv(t)
	missing := env.run(t, agent, "$m", "!stripe refund ch_doesnotexist")
	other := env.run(t, agent, "$o", "!stripe refund "+env.other)
	if missing == nil || other == nil || missing.Body != other.Body {
		t.Errorf("other customer's charge %+v vs missing %+v", other, missing)
	}
	cases := []struct{ body, want string }{
		{"!stripe refund", "Usage"},
		{"!stripe refund " + env.charge + " 60", "At most $50.00"},
		{"!stripe refund " + env.charge + " 1.234", "decimal"},
		{"!stripe refund " + env.charge + " 5 because", "not a refund reason"},
		{"!stripe refund cus_alice", "Usage"},
	}
	for i, c := range cases {
		got := env.run(t, agent, id.EventID("$r"+string(rune('a'+i))), c.body)
		if got == nil || !strings.Contains(got.Body, c.want) {
			t.Errorf("%q: reply %+v, want %q", c.body, got, c.want)
		}
	}
	if n := len(env.refunds(t)); n != 0 {
		t.Fatalf("refusals refunded %d times", n)
	}
}

func TestRefundExpiresAndStripeErrorsAreSentences(t *testing.T) {
	env := newRefundEnv(t)
	env.run(t, agent, "$x1", "!stripe refund "+env.charge)
	env.clock = env.clock.Add(confirmWindow + time.Second)
	if got := env.run(t, agent, "$x2", "!stripe confirm "+mustActionID("$x1")); got == nil || !strings.Contains(got.Body, "expired") {
		t.Errorf("expired confirm: %+v", got)
	}
	// Refunded elsewhere between prompt and confirmation.
	env.run(t, agent, "$y1", "!stripe refund "+env.charge)
	if _, err := env.fake.Client().Refunds.New(&stripe.RefundParams{Charge: stripe.String(env.charge)}); err != nil {
		t.Fatal(err)
	}
	got := env.run(t, agent, "$y2", "!stripe confirm")
	if got == nil || !strings.Contains(got.Body, "refunded since you asked") || strings.Contains(got.Body, "req_") {
		t.Errorf("stripe error reply %+v", got)
	}
	if got = env.run(t, agent, "$z", "!stripe refund "+env.charge); got == nil || !strings.Contains(got.Body, "already been fully refunded") {
		t.Errorf("refund of a refunded charge: %+v", got)
	}
}

func mustActionID(evt id.EventID) string {
	actionID, _ := actionKeys(evt)
	return actionID
}
