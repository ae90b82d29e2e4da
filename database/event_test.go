package database_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// t0 is when the inbox tests' events arrive; their created values are seconds.
var t0 = ms(1_700_000_000_000)

func inboxEvent(eventID, customerID string, created int64) *database.Event {
	return &database.Event{
		ID: eventID, AccountID: "main", CustomerID: customerID, Type: "invoice.paid",
		APIVersion: "2023-10-16", Created: time.Unix(created, 0),
		Payload: json.RawMessage(`{"id":"` + eventID + `"}`), ReceivedAt: t0,
	}
}

func insertEvents(t *testing.T, db *database.Database, events ...*database.Event) {
	t.Helper()
	for _, evt := range events {
		inserted, err := db.Event.Insert(context.Background(), evt)
		must(t, err)
		if !inserted {
			t.Fatalf("%s was not inserted", evt.ID)
		}
	}
}

// claim returns the id of the event ClaimNext hands out, or "" for none.
func claim(t *testing.T, db *database.Database, worker string, now time.Time) string {
	t.Helper()
	evt, err := db.Event.ClaimNext(context.Background(), worker, 30*time.Second, now)
	must(t, err)
	if evt == nil {
		return ""
	}
	if evt.ClaimedBy != worker || !evt.ClaimedUntil.Equal(now.Add(30*time.Second)) {
		t.Errorf("claim of %s: by %q until %v", evt.ID, evt.ClaimedBy, evt.ClaimedUntil)
	}
	return evt.ID
}

func TestEventInsert(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		// Whitespace and key order must survive: the payload is what Stripe sent.
		payload := json.RawMessage("{ \"id\": \"evt_1\",\n  \"object\": \"event\" }")

		t.Run("roundtrip", func(t *testing.T) {
			evt := inboxEvent("evt_1", "cus_a", 10)
			evt.Payload = payload
			evt.ObjectID = "in_1"
			insertEvents(t, db, evt)
			got, err := eq.Get(ctx, "evt_1")
			must(t, err)
			want := inboxEvent("evt_1", "cus_a", 10)
			want.Payload = payload
			want.State = database.EventPending
			want.NextAttemptAt = t0
			want.CausalRank = database.CausalRank("invoice.paid")
			want.ArrivalSeq = evt.ArrivalSeq
			want.ObjectID = "in_1"
			if evt.ArrivalSeq <= 0 {
				t.Errorf("Insert assigned arrival number %d", evt.ArrivalSeq)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Get = %+v\nwant  %+v", got, want)
			}
		})

		t.Run("duplicate is a no-op", func(t *testing.T) {
			dup := inboxEvent("evt_1", "cus_other", 99)
			inserted, err := eq.Insert(ctx, dup)
			must(t, err)
			if inserted {
				t.Error("duplicate reported as inserted")
			}
			got, err := eq.Get(ctx, "evt_1")
			must(t, err)
			if got.CustomerID != "cus_a" || string(got.Payload) != string(payload) {
				t.Errorf("duplicate overwrote the original: %+v", got)
			}
		})

		t.Run("no customer is stored as NULL", func(t *testing.T) {
			insertEvents(t, db, inboxEvent("evt_nocus", "", 10))
			var n int
			must(t, db.QueryRow(ctx, "SELECT COUNT(*) FROM stripe_event WHERE customer_id IS NULL").Scan(&n))
			if n != 1 {
				t.Errorf("%d events with NULL customer, want 1", n)
			}
			if _, err := db.Exec(ctx, "UPDATE stripe_event SET customer_id='' WHERE event_id='evt_nocus'"); err == nil {
				t.Error("empty customer id accepted")
			}
		})

		t.Run("unknown event", func(t *testing.T) {
			got, err := eq.Get(ctx, "evt_missing")
			must(t, err)
			if got != nil {
				t.Errorf("Get = %+v, want nil", got)
			}
		})
	})
}

