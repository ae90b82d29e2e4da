package commands

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// auditScenario gives both customers a paid invoice (a charge), an open
// invoice and a subscription, so every write command has another customer's
// object to be pointed at.
const auditScenario = `
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
    invoices:
      - {id: in_alice, description: Consulting, amount: 5000, age: 3d, status: paid}
      - {id: in_alice_open, description: Hours, amount: 2000, age: 1d, status: open}
  - id: cus_other
    name: Oscar Other
    card: {brand: visa, last4: "4242"}
    subscriptions:
      - {id: sub_other, price: price_basic, age: 10d}
    invoices:
      - {id: in_other, description: Secret, amount: 9900, age: 2d, status: paid}
      - {id: in_other_open, description: Secret too, amount: 9900, age: 2d, status: open}
`

func newAuditEnv(t *testing.T) *refundEnv {
	t.Helper()
	proc, rec := newTestProcessor(t)
	env := newStripeEnv(t, proc, rec, auditScenario)
	env.chargeIDs(t)
	return env
}

// denied is the room's denied audit rows, newest first.
func (env *refundEnv) denied(t *testing.T) []*database.AuditEntry {
	t.Helper()
	var out []*database.AuditEntry
	for _, e := range env.audit(t) {
		if e.Outcome == database.AuditDenied {
			out = append(out, e)
		}
	}
	return out
}

// admin runs a command in the agent's management room and returns the reply.
func (env *refundEnv) admin(t *testing.T, body string) string {
	t.Helper()
	env.clock = env.clock.Add(commandRefill)
	before := len(env.rec.replies())
	env.proc.Handle(context.Background(), message(mgmtRoom, agent, body))
	replies := env.rec.replies()
	if len(replies) == before {
		t.Fatalf("no reply to %q", body)
	}
	return replies[len(replies)-1].Body
}

// TestOwnershipRefusalsAudited points every write command (and pay) of
// cus_alice's room at cus_other's object and at a missing one: the room
// hears the same sentence for both, the audit log tells them apart and names
// cus_other, and `audit cus_other` and `audit <id>` find the attempt.
func TestOwnershipRefusalsAudited(t *testing.T) {
	const otherCharge = "<other charge>" // filled in per env
	cases := []struct {
		sender          id.UserID
		command, form   string // form has %s where the id goes
		other, missing  string
		wantRole        config.Role
		wantReplyPrefix string
	}{
		{agent, "refund", "refund %s", otherCharge, "ch_nosuch", config.RoleAgent, "No such charge"},
		{agent, "refund", "refund %s 5", "in_other", "in_nosuch", config.RoleAgent, "No such invoice"},
		{agent, "void", "void %s", "in_other_open", "in_nosuch", config.RoleAgent, "No such invoice"},
		{agent, "retry-invoice", "retry-invoice %s", "in_other_open", "in_nosuch", config.RoleAgent, "No such invoice"},
		{agent, "send", "send %s", "in_other_open", "in_nosuch", config.RoleAgent, "No such invoice"},
		{agent, "cancel", "cancel %s now", "sub_other", "sub_nosuch", config.RoleAgent, "No such subscription"},
		{agent, "resume", "resume %s", "sub_other", "sub_nosuch", config.RoleAgent, "No such subscription"},
		{agent, "pause", "pause %s", "sub_other", "sub_nosuch", config.RoleAgent, "No such subscription"},
		{agent, "unpause", "unpause %s", "sub_other", "sub_nosuch", config.RoleAgent, "No such subscription"},
		{agent, "change-plan", "change-plan %s price_pro", "sub_other", "sub_nosuch", config.RoleAgent, "No such subscription"},
		{agent, "coupon", "coupon %s HALF", "sub_other", "sub_nosuch", config.RoleAgent, "No such subscription"},
		{customer, "request-refund", "request-refund %s", otherCharge, "ch_nosuch", config.RoleCustomer, "No such charge"},
		{customer, "pay", "pay %s", "in_other_open", "in_nosuch", config.RoleCustomer, "No such invoice"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf(c.form, c.other), func(t *testing.T) {
			env := newAuditEnv(t)
			other := c.other
			if other == otherCharge {
				other = env.other
			}
			gotOther := env.run(t, c.sender, "$other", "!stripe "+fmt.Sprintf(c.form, other))
			gotMissing := env.run(t, c.sender, "$missing", "!stripe "+fmt.Sprintf(c.form, c.missing))
			if gotOther == nil || gotMissing == nil || !strings.HasPrefix(gotOther.Body, c.wantReplyPrefix) {
				t.Fatalf("replies %+v / %+v, want %q", gotOther, gotMissing, c.wantReplyPrefix)
			}
			// The security property: nothing in the room tells the two apart.
			if gotOther.Body != gotMissing.Body || gotOther.FormattedBody != gotMissing.FormattedBody {
				t.Errorf("another customer's id answered %q, a missing one %q", gotOther.Body, gotMissing.Body)
			}

			rows := env.denied(t)
			if len(rows) != 2 {
				t.Fatalf("%d denied rows, want 2: %+v", len(rows), rows)
			}
			missing, foreign := rows[0], rows[1]
			want := database.AuditEntry{
				Actor: c.sender, Role: string(c.wantRole), AccountID: "main", CustomerID: "cus_alice", RoomID: otherRoom,
				Command: c.command, TargetObject: other, Outcome: database.AuditDenied,
				Error: "object belongs to another customer", TargetCustomerID: "cus_other",
			}
			checkRow(t, "another customer's id", foreign, want)
			want.TargetObject, want.Error, want.TargetCustomerID = c.missing, "no such object", ""
			checkRow(t, "missing id", missing, want)

			// The admin looking at the victim finds the attempt, and why.
			got := env.admin(t, "audit cus_other")
			if !strings.Contains(got, other) || !strings.Contains(got, "object belongs to another customer") ||
				!strings.Contains(got, "of `cus_other`") || !strings.Contains(got, "in the room of `cus_alice`") {
				t.Errorf("audit cus_other: %q", got)
			}
			if strings.Contains(got, c.missing) {
				t.Errorf("audit cus_other lists the missing id: %q", got)
			}
			if got = env.admin(t, "audit "+c.missing); !strings.Contains(got, "no such object") || strings.Contains(got, other) {
				t.Errorf("audit %s: %q", c.missing, got)
			}
		})
	}
}

