package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

// carol lives on a homeserver Dendrite cannot reach: federation is disabled
// in the test homeserver, so every invite to her fails.
const carol = id.UserID("@carol:unreachable.example")

// TestInviteUnreachableCustomer: a customer linked to a remote user whose
// homeserver cannot be reached still gets one room with the whole timeline;
// the failed invite waits in portal_invite for a retry.
func TestInviteUnreachableCustomer(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	agent := s.user(t, "agent")
	ghost := s.cfg.GhostMXID("main")
	sc := fake.Client()
	ctx := t.Context()
	linkKey := s.cfg.Bridge.CustomerLinkKey

	cus, err := sc.Customers.New(&stripe.CustomerParams{
		Name:     stripe.String("Carol Remote"),
		Email:    stripe.String("carol@unreachable.example"),
		Metadata: map[string]string{linkKey: string(carol)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err = sc.Customers.Update(cus.ID, &stripe.CustomerParams{Phone: stripe.String(fmt.Sprintf("+1 555 010%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	const events = 4
	waitInboxDone(t, s, events)

	var room id.RoomID
	t.Run("every event is delivered into exactly one room", func(t *testing.T) {
		assertStates(t, s, map[string]int{string(database.EventDelivered): events})
		room = onlyRoom(t, s, cus.ID)
		waitFor(t, 20*time.Second, "agent invited", func() (bool, string) {
			m := membership(t, s.bridge.Bot.Client, room, agent.UserID)
			return m == event.MembershipInvite, string(m)
		})
		if _, err := agent.JoinRoomByID(ctx, room); err != nil {
			t.Fatalf("agent join: %v", err)
		}
		if msgs := waitMessages(t, agent, room, ghost, events); len(msgs) != events {
			t.Errorf("want %d billing messages, got %d: %q", events, len(msgs), msgs)
		}
	})
	if room == "" {
		t.FailNow()
	}

	t.Run("the failed invite waits for a retry", func(t *testing.T) {
		inv, err := s.bridge.DB.Invite.Get(ctx, room, carol)
		if err != nil || inv == nil {
			t.Fatalf("no pending invite for %s in %s (%v)", carol, room, err)
		}
		if inv.Attempts < 1 || inv.LastError == "" || inv.CustomerID != cus.ID || inv.AccountID != "main" {
			t.Errorf("pending invite %+v", inv)
		}
		if wait := time.Until(inv.NextAttemptAt); wait < 30*time.Second || wait > 2*time.Minute {
			t.Errorf("next attempt in %s, want about a minute", wait)
		}
		if m := membership(t, s.bridge.Bot.Client, room, carol); m != "" {
			t.Errorf("%s has membership %q although the invite failed", carol, m)
		}
		// The agent's invite went through, so it left no row behind.
		if other, err := s.bridge.DB.Invite.Get(ctx, room, agent.UserID); err != nil || other != nil {
			t.Errorf("agent's invite still pending: %+v (%v)", other, err)
		}
	})

	t.Run("a retry pass backs off and keeps one room", func(t *testing.T) {
		before, err := s.bridge.DB.Invite.Get(ctx, room, carol)
		if err != nil || before == nil {
			t.Fatalf("pending invite: %+v (%v)", before, err)
		}
		makeDue(t, s, room, carol)
		// The bridge's own loop may win the claim; then this pass finds
		// nothing, and either way exactly one more attempt is made.
		if tried, err := s.bridge.RetryInvites(ctx); err != nil || tried > 1 {
			t.Fatalf("RetryInvites tried %d (%v), want at most 1", tried, err)
		}
		var after *database.PendingInvite
		waitFor(t, 20*time.Second, "a second attempt recorded", func() (bool, string) {
			after, err = s.bridge.DB.Invite.Get(ctx, room, carol)
			return err == nil && after != nil && after.Attempts == before.Attempts+1 && after.LastError != "", fmt.Sprintf("%+v %v", after, err)
		})
		// The second failure waits about two minutes (±20%): not due again.
		if wait := time.Until(after.NextAttemptAt); wait < 90*time.Second {
			t.Errorf("next attempt in %s after the second failure", wait)
		}
		if tried, err := s.bridge.RetryInvites(ctx); err != nil || tried != 0 {
			t.Errorf("an invite backing off was tried again: %d (%v)", tried, err)
		}
		if _, err = sc.Customers.Update(cus.ID, &stripe.CustomerParams{Phone: stripe.String("+1 555 0199")}); err != nil {
			t.Fatal(err)
		}
		waitInboxDone(t, s, events+1)
		assertStates(t, s, map[string]int{string(database.EventDelivered): events + 1})
		if again := onlyRoom(t, s, cus.ID); again != room {
			t.Errorf("room changed from %s to %s", room, again)
		}
		waitMessages(t, agent, room, ghost, events+1)
	})

	t.Run("relinking drops the pending invite", func(t *testing.T) {
		dave := s.user(t, "dave")
		if _, err := sc.Customers.Update(cus.ID, &stripe.CustomerParams{Metadata: map[string]string{linkKey: string(dave.UserID)}}); err != nil {
			t.Fatal(err)
		}
		waitInboxDone(t, s, events+2)
		waitFor(t, 20*time.Second, "dave invited", func() (bool, string) {
			m := membership(t, agent, room, dave.UserID)
			return m == event.MembershipInvite, string(m)
		})
		if inv, err := s.bridge.DB.Invite.Get(ctx, room, carol); err != nil || inv != nil {
			t.Errorf("invite of the unlinked %s still pending: %+v (%v)", carol, inv, err)
		}
		if inv, err := s.bridge.DB.Invite.Get(ctx, room, dave.UserID); err != nil || inv != nil {
			t.Errorf("dave's invite went through but is still pending: %+v (%v)", inv, err)
		}
		if again := onlyRoom(t, s, cus.ID); again != room {
			t.Errorf("room changed from %s to %s", room, again)
		}
	})
}

// waitInboxDone waits until n events are in the inbox and none is pending
// (delivered, skipped or failed alike), so a test can look at the outcome
// whatever it is.
func waitInboxDone(t testing.TB, s *stack, n int) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d events handled", n), func() (bool, string) {
		var total, pending int
		err := s.bridge.DB.QueryRow(context.Background(),
			"SELECT COUNT(*), COUNT(*) FILTER (WHERE state='pending') FROM stripe_event").Scan(&total, &pending)
		if err != nil {
			return false, err.Error()
		}
		return total >= n && pending == 0, fmt.Sprintf("%d events, %d pending", total, pending)
	})
}

// assertStates checks how many inbox events are in each state.
func assertStates(t testing.TB, s *stack, want map[string]int) {
	t.Helper()
	rows, err := s.bridge.DB.Query(context.Background(), "SELECT state, COUNT(*), COALESCE(MAX(last_error), '') FROM stripe_event GROUP BY state")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	var errs []string
	for rows.Next() {
		var state, lastErr string
		var n int
		if err := rows.Scan(&state, &n, &lastErr); err != nil {
			t.Fatal(err)
		}
		got[state] = n
		if lastErr != "" {
			errs = append(errs, state+": "+lastErr)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("inbox states %v, want %v (errors: %s)", got, want, strings.Join(errs, " | "))
	}
}

// onlyRoom checks that the customer has one portal row and that the bot is
// in exactly one room bound to the customer, the same one, and returns it.
func onlyRoom(t testing.TB, s *stack, customerID string) id.RoomID {
	t.Helper()
	ctx := context.Background()
	var portals int
	var portalRoom string
	err := s.bridge.DB.QueryRow(ctx, "SELECT COUNT(*), COALESCE(MAX(room_id), '') FROM portal WHERE account_id='main' AND customer_id=$1 AND room_id IS NOT NULL", customerID).
		Scan(&portals, &portalRoom)
	if err != nil {
		t.Fatal(err)
	}
	joined, err := s.bridge.Bot.JoinedRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rooms []id.RoomID
	for _, room := range joined.JoinedRooms {
		var info portal.CustomerInfo
		if err := s.bridge.Bot.Client.StateEvent(ctx, room, portal.StateCustomer, "", &info); err == nil && info.CustomerID == customerID {
			rooms = append(rooms, room)
		}
	}
	if portals != 1 || len(rooms) != 1 || rooms[0] != id.RoomID(portalRoom) {
		t.Fatalf("customer %s: %d portal rows (room %q), bot is in %d rooms bound to it: %v", customerID, portals, portalRoom, len(rooms), rooms)
	}
	return rooms[0]
}

// makeDue moves a pending invite's next attempt to now, as if its backoff
// had run out.
func makeDue(t testing.TB, s *stack, room id.RoomID, user id.UserID) {
	t.Helper()
	if _, err := s.bridge.DB.Exec(context.Background(), "UPDATE portal_invite SET next_attempt_at=0 WHERE room_id=$1 AND user_id=$2", room, user); err != nil {
		t.Fatal(err)
	}
}