func TestClaimNextOrder(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		insertEvents(t, db,
			inboxEvent("evt_a2", "cus_a", 20),
			inboxEvent("evt_b1", "cus_b", 15),
			inboxEvent("evt_a1", "cus_a", 10),
			inboxEvent("evt_b2", "cus_b", 15), // same second and type as evt_b1: arrival decides
		)

		now := t0
		steps := []struct {
			name string
			do   func()
			want string
		}{
			{"oldest event first", nil, "evt_a1"},
			{"other customer proceeds while a1 is claimed", nil, "evt_b1"},
			{"a2 waits for claimed a1, b2 for claimed b1", nil, ""},
			{"a1 retrying blocks a2", func() {
				must(t, eq.MarkRetry(ctx, "evt_a1", "w1", "homeserver down", now.Add(time.Minute)))
			}, ""},
			{"b1 delivered frees b2", func() {
				must(t, eq.MarkDelivered(ctx, "evt_b1", "$b1", now))
			}, "evt_b2"},
			{"a1 is due again after its backoff", func() {
				must(t, eq.MarkDelivered(ctx, "evt_b2", "$b2", now))
				now = now.Add(time.Minute)
			}, "evt_a1"},
			{"a1 failing for good frees a2", func() {
				must(t, eq.MarkFailed(ctx, "evt_a1", "w1", "room is gone"))
			}, "evt_a2"},
		}
		for _, step := range steps {
			if step.do != nil {
				step.do()
			}
			if got := claim(t, db, "w1", now); got != step.want {
				t.Fatalf("%s: claimed %q, want %q", step.name, got, step.want)
			}
		}
	})
}

func TestClaimNextWithoutCustomer(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		// Customer-less events are one queue per account (the feed room),
		// separate from every customer's queue.
		addAccount(t, db, "eu")
		other := inboxEvent("evt_eu", "", 5)
		other.AccountID = "eu"
		insertEvents(t, db, inboxEvent("evt_f1", "", 10), inboxEvent("evt_f2", "", 11), inboxEvent("evt_c", "cus_a", 12), other)
		var got []string
		for id := claim(t, db, "w", t0); id != ""; id = claim(t, db, "w", t0) {
			got = append(got, id)
		}
		if want := []string{"evt_eu", "evt_f1", "evt_c"}; !reflect.DeepEqual(got, want) {
			t.Errorf("claimed %v, want %v", got, want)
		}
	})
}

func TestClaimLeaseExpiry(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		insertEvents(t, db, inboxEvent("evt_1", "cus_a", 10))

		if got := claim(t, db, "w1", t0); got != "evt_1" {
			t.Fatalf("first claim = %q", got)
		}
		if got := claim(t, db, "w2", t0.Add(29*time.Second)); got != "" {
			t.Fatalf("claimed %q while the lease is live", got)
		}
		if got := claim(t, db, "w2", t0.Add(30*time.Second)); got != "evt_1" {
			t.Fatalf("claim after the lease ran out = %q, want evt_1", got)
		}
		evt, err := eq.Get(ctx, "evt_1")
		must(t, err)
		if evt.ClaimedBy != "w2" || evt.Attempts != 2 {
			t.Errorf("after takeover: claimed by %q, attempts %d; want w2, 2", evt.ClaimedBy, evt.Attempts)
		}

		must(t, eq.MarkDelivered(ctx, "evt_1", "$by_w2", t0.Add(31*time.Second)))
		// The first worker wakes up late: it must not undo the delivery.
		must(t, eq.MarkFailed(ctx, "evt_1", "w1", "w1 timed out"))
		must(t, eq.MarkDelivered(ctx, "evt_1", "$by_w1", t0.Add(32*time.Second)))
		evt, err = eq.Get(ctx, "evt_1")
		must(t, err)
		if evt.State != database.EventDelivered || evt.MatrixEventID != "$by_w2" || evt.ClaimedBy != "" || !evt.DeliveredAt.Equal(t0.Add(31*time.Second)) {
			t.Errorf("after a stale worker's marks: %+v", evt)
		}
	})
}