// checkRow compares the fields an admin reads; ids and times vary.
func checkRow(t *testing.T, what string, got *database.AuditEntry, want database.AuditEntry) {
	t.Helper()
	g := *got
	g.ID, g.Timestamp, g.Parameters = 0, want.Timestamp, nil
	if !reflect.DeepEqual(g, want) {
		t.Errorf("%s: audit row\n got %+v\nwant %+v", what, g, want)
	}
}

// TestSelfServiceRefusalsAudited: a customer's self-service write refused by
// the bridge's policy leaves a denied row saying why.
func TestSelfServiceRefusalsAudited(t *testing.T) {
	cases := []struct {
		name, body       string
		policy           func(b *config.BridgeConfig)
		command, target  string
		why, replyPrefix string
	}{
		{"request-refund with the policy off", "request-refund in_alice", func(b *config.BridgeConfig) { b.SelfService = config.SelfServicePolicy{} },
			"request-refund", "", "self-service policy off", "`request-refund` is switched off"},
		{"cancel with the policy off", "unsubscribe", func(b *config.BridgeConfig) { b.SelfService = config.SelfServicePolicy{} },
			"cancel", "", "self-service policy off", "`cancel` is switched off"},
		{"change-plan with the policy off", "change-plan price_pro", func(b *config.BridgeConfig) { b.SelfService.ChangePlan, b.Plans = false, []string{"price_pro"} },
			"change-plan", "", "self-service policy off", "`change-plan` is switched off"},
		{"a plan not offered", "change-plan price_basic", func(b *config.BridgeConfig) { b.SelfService.ChangePlan, b.Plans = true, []string{"price_pro"} },
			"change-plan", "price_basic", "plan not offered for self-service", "Usage"},
		{"cancel naming a subscription", "cancel sub_other", func(b *config.BridgeConfig) { b.SelfService.Cancel = true },
			"cancel", "sub_other", "self-service cancel takes no id", "Usage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newAuditEnv(t)
			c.policy(&env.proc.deps.Config.Bridge)
			got := env.run(t, customer, "$self", "!stripe "+c.body)
			if got == nil || !strings.HasPrefix(got.Body, c.replyPrefix) {
				t.Fatalf("reply %+v, want %q", got, c.replyPrefix)
			}
			rows := env.denied(t)
			if len(rows) != 1 {
				t.Fatalf("%d denied rows, want 1: %+v", len(rows), rows)
			}
			checkRow(t, c.name, rows[0], database.AuditEntry{
				Actor: customer, Role: string(config.RoleCustomer), AccountID: "main", CustomerID: "cus_alice", RoomID: otherRoom,
				Command: c.command, TargetObject: c.target, Outcome: database.AuditDenied, Error: c.why,
			})
		})
	}
}

