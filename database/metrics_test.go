package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// TestInboxDepth: the waiting events are counted per account and state,
// with the oldest arrival; delivered and skipped ones are not.
func TestInboxDepth(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		empty, err := db.Event.Depth(ctx)
		must(t, err)
		if len(empty) != 0 {
			t.Fatalf("empty inbox: %+v", empty)
		}
		at := func(evt *database.Event, state database.EventState, received time.Time) *database.Event {
			evt.State, evt.ReceivedAt = state, received
			return evt
		}
		other := inboxEvent("evt_eu", "cus_x", 5)
		other.AccountID = "eu"
		insertEvents(t, db,
			at(inboxEvent("evt_1", "cus_a", 1), database.EventPending, t0.Add(-time.Hour)),
			at(inboxEvent("evt_2", "cus_a", 2), database.EventPending, t0),
			at(inboxEvent("evt_3", "", 3), database.EventUnresolved, t0),
			at(inboxEvent("evt_4", "cus_b", 4), database.EventFailed, t0),
			at(inboxEvent("evt_5", "cus_b", 5), database.EventDelivered, t0),
			at(inboxEvent("evt_6", "cus_b", 6), database.EventSkipped, t0),
			at(other, database.EventPending, t0),
		)
		depth, err := db.Event.Depth(ctx)
		must(t, err)
		got := map[string]database.InboxDepth{}
		for _, d := range depth {
			got[d.AccountID+"/"+string(d.State)] = d
		}
		want := map[string]int64{"main/pending": 2, "main/unresolved": 1, "main/failed": 1, "eu/pending": 1}
		if len(got) != len(want) {
			t.Errorf("depth %+v, want %v", depth, want)
		}
		for key, n := range want {
			if got[key].Count != n {
				t.Errorf("%s: %d, want %d", key, got[key].Count, n)
			}
		}
		if oldest := got["main/pending"].OldestReceived; !oldest.Equal(t0.Add(-time.Hour)) {
			t.Errorf("oldest pending arrived %v, want %v", oldest, t0.Add(-time.Hour))
		}
	})
}
