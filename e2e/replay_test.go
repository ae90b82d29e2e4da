package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// sendEvent posts a command and returns the event as the homeserver stored
// it, so that it can be delivered to the bridge again.
func sendEvent(t *testing.T, cli *mautrix.Client, room id.RoomID, bot id.UserID, body string) (*event.Event, string) {
	t.Helper()
	before := len(botReplies(t, cli, room, bot))
	resp, err := cli.SendText(t.Context(), room, body)
	if err != nil {
		t.Fatal(err)
	}
	var reply string
	waitFor(t, 20*time.Second, "reply to "+body, func() (bool, string) {
		replies := botReplies(t, cli, room, bot)
		if len(replies) > before {
			reply = replies[len(replies)-1].Content.AsMessage().Body
			return true, ""
		}
		return false, ""
	})
	evt, err := cli.GetEvent(t.Context(), room, resp.EventID)
	if err != nil {
		t.Fatal(err)
	}
	return evt, reply
}

// putTransaction PUTs events to the bridge with the real hs_token, as the
// homeserver does when it retries a transaction.
func putTransaction(t *testing.T, s *stack, txnID string, evts ...*event.Event) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"events": evts})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, s.cfg.AppService.Address+"/_matrix/app/v1/transactions/"+txnID, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.cfg.AppService.HSToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("transaction %s answered %d", txnID, resp.StatusCode)
	}
}

// settle gives the bridge time to (wrongly) act on a redelivery; there is no
// event to wait for when the right outcome is that nothing happens.
func settle() { time.Sleep(2 * time.Second) }