func reaction(room id.RoomID, sender id.UserID, key string, to id.EventID) *event.Event {
	return &event.Event{
		Type: event.EventReaction, RoomID: room, Sender: sender, ID: "$react",
		Content: event.Content{Parsed: &event.ReactionEventContent{RelatesTo: event.RelatesTo{
			Type: event.RelAnnotation, EventID: to, Key: key,
		}}},
	}
}

// TestAuditIgnored: what a user without a role sends in a customer room is
// never answered, but a write attempt is audited.
func TestAuditIgnored(t *testing.T) {
	cases := []struct {
		name    string
		evt     func(env *refundEnv) *event.Event
		command string // "" means no row
		target  string
	}{
		{"refund of another customer's charge", func(env *refundEnv) *event.Event {
			return message(otherRoom, stranger, "!stripe refund "+env.other)
		}, "refund", "<other>"},
		{"prefix in capitals", func(*refundEnv) *event.Event { return message(otherRoom, stranger, "!STRIPE VOID in_alice_open") }, "void", "in_alice_open"},
		{"an alias", func(*refundEnv) *event.Event { return message(otherRoom, stranger, "!stripe unsubscribe") }, "cancel", ""},
		{"confirm", func(*refundEnv) *event.Event { return message(otherRoom, stranger, "!stripe confirm act_123") }, "confirm", ""},
		{"a ✅ reaction", func(*refundEnv) *event.Event { return reaction(otherRoom, stranger, "✅", "$prompt") }, "confirm", ""},
		{"a ✅ reaction with a variation selector", func(*refundEnv) *event.Event { return reaction(otherRoom, stranger, "✅\ufe0f", "$prompt") }, "confirm", ""},
		{"another reaction", func(*refundEnv) *event.Event { return reaction(otherRoom, stranger, "👍", "$prompt") }, "", ""},
		{"a read command", func(*refundEnv) *event.Event { return message(otherRoom, stranger, "!stripe invoices") }, "", ""},
		{"chat", func(*refundEnv) *event.Event { return message(otherRoom, stranger, "refund ch_123 please") }, "", ""},
		{"the bare prefix", func(*refundEnv) *event.Event { return message(otherRoom, stranger, "!stripe") }, "", ""},
		{"an unknown command", func(*refundEnv) *event.Event { return message(otherRoom, stranger, "!stripe frobnicate") }, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newAuditEnv(t)
			evt := c.evt(env)
			env.proc.AuditIgnored(context.Background(), evt)
			if n := len(env.rec.replies()); n != 0 {
				t.Errorf("%d replies to a user without a role", n)
			}
			rows := env.audit(t)
			if c.command == "" {
				if len(rows) != 0 {
					t.Errorf("audited %+v", rows)
				}
				return
			}
			if len(rows) != 1 {
				t.Fatalf("%d rows, want 1: %+v", len(rows), rows)
			}
			target := c.target
			if target == "<other>" {
				target = env.other
			}
			checkRow(t, c.name, rows[0], database.AuditEntry{
				Actor: stranger, Role: "none", AccountID: "main", CustomerID: "cus_alice", RoomID: otherRoom,
				Command: c.command, TargetObject: target, Outcome: database.AuditDenied, Error: "no role in this room",
			})
		})
	}

	t.Run("found by audit", func(t *testing.T) {
		env := newAuditEnv(t)
		env.proc.AuditIgnored(context.Background(), message(otherRoom, stranger, "!stripe refund "+env.other))
		got := env.admin(t, "audit cus_alice")
		if !strings.Contains(got, string(stranger)) || !strings.Contains(got, "(no role) ran `refund` on `"+env.other+"`") ||
			!strings.Contains(got, "no role in this room") {
			t.Errorf("audit cus_alice: %q", got)
		}
	})

	t.Run("not a customer room", func(t *testing.T) {
		env := newAuditEnv(t)
		env.proc.deps.Portal = func(context.Context, id.RoomID) (*database.Portal, error) { return nil, nil }
		env.proc.AuditIgnored(context.Background(), message(mgmtRoom, stranger, "!stripe refund ch_123"))
		if rows := env.audit(t); len(rows) != 0 {
			t.Errorf("audited outside a customer room: %+v", rows)
		}
	})

	t.Run("a flood writes a bounded number of rows", func(t *testing.T) {
		env := newAuditEnv(t)
		for range 3 * commandBurst {
			env.proc.AuditIgnored(context.Background(), message(otherRoom, stranger, "!stripe refund ch_123"))
		}
		if n := len(env.audit(t)); n != commandBurst {
			t.Errorf("%d rows for %d attempts at one instant, want %d", n, 3*commandBurst, commandBurst)
		}
	})
}
