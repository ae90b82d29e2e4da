package database_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func happeningEvent(eventID, objectJSON string, created int64, received time.Time) *database.Event {
	evt := inboxEvent(eventID, "cus_a", created)
	evt.Payload = json.RawMessage(`{"id":"` + eventID + `","data":{"object":` + objectJSON + `}}`)
	evt.ReceivedAt = received
	return evt
}

// An event of a happening waits out the hold window after it arrived; an
// event that stands alone does not wait.
func TestClaimHoldsHappenings(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		const hold = 3 * time.Second
		alone := happeningEvent("evt_cus", `{"id":"cus_b","object":"customer"}`, 10, t0)
		alone.CustomerID = "cus_b"
		insertEvents(t, db, happeningEvent("evt_inv", `{"id":"in_1","object":"invoice"}`, 10, t0), alone)
		got, err := db.Event.ClaimNextHeld(ctx, "w", time.Minute, hold, t0.Add(time.Second))
		must(t, err)
		if got == nil || got.ID != "evt_cus" {
			t.Fatalf("claimed %+v 1 s after arrival, want the event that stands alone (evt_cus)", got)
		}
		got, err = db.Event.ClaimNextHeld(ctx, "w", time.Minute, hold, t0.Add(time.Second))
		must(t, err)
		if got != nil {
			t.Fatalf("claimed %s 1 s after it arrived, inside the hold window", got.ID)
		}
		got, err = db.Event.ClaimNextHeld(ctx, "w", time.Minute, hold, t0.Add(hold))
		must(t, err)
		if got == nil || got.ID != "evt_inv" || got.HappeningKey != "in_1" {
			t.Fatalf("claimed %+v at the end of the hold window, want evt_inv of happening in_1", got)
		}
	})
}

// The queries a happening's delivery runs: the customer's followers in
// delivery order, gathering them under a lead, and finding the posted
// happening and its members again.
func TestHappeningQueries(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		inv := `{"id":"in_1","object":"invoice"}`
		charge := `{"id":"ch_1","object":"charge","invoice":"in_1"}`
		other := happeningEvent("evt_other", inv, 10, t0)
		other.CustomerID = "cus_b"
		insertEvents(t, db,
			happeningEvent("evt_paid", inv, 11, t0),
			happeningEvent("evt_charge", charge, 11, t0),
			happeningEvent("evt_final", inv, 10, t0),
			other)
		head, err := db.Event.ClaimNext(ctx, "w", time.Minute, t0)
		must(t, err)
		if head == nil || head.ID != "evt_final" {
			t.Fatalf("claimed %+v, want evt_final (the customer's first)", head)
		}
		followers, err := db.Event.Followers(ctx, head, 10)
		must(t, err)
		var ids []string
		for _, f := range followers {
			ids = append(ids, f.ID)
		}
		// Same second: arrival order (both are invoice.paid-typed here).
		if len(ids) != 2 || ids[0] != "evt_paid" || ids[1] != "evt_charge" {
			t.Fatalf("followers %v, want [evt_paid evt_charge]: cus_a's events after the head, not cus_b's", ids)
		}
		must(t, db.Event.MarkGathered(ctx, ids, head.ID, t0))
		again, err := db.Event.Get(ctx, "evt_paid")
		must(t, err)
		// Attempted once: its own claim would be a second attempt, which
		// looks for what the first may have posted.
		if again.HappeningLead != head.ID || again.Attempts != 1 || again.FirstClaimedAt.IsZero() || again.State != database.EventPending {
			t.Fatalf("gathered follower %s: lead %q, %d attempts, first claimed %v, %s; want lead %s, attempted, still pending",
				again.ID, again.HappeningLead, again.Attempts, again.FirstClaimedAt, again.State, head.ID)
		}
		if lead, err := db.Event.FindLead(ctx, "main", "cus_a", "in_1", time.Unix(0, 0)); err != nil || lead != nil {
			t.Fatalf("found lead %+v (%v) before anything was delivered", lead, err)
		}
		for _, id := range []string{head.ID, "evt_paid"} {
			must(t, db.Event.MarkMemberDelivered(ctx, id, "$msg", head.ID, t0))
		}
		lead, err := db.Event.FindLead(ctx, "main", "cus_a", "in_1", time.Unix(5, 0))
		must(t, err)
		if lead == nil || lead.ID != head.ID || lead.MatrixEventID != "$msg" {
			t.Fatalf("lead %+v, want %s posted as $msg", lead, head.ID)
		}
		if late, err := db.Event.FindLead(ctx, "main", "cus_a", "in_1", time.Unix(11, 0)); err != nil || late != nil {
			t.Fatalf("found lead %+v (%v) created before the window", late, err)
		}
		members, err := db.Event.Members(ctx, head.ID)
		must(t, err)
		if len(members) != 2 || members[0].ID != head.ID || members[1].ID != "evt_paid" {
			t.Fatalf("members %+v, want the head and the gathered follower that was delivered", members)
		}
	})
}
