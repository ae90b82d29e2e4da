package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

const commandsScenario = `
account: {id: acct_1Commands, name: Demo Shop}
customers:
  - id: cus_alice
    name: Alice Example
    email: alice@example.com
    metadata: {matrix_user_id: "@alice:localhost"}
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_alice_paid, description: Consulting, amount: 5000, age: 3d, status: paid}
  - id: cus_other
    name: Oscar Other
    email: oscar@example.com
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_other_paid, description: Secret project, amount: 9900, age: 2d, status: paid}
`

// botReplies are the bot's notices in the room, oldest first.
func botReplies(t testing.TB, cli *mautrix.Client, room id.RoomID, bot id.UserID) []*event.Event {
	var out []*event.Event
	for _, evt := range messages(t, cli, room) {
		if evt.Sender == bot {
			out = append(out, evt)
		}
	}
	return out
}

// send posts a command and waits for the bot's next reply.
func send(t *testing.T, cli *mautrix.Client, room id.RoomID, bot id.UserID, body string) string {
	t.Helper()
	before := len(botReplies(t, cli, room, bot))
	if _, err := cli.SendText(t.Context(), room, body); err != nil {
		t.Fatal(err)
	}
	var reply string
	waitFor(t, 20*time.Second, "reply to "+body, func() (bool, string) {
		replies := botReplies(t, cli, room, bot)
		if len(replies) > before {
			reply = replies[before].Content.AsMessage().Body
			return true, ""
		}
		return false, ""
	})
	return reply
}