func TestFailedAndSkipped(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		insertEvents(t, db, inboxEvent("evt_1", "cus_a", 10), inboxEvent("evt_2", "cus_b", 11), inboxEvent("evt_3", "cus_c", 12))
		for claim(t, db, "w", t0) != "" {
		}
		must(t, eq.MarkFailed(ctx, "evt_2", "w", "boom"))
		must(t, eq.MarkFailed(ctx, "evt_1", "w", "bang"))
		must(t, eq.MarkSkipped(ctx, "evt_3", "w", "no renderer for this type"))

		failed, err := eq.ListFailed(ctx, 10)
		must(t, err)
		if len(failed) != 2 || failed[0].ID != "evt_1" || failed[1].ID != "evt_2" || failed[0].LastError != "bang" {
			t.Fatalf("ListFailed = %+v", failed)
		}
		if limited, err := eq.ListFailed(ctx, 1); err != nil || len(limited) != 1 {
			t.Errorf("ListFailed(1) = %d events, %v", len(limited), err)
		}
		skipped, err := eq.Get(ctx, "evt_3")
		must(t, err)
		if skipped.State != database.EventSkipped || skipped.LastError != "no renderer for this type" {
			t.Errorf("skipped event = %+v", skipped)
		}

		for _, tc := range []struct {
			eventID string
			want    bool
		}{
			{"evt_1", true},
			{"evt_1", false}, // already pending again
			{"evt_3", false}, // skipped, not failed
			{"evt_missing", false},
		} {
			retried, err := eq.Retry(ctx, tc.eventID)
			must(t, err)
			if retried != tc.want {
				t.Errorf("Retry(%s) = %v, want %v", tc.eventID, retried, tc.want)
			}
		}
		evt, err := eq.ClaimNext(ctx, "w", time.Minute, t0)
		must(t, err)
		if evt == nil || evt.ID != "evt_1" || evt.Attempts != 1 || evt.State != database.EventPending {
			t.Errorf("claim after Retry = %+v", evt)
		}
	})
}

// Stripe may deliver a customer's older event after a newer one was already
// claimed; the older one must wait, or two workers would build the
// customer's room at once.
func TestClaimNextOneDeliveryPerCustomer(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		insertEvents(t, db, inboxEvent("evt_late", "cus_a", 20))
		if got := claim(t, db, "w1", t0); got != "evt_late" {
			t.Fatalf("claimed %q", got)
		}
		insertEvents(t, db, inboxEvent("evt_early", "cus_a", 10), inboxEvent("evt_other", "cus_b", 30))
		if got := claim(t, db, "w2", t0); got != "evt_other" {
			t.Fatalf("while evt_late is claimed, claimed %q, want the other customer's event", got)
		}
		if got := claim(t, db, "w2", t0); got != "" {
			t.Fatalf("claimed %q for a customer with a delivery in flight", got)
		}
		must(t, db.Event.MarkDelivered(ctx, "evt_late", "$late", t0))
		if got := claim(t, db, "w2", t0); got != "evt_early" {
			t.Fatalf("after the in-flight delivery, claimed %q", got)
		}
	})
}

func TestAccountHealth(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		empty, err := db.Event.Health(ctx, "main")
		must(t, err)
		if !empty.LastReceived.IsZero() || empty.Pending != 0 || empty.Failed != 0 {
			t.Fatalf("empty inbox health %+v", empty)
		}
		insertEvents(t, db, inboxEvent("evt_h1", "cus_a", 10), inboxEvent("evt_h2", "cus_b", 20))
		if got := claim(t, db, "w", t0); got != "evt_h1" {
			t.Fatalf("claimed %q", got)
		}
		must(t, db.Event.MarkFailed(ctx, "evt_h1", "w", "boom"))
		health, err := db.Event.Health(ctx, "main")
		must(t, err)
		if !health.LastReceived.Equal(t0) || health.Pending != 1 || health.Failed != 1 {
			t.Fatalf("health %+v, want last %v, 1 pending, 1 failed", health, t0)
		}
	})
}
