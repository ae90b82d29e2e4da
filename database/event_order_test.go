package database_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// renewal is what Stripe emits for one subscription renewal, in causal
// order, plus a refund of its charge: usually all within one second.
var renewal = []string{
	"payment_method.attached",
	"invoice.created",
	"invoice.finalized",
	"payment_intent.created",
	"charge.succeeded",
	"payment_intent.succeeded",
	"invoice.paid",
	"customer.subscription.updated",
	"refund.created",
}

func typedEvent(eventID, customerID, typ string, created int64) *database.Event {
	evt := inboxEvent(eventID, customerID, created)
	evt.Type = typ
	return evt
}

// drain claims and delivers until nothing is left, returning the claimed
// event ids per customer ("" for the account's customer-less queue).
func drain(t *testing.T, db *database.Database, now time.Time) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for {
		evt, err := db.Event.ClaimNext(context.Background(), "w", time.Minute, now)
		must(t, err)
		if evt == nil {
			return got
		}
		got[evt.CustomerID] = append(got[evt.CustomerID], evt.ID)
		must(t, db.Event.MarkDelivered(context.Background(), evt.ID, id.EventID("$"+evt.ID), now))
	}
}

// TestClaimCausalOrderShuffled inserts same-second renewals of several
// customers in 50 random orders, with the account's customer-less events
// among them, and expects every customer's events claimed in causal order.
func TestClaimCausalOrderShuffled(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		const permutations, customers = 50, 3
		rng := rand.New(rand.NewPCG(9, 1))
		for p := range permutations {
			created := int64(1000 + p)
			var events []*database.Event
			want := map[string][]string{}
			for c := range customers {
				customerID := fmt.Sprintf("cus_%02d_%d", p, c)
				for i, typ := range renewal {
					// Ids sort against causal order, so an id tie-break would fail.
					eventID := fmt.Sprintf("evt_%02d_%d_%c", p, c, 'z'-i)
					events = append(events, typedEvent(eventID, customerID, typ, created))
					want[customerID] = append(want[customerID], eventID)
				}
			}
			for i := range 2 {
				eventID := fmt.Sprintf("evt_%02d_payout_%d", p, i)
				events = append(events, typedEvent(eventID, "", "payout.paid", created))
			}
			rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
			// Customer-less events keep their arrival order.
			for _, evt := range events {
				if evt.CustomerID == "" {
					want[""] = append(want[""], evt.ID)
				}
			}
			insertEvents(t, db, events...)
			if got := drain(t, db, t0); !reflect.DeepEqual(got, want) {
				t.Fatalf("permutation %d: claimed\n%v\nwant\n%v", p, got, want)
			}
		}
	})
}

func TestClaimSameRankByArrival(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		// Same second, same stage: the one that arrived first goes first,
		// whatever the ids say; an earlier second still goes before both.
		insertEvents(t, db,
			typedEvent("evt_b", "cus_a", "invoice.payment_succeeded", 20),
			typedEvent("evt_a", "cus_a", "invoice.paid", 20),
			typedEvent("evt_z", "cus_a", "customer.subscription.updated", 19),
		)
		want := []string{"evt_z", "evt_b", "evt_a"}
		if got := drain(t, db, t0)["cus_a"]; !reflect.DeepEqual(got, want) {
			t.Errorf("claimed %v, want %v", got, want)
		}
	})
}

func TestUnresolvedEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		refund := typedEvent("evt_refund", "", "refund.created", 10)
		refund.State = database.EventUnresolved
		insertEvents(t, db,
			refund,
			typedEvent("evt_charge", "cus_a", "charge.succeeded", 10),
			typedEvent("evt_later", "cus_a", "customer.updated", 11),
			typedEvent("evt_payout", "", "payout.paid", 9),
		)

		// Nobody delivers it or waits for it while its customer is unknown.
		if got := claim(t, db, "w1", t0); got != "evt_payout" {
			t.Fatalf("claimed %q, want evt_payout", got)
		}
		if got := claim(t, db, "w1", t0); got != "evt_charge" {
			t.Fatalf("claimed %q, want evt_charge: the unresolved refund is in no queue", got)
		}
		if health, err := eq.Health(ctx, "main"); err != nil || health.Pending != 4 {
			t.Errorf("health %+v (%v): an unresolved event is still pending work", health, err)
		}

		due, err := eq.ListUnresolved(ctx, t0, 10)
		must(t, err)
		if len(due) != 1 || due[0].ID != "evt_refund" {
			t.Fatalf("ListUnresolved = %v", due)
		}
		must(t, eq.MarkUnresolvedRetry(ctx, "evt_refund", "stripe down", t0.Add(time.Minute)))
		if due, err = eq.ListUnresolved(ctx, t0, 10); err != nil || len(due) != 0 {
			t.Fatalf("a lookup backing off is listed: %v (%v)", due, err)
		}
		if due, err = eq.ListUnresolved(ctx, t0.Add(time.Minute), 10); err != nil || len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "stripe down" {
			t.Fatalf("after the backoff: %+v (%v)", due, err)
		}

		// Resolved, it joins cus_a's queue at its place: after the charge
		// (in flight), before the later event.
		ok, err := eq.Resolve(ctx, "evt_refund", "cus_a", t0)
		must(t, err)
		if !ok {
			t.Fatal("Resolve found nothing to resolve")
		}
		if ok, err = eq.Resolve(ctx, "evt_refund", "cus_b", t0); err != nil || ok {
			t.Fatalf("a second Resolve changed the event: %v %v", ok, err)
		}
		if got := claim(t, db, "w2", t0); got != "" {
			t.Fatalf("claimed %q while cus_a's charge is in flight", got)
		}
		must(t, eq.MarkDelivered(ctx, "evt_charge", "$charge", t0))
		if got := claim(t, db, "w2", t0); got != "evt_refund" {
			t.Fatalf("claimed %q, want the resolved refund before evt_later", got)
		}
		row, err := eq.Get(ctx, "evt_refund")
		must(t, err)
		if row.CustomerID != "cus_a" || row.Attempts != 1 || row.LastError != "" {
			t.Errorf("resolved row %+v", row)
		}
	})
}

func TestCustomerOfObject(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		addAccount(t, db, "eu")
		charge := typedEvent("evt_charge", "cus_a", "charge.succeeded", 10)
		charge.ObjectID = "ch_1"
		guest := typedEvent("evt_guest", "", "charge.succeeded", 10)
		guest.ObjectID = "ch_guest"
		other := typedEvent("evt_eu", "cus_eu", "charge.succeeded", 10)
		other.AccountID, other.ObjectID = "eu", "ch_eu"
		insertEvents(t, db, charge, guest, other)
		must(t, db.Message.Insert(ctx, &database.Message{
			RoomID: "!room", MatrixEventID: "$pi", StripeObjectID: "pi_1", StripeEventID: "evt_old",
			AccountID: "main", CustomerID: "cus_b",
		}))
		for _, tc := range []struct{ account, object, want string }{
			{"main", "ch_1", "cus_a"},
			{"main", "pi_1", "cus_b"},
			{"main", "ch_guest", ""},
			{"main", "ch_eu", ""}, // another account's object
			{"eu", "ch_eu", "cus_eu"},
			{"main", "ch_unknown", ""},
			{"main", "", ""},
		} {
			got, err := db.Event.CustomerOfObject(ctx, tc.account, tc.object)
			must(t, err)
			if got != tc.want {
				t.Errorf("CustomerOfObject(%s, %q) = %q, want %q", tc.account, tc.object, got, tc.want)
			}
		}
	})
}