func TestCommandsInCustomerRoom(t *testing.T) {
	fake := scenarioFake(t, commandsScenario)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	bot := s.cfg.BotMXID()
	agent := s.user(t, "agent")
	alice := s.user(t, "alice")
	mallory := s.user(t, "mallory")

	// A customer update makes the room (webhook → portal).
	if _, err := fake.Client().Customers.Update("cus_alice", &stripe.CustomerParams{Description: stripe.String("VIP")}); err != nil {
		t.Fatal(err)
	}
	portal := waitPortal(t, s, "cus_alice")
	for _, cli := range []*mautrix.Client{agent, alice} {
		waitFor(t, 20*time.Second, string(cli.UserID)+" invited", func() (bool, string) {
			_, err := cli.JoinRoomByID(t.Context(), portal.RoomID)
			return err == nil, fmt.Sprint(err)
		})
	}
	room := portal.RoomID

	t.Run("customer lists their invoices", func(t *testing.T) {
		reply := send(t, alice, room, bot, "!stripe invoices all")
		if !strings.Contains(reply, "$50.00") || strings.Contains(reply, "$99.00") || strings.Contains(reply, "in_other_paid") {
			t.Errorf("invoices reply %q", reply)
		}
	})

	t.Run("another customer's invoice is indistinguishable from a missing one", func(t *testing.T) {
		other := send(t, alice, room, bot, "!stripe invoice in_other_paid")
		missing := send(t, alice, room, bot, "!stripe invoice in_doesnotexist")
		if other != missing || strings.Contains(other, "Secret project") || strings.Contains(other, "99") {
			t.Errorf("other customer's invoice: %q; missing invoice: %q", other, missing)
		}
	})

	inv, err := fake.Client().Invoices.Get("in_alice_paid", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice charge: %v", err)
	}
	charge := inv.Charge.ID

	t.Run("a customer's refund is refused and audited", func(t *testing.T) {
		reply := send(t, alice, room, bot, "!stripe refund "+charge)
		if !strings.Contains(reply, "permission") {
			t.Errorf("customer refund reply %q", reply)
		}
		entries, err := s.bridge.DB.Audit.ListByRoom(t.Context(), room, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 || entries[0].Outcome != database.AuditDenied || entries[0].Actor != alice.UserID || entries[0].Command != "refund" {
			t.Errorf("audit %+v", entries)
		}
	})

	t.Run("a stranger in the room gets nothing", func(t *testing.T) {
		if _, err := s.bridge.Bot.InviteUser(t.Context(), room, &mautrix.ReqInviteUser{UserID: mallory.UserID}); err != nil {
			t.Fatal(err)
		}
		if _, err := mallory.JoinRoomByID(t.Context(), room); err != nil {
			t.Fatal(err)
		}
		before := len(botReplies(t, agent, room, bot))
		if _, err := mallory.SendText(t.Context(), room, "!stripe invoices"); err != nil {
			t.Fatal(err)
		}
		// A write attempt is ignored in the room too, but an admin finds it.
		resp, err := mallory.SendText(t.Context(), room, "!stripe refund "+charge)
		if err != nil {
			t.Fatal(err)
		}
		var attempt *database.AuditEntry
		waitFor(t, 20*time.Second, "the stranger's refund attempt audited", func() (bool, string) {
			entries, err := s.bridge.DB.Audit.ListByCustomer(t.Context(), "main", "cus_alice", 20)
			if err != nil {
				return false, err.Error()
			}
			for _, e := range entries {
				if e.Actor == mallory.UserID && e.Command == "refund" {
					attempt = e
					return true, ""
				}
			}
			return false, fmt.Sprint(len(entries), " entries")
		})
		if attempt.Role != "none" || attempt.Outcome != database.AuditDenied || attempt.TargetObject != charge {
			t.Errorf("audit of the stranger's attempt: %+v", attempt)
		}
		// Redelivered, it is neither answered nor audited again.
		evt, err := agent.GetEvent(t.Context(), room, resp.EventID)
		if err != nil {
			t.Fatal(err)
		}
		redeliver(t, s, evt)
		time.Sleep(2 * time.Second)
		if after := len(botReplies(t, agent, room, bot)); after != before {
			t.Errorf("the bot answered a user with no role")
		}
		entries, _ := s.bridge.DB.Audit.ListByCustomer(t.Context(), "main", "cus_alice", 50)
		n := 0
		for _, e := range entries {
			if e.Actor == mallory.UserID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d audit rows for one ignored attempt, want 1", n)
		}
	})

	t.Run("agent refund needs confirmation and happens once", func(t *testing.T) {
		prompt := send(t, agent, room, bot, "!stripe refund "+charge+" 20.00 requested_by_customer")
		if !strings.Contains(prompt, "$20.00") || !strings.Contains(prompt, "confirm") {
			t.Fatalf("prompt %q", prompt)
		}
		if refunds := listRefunds(t, fake.Client(), charge); len(refunds) != 0 {
			t.Fatalf("refunded before confirmation: %d", len(refunds))
		}
		done := send(t, agent, room, bot, "!stripe confirm")
		if !strings.Contains(done, "Refunded $20.00") {
			t.Fatalf("confirm reply %q", done)
		}
		// The homeserver delivers the confirming event a second time.
		var confirmEvt *event.Event
		for _, evt := range messages(t, agent, room) {
			if evt.Sender == agent.UserID && evt.Content.AsMessage().Body == "!stripe confirm" {
				confirmEvt = evt
			}
		}
		redeliver(t, s, confirmEvt)
		time.Sleep(2 * time.Second)
		if refunds := listRefunds(t, fake.Client(), charge); len(refunds) != 1 || refunds[0].Amount != 2000 {
			t.Fatalf("want exactly one $20.00 refund, got %+v", refunds)
		}
		again := send(t, agent, room, bot, "!stripe confirm")
		if !strings.Contains(again, "nothing") {
			t.Errorf("second confirm reply %q", again)
		}
		if refunds := listRefunds(t, fake.Client(), charge); len(refunds) != 1 {
			t.Fatalf("a second confirm refunded again: %d refunds", len(refunds))
		}
		entries, err := s.bridge.DB.Audit.ListByRoom(t.Context(), room, 20)
		if err != nil {
			t.Fatal(err)
		}
		var ok *database.AuditEntry
		for _, e := range entries {
			if e.Outcome == database.AuditOK && e.Command == "refund" {
				ok = e
			}
		}
		if ok == nil || ok.IdempotencyKey == "" || !strings.HasPrefix(ok.TargetObject, "re_") || ok.Actor != agent.UserID || ok.CustomerID != "cus_alice" {
			t.Errorf("audit of the refund: %+v", ok)
		}
	})

	t.Run("a ✅ reaction on the prompt confirms", func(t *testing.T) {
		prompt := send(t, agent, room, bot, "!stripe refund "+charge+" 5.00")
		if !strings.Contains(prompt, "$5.00") {
			t.Fatalf("prompt %q", prompt)
		}
		replies := botReplies(t, agent, room, bot)
		promptEvt := replies[len(replies)-1]
		if _, err := agent.SendReaction(t.Context(), room, promptEvt.ID, "✅"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "refund after reaction", func() (bool, string) {
			refunds := listRefunds(t, fake.Client(), charge)
			return len(refunds) == 2, fmt.Sprint(len(refunds))
		})
	})

	t.Run("an agent opens another customer's room from the management room", func(t *testing.T) {
		dm, err := agent.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Preset: "trusted_private_chat", IsDirect: true, Invite: []id.UserID{bot}})
		if err != nil {
			t.Fatal(err)
		}
		waitForReply(t, agent, dm.RoomID, bot, "management room")
		reply := send(t, agent, dm.RoomID, bot, "open oscar@example.com")
		if !strings.Contains(reply, "Invited you") {
			t.Fatalf("open reply %q", reply)
		}
		other := waitPortal(t, s, "cus_other")
		if m := membership(t, agent, other.RoomID, agent.UserID); m != event.MembershipInvite && m != event.MembershipJoin {
			t.Errorf("agent membership in the opened room: %q", m)
		}
	})
}

func listRefunds(t *testing.T, sc *client.API, charge string) []*stripe.Refund {
	t.Helper()
	var out []*stripe.Refund
	iter := sc.Refunds.List(&stripe.RefundListParams{Charge: stripe.String(charge)})
	for iter.Next() {
		out = append(out, iter.Refund())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// redeliver sends an event to the bridge again, as a homeserver retrying a
// transaction would.
func redeliver(t *testing.T, s *stack, evt *event.Event) {
	t.Helper()
	if evt == nil {
		t.Fatal("no event to redeliver")
	}
	body, err := json.Marshal(map[string]any{"events": []*event.Event{evt}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, s.cfg.AppService.Address+"/_matrix/app/v1/transactions/redeliver-"+string(evt.ID), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.cfg.AppService.HSToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("redelivery answered %d", resp.StatusCode)
	}
}
