package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// billingMessages are the ghost's messages in a room, oldest first.
func billingMessages(t testing.TB, cli *mautrix.Client, room id.RoomID, ghost id.UserID) []string {
	var out []string
	for _, evt := range messages(t, cli, room) {
		if evt.Sender == ghost {
			out = append(out, evt.Content.AsMessage().Body)
		}
	}
	return out
}

// waitMessages waits until the room shows at least n billing messages:
// Dendrite's /messages trails its send path by a moment.
func waitMessages(t testing.TB, cli *mautrix.Client, room id.RoomID, ghost id.UserID, n int) []string {
	t.Helper()
	var msgs []string
	waitFor(t, 20*time.Second, fmt.Sprintf("%d messages", n), func() (bool, string) {
		msgs = billingMessages(t, cli, room, ghost)
		return len(msgs) >= n, fmt.Sprint(len(msgs))
	})
	return msgs
}

func waitPortal(t testing.TB, s *stack, customerID string) *database.Portal {
	t.Helper()
	var portal *database.Portal
	waitFor(t, 30*time.Second, "room for "+customerID, func() (bool, string) {
		var err error
		portal, err = s.bridge.DB.Portal.Get(context.Background(), "main", customerID)
		return err == nil && portal != nil && portal.RoomID != "", fmt.Sprint(err)
	})
	return portal
}

func waitInboxSettled(t testing.TB, s *stack, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d events delivered", n), func() (bool, string) {
		var delivered, other int
		rows, err := s.bridge.DB.Query(context.Background(), "SELECT state FROM stripe_event")
		if err != nil {
			return false, err.Error()
		}
		defer rows.Close()
		for rows.Next() {
			var state string
			_ = rows.Scan(&state)
			if state == string(database.EventDelivered) {
				delivered++
			} else {
				other++
			}
		}
		return delivered >= n && other == 0, fmt.Sprintf("%d delivered, %d other", delivered, other)
	})
}

