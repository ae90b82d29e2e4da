package database_test

import (
	"context"
	"reflect"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func fact(account string, room id.RoomID, at int64, kind database.FactKind, eventID id.EventID) *database.Fact {
	return &database.Fact{
		AccountID: account, CustomerID: "cus_1", RoomID: room, At: ms(at),
		Kind: kind, EventID: eventID,
	}
}

func TestFactInsertOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		first := &database.Fact{
			AccountID: "main", CustomerID: "cus_1", RoomID: "!one:example.org", At: ms(1_000),
			Kind: database.FactWrite, Actor: "@agent:example.org", ActorRole: database.RoleAgent,
			Detail: "refund", Amount: 500, Currency: "eur", EventID: "$cmd", Ref: "ch_1",
		}
		inserted, err := db.Fact.Insert(ctx, first)
		must(t, err)
		if !inserted || first.ID == 0 {
			t.Fatalf("first insert: inserted %v, id %d", inserted, first.ID)
		}

		t.Run("a redelivered event records once", func(t *testing.T) {
			again := *first
			again.ID = 0
			again.At = ms(2_000)
			inserted, err := db.Fact.Insert(ctx, &again)
			must(t, err)
			if inserted || again.ID != 0 {
				t.Errorf("second insert of the same kind and event: inserted %v, id %d", inserted, again.ID)
			}
		})

		t.Run("another kind about the same event is another fact", func(t *testing.T) {
			inserted, err := db.Fact.Insert(ctx, fact("main", "!one:example.org", 1_000, database.FactMessage, "$cmd"))
			must(t, err)
			if !inserted {
				t.Error("a message fact for the command's event was ignored")
			}
		})

		t.Run("facts without an event never collide", func(t *testing.T) {
			for range 3 {
				inserted, err := db.Fact.Insert(ctx, fact("main", "!one:example.org", 3_000, database.FactState, ""))
				must(t, err)
				if !inserted {
					t.Error("a fact without an event id was ignored")
				}
			}
			var nulls int
			must(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM conversation_fact WHERE event_id IS NULL`).Scan(&nulls))
			if nulls != 3 {
				t.Errorf("%d facts stored with a NULL event id, want 3", nulls)
			}
		})

		t.Run("reads back every field", func(t *testing.T) {
			got, err := db.Fact.Room(ctx, "!one:example.org", 1_000)
			must(t, err)
			if len(got) == 0 || !reflect.DeepEqual(got[0], first) {
				t.Errorf("first fact read back as %+v, want %+v", got[0], first)
			}
		})
	})
}

func TestFactSince(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		// Inserted out of time order: reads are ordered by at, then id.
		facts := []*database.Fact{
			fact("main", "!a:example.org", 5_000, database.FactMessage, "$late"),
			fact("main", "!a:example.org", 1_000, database.FactMessage, "$early"),
			fact("main", "!b:example.org", 3_000, database.FactMessage, "$tie1"),
			fact("main", "!a:example.org", 3_000, database.FactMessage, "$tie2"),
			fact("second", "!c:example.org", 4_000, database.FactMessage, "$other"),
		}
		for _, f := range facts {
			_, err := db.Fact.Insert(ctx, f)
			must(t, err)
		}
		eventIDs := func(facts []*database.Fact) []id.EventID {
			out := []id.EventID{}
			for _, f := range facts {
				out = append(out, f.EventID)
			}
			return out
		}
		for _, tc := range []struct {
			name    string
			account string
			since   int64
			want    []id.EventID
		}{
			{"one account, from a time on, at inclusive", "main", 3_000, []id.EventID{"$tie1", "$tie2", "$late"}},
			{"every account", "", 2_000, []id.EventID{"$tie1", "$tie2", "$other", "$late"}},
			{"an account with nothing since", "second", 4_001, []id.EventID{}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.Fact.Since(ctx, tc.account, ms(tc.since))
				must(t, err)
				if !reflect.DeepEqual(eventIDs(got), tc.want) {
					t.Errorf("Since(%q, %d) = %q, want %q", tc.account, tc.since, eventIDs(got), tc.want)
				}
			})
		}
		t.Run("a room's newest facts, oldest first", func(t *testing.T) {
			got, err := db.Fact.Room(ctx, "!a:example.org", 2)
			must(t, err)
			if want := []id.EventID{"$tie2", "$late"}; !reflect.DeepEqual(eventIDs(got), want) {
				t.Errorf("Room = %q, want %q", eventIDs(got), want)
			}
		})
	})
}

func TestFactCSATQuestion(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		question := fact("main", "!a:example.org", 1_000, database.FactCSATAsked, "$question")
		_, err := db.Fact.Insert(ctx, question)
		must(t, err)
		// A plain message: reacting to it answers nothing.
		_, err = db.Fact.Insert(ctx, fact("main", "!a:example.org", 2_000, database.FactMessage, "$message"))
		must(t, err)

		for _, tc := range []struct {
			name    string
			room    id.RoomID
			eventID id.EventID
			want    *database.Fact
		}{
			{"the question", "!a:example.org", "$question", question},
			{"a message is no question", "!a:example.org", "$message", nil},
			{"the question seen from another room", "!b:example.org", "$question", nil},
			{"an unknown event", "!a:example.org", "$nothing", nil},
			{"no event", "!a:example.org", "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.Fact.CSATQuestion(ctx, tc.room, tc.eventID)
				must(t, err)
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("CSATQuestion(%s, %s) = %+v, want %+v", tc.room, tc.eventID, got, tc.want)
				}
			})
		}
	})
}