func TestReplayedEventsActAtMostOnce(t *testing.T) {
	fake := scenarioFake(t, commandsScenario)
	s := startStack(t, stackOptions{fake: fake})
	bot := s.cfg.BotMXID()
	agent := s.user(t, "agent")
	alice := s.user(t, "alice")
	room := openCustomerRoom(t, s, fake, "cus_alice", agent, alice)
	inv, err := fake.Client().Invoices.Get("in_alice_paid", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice charge: %v", err)
	}
	charge := inv.Charge.ID
	refunds := func() int { return len(listRefunds(t, fake.Client(), charge)) }
	pending := func(requester id.UserID) []*database.PendingAction {
		list, err := s.bridge.DB.PendingAction.ListPending(t.Context(), room, requester, time.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	t.Run("a replayed confirm does not confirm a later write", func(t *testing.T) {
		send(t, agent, room, bot, "!stripe refund "+charge+" 3.00")
		confirm, done := sendEvent(t, agent, room, bot, "!stripe confirm")
		if !strings.Contains(done, "Refunded $3.00") {
			t.Fatalf("confirm reply %q", done)
		}
		send(t, agent, room, bot, "!stripe refund "+charge+" 4.00")
		redeliver(t, s, confirm)
		settle()
		if n := refunds(); n != 1 {
			t.Fatalf("%d refunds after the replayed confirm, want 1", n)
		}
		if list := pending(agent.UserID); len(list) != 1 || !strings.Contains(list[0].Summary, "$4.00") {
			t.Fatalf("the $4.00 refund should still wait for its confirmation: %+v", list)
		}
		recorded, err := s.bridge.DB.Processed.Action(t.Context(), confirm.ID)
		if err != nil || recorded == "" || recorded == pending(agent.UserID)[0].ID {
			t.Fatalf("the confirm event should name the $3.00 action: %q, %v", recorded, err)
		}
	})

	t.Run("with two writes waiting a bare confirm asks which", func(t *testing.T) {
		send(t, agent, room, bot, "!stripe refund "+charge+" 2.00")
		ask := send(t, agent, room, bot, "!stripe confirm")
		if !strings.Contains(ask, "2 writes waiting") || !strings.Contains(ask, "$4.00") || !strings.Contains(ask, "$2.00") {
			t.Fatalf("ambiguous confirm reply %q", ask)
		}
		if n := refunds(); n != 1 {
			t.Fatalf("an ambiguous confirm refunded: %d refunds", n)
		}
		var two *database.PendingAction
		for _, action := range pending(agent.UserID) {
			if strings.Contains(action.Summary, "$2.00") {
				two = action
			}
		}
		if two == nil {
			t.Fatal("the $2.00 refund is not waiting")
		}
		confirm, done := sendEvent(t, agent, room, bot, "!stripe confirm "+two.ID)
		if !strings.Contains(done, "Refunded $2.00") {
			t.Fatalf("confirm reply %q", done)
		}
		redeliver(t, s, confirm)
		settle()
		if n := refunds(); n != 2 {
			t.Fatalf("%d refunds, want 2", n)
		}
	})

	t.Run("a replayed bare deny does not decline a later request", func(t *testing.T) {
		send(t, alice, room, bot, "!stripe request-refund "+charge+" it broke")
		deny, declined := sendEvent(t, agent, room, bot, "!stripe deny")
		if !strings.Contains(declined, "declined") {
			t.Fatalf("deny reply %q", declined)
		}
		send(t, alice, room, bot, "!stripe request-refund "+charge+" still broken")
		redeliver(t, s, deny)
		settle()
		if list := pending("refund-request-queue"); len(list) != 1 {
			t.Fatalf("the second refund request should still wait for an agent: %d waiting", len(list))
		}
	})

	t.Run("a replayed approve prepares one refund", func(t *testing.T) {
		approve, prompt := sendEvent(t, agent, room, bot, "!stripe approve")
		if !strings.Contains(prompt, "confirm") {
			t.Fatalf("approve reply %q", prompt)
		}
		before := len(botReplies(t, agent, room, bot))
		waiting := len(pending(agent.UserID))
		redeliver(t, s, approve)
		settle()
		if after := len(botReplies(t, agent, room, bot)); after != before {
			t.Errorf("the replayed approve was answered again")
		}
		if n := len(pending(agent.UserID)); n != waiting {
			t.Errorf("the replayed approve stored another refund: %d waiting, want %d", n, waiting)
		}
	})

	t.Run("a transaction PUT twice runs its commands once", func(t *testing.T) {
		// A command event the homeserver never delivered, so only the
		// transaction id can tell the second PUT is a repeat.
		synthetic := &event.Event{
			ID: id.EventID("$replay-" + fmt.Sprint(time.Now().UnixNano())), RoomID: room, Sender: agent.UserID,
			Type: event.EventMessage, Timestamp: time.Now().UnixMilli(),
			Content: event.Content{Raw: map[string]any{"msgtype": "m.text", "body": "!stripe summary"}},
		}
		before := len(botReplies(t, agent, room, bot))
		putTransaction(t, s, "dup-"+string(synthetic.ID), synthetic)
		waitFor(t, 20*time.Second, "the summary reply", func() (bool, string) {
			return len(botReplies(t, agent, room, bot)) > before, ""
		})
		// Another transaction in between pushes the id out of mautrix's
		// in-memory cache, which remembers only the latest one.
		send(t, agent, room, bot, "!stripe version")
		putTransaction(t, s, "dup-"+string(synthetic.ID), synthetic)
		settle()
		if after := len(botReplies(t, agent, room, bot)); after != before+2 {
			t.Fatalf("%d replies after a twice-PUT transaction and one other command, want 2", after-before)
		}
	})

	t.Run("an oversized transaction is refused", func(t *testing.T) {
		pad := strings.Repeat("x", int(s.cfg.AppService.Limits.MaxTransactionBytes))
		req, _ := http.NewRequest(http.MethodPut, s.cfg.AppService.Address+"/_matrix/app/v1/transactions/too-big",
			strings.NewReader(`{"events":[],"pad":"`+pad+`"}`))
		req.Header.Set("Authorization", "Bearer "+s.cfg.AppService.HSToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized transaction answered %d, want 413", resp.StatusCode)
		}
	})

	t.Run("a redacted command cannot be confirmed", func(t *testing.T) {
		command, _ := sendEvent(t, agent, room, bot, "!stripe refund "+charge+" 0.50")
		var action *database.PendingAction
		for _, a := range pending(agent.UserID) {
			if strings.Contains(a.Summary, "$0.50") {
				action = a
			}
		}
		if action == nil {
			t.Fatal("the $0.50 refund is not waiting")
		}
		if _, err := agent.RedactEvent(t.Context(), room, command.ID); err != nil {
			t.Fatal(err)
		}
		// Dendrite does not push redactions to appservices: the bridge must
		// notice at confirmation time.
		before := refunds()
		reply := send(t, agent, room, bot, "!stripe confirm "+action.ID)
		if !strings.Contains(reply, "withdrawn") {
			t.Errorf("confirm of a redacted command: %q", reply)
		}
		if n := refunds(); n != before {
			t.Fatalf("a redacted command was refunded")
		}
		if got, err := s.bridge.DB.PendingAction.Get(t.Context(), action.ID); err != nil || got.State != database.ActionWithdrawn {
			t.Errorf("action after confirming a redacted command: %+v, %v", got, err)
		}
		entries, err := s.bridge.DB.Audit.ListByRoom(t.Context(), room, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 || entries[0].Outcome != database.AuditDenied || !strings.Contains(entries[0].Error, "redacted") {
			t.Errorf("latest audit entry %+v", entries[0])
		}
	})
}