func TestTimeline(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	agent := s.user(t, "agent")
	alice := s.user(t, "alice")
	ghost := s.cfg.GhostMXID("main")
	sc := fake.Client()

	cus, err := sc.Customers.New(&stripe.CustomerParams{
		Name:     stripe.String("Alice Example"),
		Email:    stripe.String("alice@example.com"),
		Metadata: map[string]string{"matrix_user_id": string(alice.UserID)},
	})
	if err != nil {
		t.Fatal(err)
	}
	portal := waitPortal(t, s, cus.ID)

	t.Run("room is named, bridged and has the right members", func(t *testing.T) {
		if portal.Name != "Alice Example" || portal.MatrixUserID != alice.UserID {
			t.Errorf("portal %+v", portal)
		}
		for _, user := range []*mautrix.Client{agent, alice} {
			waitFor(t, 20*time.Second, string(user.UserID)+" invited", func() (bool, string) {
				m := membership(t, s.bridge.Bot.Client, portal.RoomID, user.UserID)
				return m == event.MembershipInvite || m == event.MembershipJoin, string(m)
			})
			if _, err := user.JoinRoomByID(t.Context(), portal.RoomID); err != nil {
				t.Fatalf("%s join: %v", user.UserID, err)
			}
		}
		var name event.RoomNameEventContent
		if err := agent.StateEvent(t.Context(), portal.RoomID, event.StateRoomName, "", &name); err != nil || name.Name != "Alice Example" {
			t.Errorf("room name %q (%v)", name.Name, err)
		}
		var topic event.TopicEventContent
		if err := agent.StateEvent(t.Context(), portal.RoomID, event.StateTopic, "", &topic); err != nil ||
			!strings.Contains(topic.Topic, "alice@example.com") || !strings.Contains(topic.Topic, cus.ID) || !strings.Contains(topic.Topic, "/test/customers/") {
			t.Errorf("room topic %q (%v)", topic.Topic, err)
		}
		var pl event.PowerLevelsEventContent
		if err := agent.StateEvent(t.Context(), portal.RoomID, event.StatePowerLevels, "", &pl); err != nil {
			t.Fatal(err)
		}
		if pl.GetUserLevel(s.bridge.Bot.UserID) != 100 || pl.GetUserLevel(agent.UserID) != 50 || pl.GetUserLevel(alice.UserID) != 0 {
			t.Errorf("power levels %+v", pl.Users)
		}
		var bridgeInfo event.BridgeEventContent
		if err := agent.StateEvent(t.Context(), portal.RoomID, event.StateBridge, "matrix-stripe://stripe/main/"+cus.ID, &bridgeInfo); err != nil ||
			bridgeInfo.BridgeBot != s.bridge.Bot.UserID || bridgeInfo.Channel.ID != cus.ID {
			t.Errorf("m.bridge %+v (%v)", bridgeInfo, err)
		}
		acct, err := s.bridge.DB.Account.Get(t.Context(), "main")
		if err != nil || acct.SpaceRoomID == "" {
			t.Fatalf("no space: %+v %v", acct, err)
		}
		var child event.SpaceChildEventContent
		if err := s.bridge.Bot.StateEvent(t.Context(), acct.SpaceRoomID, event.StateSpaceChild, portal.RoomID.String(), &child); err != nil || len(child.Via) == 0 {
			t.Errorf("room is not in the account space: %+v (%v)", child, err)
		}
		waitFor(t, 20*time.Second, "customer.created message", func() (bool, string) {
			msgs := billingMessages(t, agent, portal.RoomID, ghost)
			return len(msgs) == 1, strings.Join(msgs, " | ")
		})
	})

	t.Run("customer.updated renames the room and moves the link", func(t *testing.T) {
		bob := s.user(t, "bob")
		_, err := sc.Customers.Update(cus.ID, &stripe.CustomerParams{
			Name:     stripe.String("Alice & Bob Ltd"),
			Metadata: map[string]string{"matrix_user_id": string(bob.UserID)},
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "bob invited and alice removed", func() (bool, string) {
			b, a := membership(t, agent, portal.RoomID, bob.UserID), membership(t, agent, portal.RoomID, alice.UserID)
			return b == event.MembershipInvite && a == event.MembershipLeave, string(b) + "/" + string(a)
		})
		var name event.RoomNameEventContent
		if err := agent.StateEvent(t.Context(), portal.RoomID, event.StateRoomName, "", &name); err != nil || name.Name != "Alice & Bob Ltd" {
			t.Errorf("room name %q (%v)", name.Name, err)
		}
		waitInboxSettled(t, s, 2)
	})

	t.Run("duplicate webhook delivery posts once", func(t *testing.T) {
		before := len(waitMessages(t, agent, portal.RoomID, ghost, 2))
		evts := fake.Events()
		last := evts[len(evts)-1]
		for range 2 {
			if err := postSigned(s, last.JSON); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(2 * time.Second)
		if msgs := billingMessages(t, agent, portal.RoomID, ghost); len(msgs) != before {
			t.Errorf("want %d messages after duplicate deliveries, got %d: %q", before, len(msgs), msgs)
		}
	})

	t.Run("crash between send and commit still posts once", func(t *testing.T) {
		// Play a bridge that claimed an event, sent it and died before
		// recording the delivery: its lease runs out and a live worker
		// redelivers with the same transaction id. (A phone number is
		// something the customer sees; a description-only update posts
		// nothing in their room.)
		_, err := sc.Customers.Update(cus.ID, &stripe.CustomerParams{Phone: stripe.String("+1 555 0100")})
		if err != nil {
			t.Fatal(err)
		}
		waitInboxSettled(t, s, 3)
		before := len(waitMessages(t, agent, portal.RoomID, ghost, 3))
		evts := fake.Events()
		row, err := s.bridge.DB.Event.Get(t.Context(), evts[len(evts)-1].ID)
		if err != nil || row == nil {
			t.Fatalf("inbox row: %v", err)
		}
		firstMXID := row.MatrixEventID
		if _, err = s.bridge.DB.Exec(t.Context(), "UPDATE stripe_event SET state='pending', matrix_event_id=NULL, delivered_at=NULL, claimed_by='dead-worker', claimed_until=$2 WHERE event_id=$1",
			row.ID, time.Now().Add(2*time.Second).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		waitInboxSettled(t, s, 3)
		row, _ = s.bridge.DB.Event.Get(t.Context(), row.ID)
		if row.MatrixEventID != firstMXID {
			t.Errorf("redelivery made a new Matrix event %s, first was %s", row.MatrixEventID, firstMXID)
		}
		if after := len(billingMessages(t, agent, portal.RoomID, ghost)); after != before {
			t.Errorf("redelivery after a crash posted again: %d messages, want %d", after, before)
		}
	})

	t.Run("homeserver down: everything arrives later, in order", func(t *testing.T) {
		if err := s.hs.Stop(); err != nil {
			t.Fatal(err)
		}
		// A second apart, so Stripe's whole-second created orders them.
		for i := range 4 {
			phone := fmt.Sprintf("+1 555 010%d", i+1)
			if _, err := sc.Customers.Update(cus.ID, &stripe.CustomerParams{Phone: stripe.String(phone)}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond)
		}
		if err := s.hs.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		waitInboxSettled(t, s, 7)
		msgs := waitMessages(t, agent, portal.RoomID, ghost, 7)
		if len(msgs) != 7 {
			t.Fatalf("want 7 messages, got %d: %q", len(msgs), msgs)
		}
		assertDeliveredInOrder(t, s, agent, portal.RoomID)
	})
}

// assertDeliveredInOrder checks that the room shows the customer's events in
// Stripe's created order. Events created in the same second have no defined
// order (Stripe's timestamps are whole seconds), so only created is compared.
func assertDeliveredInOrder(t testing.TB, s *stack, cli *mautrix.Client, room id.RoomID) {
	t.Helper()
	rows, err := s.bridge.DB.Query(t.Context(), "SELECT event_id, matrix_event_id, created FROM stripe_event WHERE state='delivered'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type shown struct {
		stripeID string
		created  int64
	}
	byMatrixID := map[id.EventID]shown{}
	for rows.Next() {
		var row shown
		var mxID id.EventID
		if err := rows.Scan(&row.stripeID, &mxID, &row.created); err != nil {
			t.Fatal(err)
		}
		byMatrixID[mxID] = row
	}
	var last shown
	for _, evt := range messages(t, cli, room) {
		row, ok := byMatrixID[evt.ID]
		if !ok {
			continue
		}
		if row.created < last.created {
			t.Errorf("%s (created %d) is shown after %s (created %d)", row.stripeID, row.created, last.stripeID, last.created)
		}
		last = row
	}
}

// postSigned delivers a raw event to the bridge's webhook like Stripe does.
func postSigned(s *stack, payload []byte) error {
	return postTo(context.Background(), http.DefaultClient, s.cfg.AppService.Address+"/stripe/webhook/main", payload)
}

func TestTwoBridgesOnOnePostgresNeverDoublePost(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	s.secondProcess(t)

	agent := s.user(t, "agent")
	ghost := s.cfg.GhostMXID("main")
	sc := fake.Client()
	const customers, updates = 5, 3
	var ids []string
	for i := range customers {
		cus, err := sc.Customers.New(&stripe.CustomerParams{Name: stripe.String(fmt.Sprintf("Customer %d", i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, cus.ID)
	}
	for u := range updates {
		for _, cid := range ids {
			if _, err := sc.Customers.Update(cid, &stripe.CustomerParams{Phone: stripe.String(fmt.Sprintf("+1 555 010%d", u))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	total := customers * (1 + updates)
	waitInboxSettled(t, s, total)
	posted := 0
	for _, cid := range ids {
		portal := waitPortal(t, s, cid)
		joinWhenInvited(t, agent, portal.RoomID)
		// Dendrite's /messages lags its send path a little: wait for the
		// expected count, then make sure nothing more arrives.
		posted += len(waitMessages(t, agent, portal.RoomID, ghost, 1+updates))
		assertDeliveredInOrder(t, s, agent, portal.RoomID)
	}
	time.Sleep(time.Second)
	posted = 0
	for _, cid := range ids {
		portal := waitPortal(t, s, cid)
		posted += len(billingMessages(t, agent, portal.RoomID, ghost))
	}
	if posted != total {
		t.Errorf("posted %d messages for %d events", posted, total)
	}
	var rooms int
	if err := s.bridge.DB.QueryRow(t.Context(), "SELECT COUNT(*) FROM portal").Scan(&rooms); err != nil || rooms != customers {
		t.Errorf("%d portals for %d customers (%v)", rooms, customers, err)
	}
}

func TestCatchUpDeliversMissedEvents(t *testing.T) {
	// No webhook endpoint points at the bridge: as if every webhook was lost.
	fake := newFake(t)
	s := startStack(t, stackOptions{stripeURL: fake.URL()})
	cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String("Missed Webhooks Ltd")})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if p, _ := s.bridge.DB.Portal.Get(t.Context(), "main", cus.ID); p != nil {
		t.Fatal("a room exists although no webhook arrived")
	}
	if err = s.bridge.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	portal := waitPortal(t, s, cus.ID)
	waitInboxSettled(t, s, 1)
	if portal.Name != "Missed Webhooks Ltd" {
		t.Errorf("portal name %q", portal.Name)
	}
	// A second catch-up finds the same events and inserts nothing new.
	if err = s.bridge.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err = s.bridge.DB.QueryRow(t.Context(), "SELECT COUNT(*) FROM stripe_event").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d inbox rows after two catch-ups, want 1 (%v)", n, err)
	}
}

// TestTimelineRouting runs on SQLite: events that name no customer still
// find their room.
func TestTimelineRouting(t *testing.T) {
	fake := newFake(t)
	if err := fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{fake: fake})
	agent := s.user(t, "agent")
	ghost := s.cfg.GhostMXID("main")

	t.Run("a dispute reaches its customer's room through the charge", func(t *testing.T) {
		inv, err := fake.Client().Invoices.Get("in_refunded", nil)
		if err != nil || inv.Charge == nil {
			t.Fatalf("invoice: %v", err)
		}
		if _, err = fake.CreateDispute(inv.Charge.ID, "fraudulent"); err != nil {
			t.Fatal(err)
		}
		portal := waitPortal(t, s, "cus_refund")
		if portal.Name != "Rita Refund" {
			t.Errorf("dispute went to %q", portal.Name)
		}
		joinWhenInvited(t, agent, portal.RoomID)
		waitFor(t, 20*time.Second, "a dispute message", func() (bool, string) {
			msgs := billingMessages(t, agent, portal.RoomID, ghost)
			for _, msg := range msgs {
				if strings.Contains(strings.ToLower(msg), "dispute") {
					return true, ""
				}
			}
			return false, strings.Join(msgs, " | ")
		})
	})

	t.Run("an event without a customer goes to the account feed", func(t *testing.T) {
		payload := fmt.Appendf(nil, `{"id":"evt_payout_1","object":"event","api_version":"2023-10-16","created":%d,"type":"payout.paid","livemode":false,
"data":{"object":{"id":"po_1","object":"payout","amount":50000,"currency":"usd","status":"paid"}}}`, time.Now().Unix())
		if err := postSigned(s, payload); err != nil {
			t.Fatal(err)
		}
		var feed id.RoomID
		waitFor(t, 30*time.Second, "feed room", func() (bool, string) {
			acct, err := s.bridge.DB.Account.Get(t.Context(), "main")
			if err != nil || acct == nil {
				return false, fmt.Sprint(err)
			}
			feed = acct.FeedRoomID
			return feed != "", ""
		})
		joinWhenInvited(t, agent, feed)
		// The dispute's agent line may be there already: look for the
		// payout's among the feed's lines.
		waitForReply(t, agent, feed, ghost, "`payout.paid`")
	})

	t.Run("a dispute has a customer message and an agent line in the feed", func(t *testing.T) {
		portal := waitPortal(t, s, "cus_refund")
		acct, err := s.bridge.DB.Account.Get(t.Context(), "main")
		if err != nil || acct == nil || acct.FeedRoomID == "" {
			t.Fatalf("feed room: %+v %v", acct, err)
		}
		var customerMsg string
		for _, msg := range billingMessages(t, agent, portal.RoomID, ghost) {
			if strings.Contains(msg, "dispute") {
				customerMsg = msg
			}
			for _, internal := range []string{"charge.dispute", "dp_", "ch_", "evt_", "dashboard"} {
				if strings.Contains(strings.ToLower(msg), internal) {
					t.Errorf("customer room message shows %q: %q", internal, msg)
				}
			}
		}
		if customerMsg == "" {
			t.Fatal("no dispute message in the customer's room")
		}
		line := waitForReply(t, agent, acct.FeedRoomID, ghost, "`charge.dispute.created`")
		body := line.Content.AsMessage().Body
		if !strings.Contains(body, "dp_") || !strings.Contains(body, "/test/disputes/") {
			t.Errorf("feed line lacks the dispute id or its dashboard link: %q", body)
		}
		// Both sends are recorded with the inbox row: the reply map knows
		// the dispute in both rooms.
		for _, room := range []id.RoomID{portal.RoomID, acct.FeedRoomID} {
			var n int
			if err := s.bridge.DB.QueryRow(t.Context(), "SELECT COUNT(*) FROM message WHERE room_id=$1 AND stripe_object_id LIKE 'dp_%'", room).Scan(&n); err != nil || n != 1 {
				t.Errorf("%d message rows for the dispute in %s (%v), want 1", n, room, err)
			}
		}
	})
}
