package database_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestAudit(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		aq := db.Audit
		refund := &database.AuditEntry{
			Timestamp: ms(1_000), Actor: "@agent:example.org", Role: "agent",
			AccountID: "main", CustomerID: "cus_1", RoomID: "!one:example.org",
			Command: "refund", TargetObject: "ch_1", Parameters: json.RawMessage(`{"amount":500}`),
			IdempotencyKey: "mx-$evt", StripeRequestID: "req_1", Outcome: database.AuditOK,
		}
		denied := &database.AuditEntry{
			Timestamp: ms(2_000), Actor: "@stranger:example.org", Role: "",
			AccountID: "main", CustomerID: "cus_1", RoomID: "!one:example.org",
			Command: "refund", Outcome: database.AuditDenied, Error: "not an agent",
		}
		// A command in a management room has no customer.
		mgmt := &database.AuditEntry{
			Timestamp: ms(3_000), Actor: "@admin:example.org", Role: "admin",
			RoomID: "!dm:example.org", Command: "retry", Outcome: database.AuditError, Error: "no such event",
		}
		// An agent in cus_2's room named cus_1's charge: refused, and it
		// must show up for cus_1 too.
		foreign := &database.AuditEntry{
			Timestamp: ms(4_000), Actor: "@agent:example.org", Role: "agent",
			AccountID: "main", CustomerID: "cus_2", RoomID: "!two:example.org",
			Command: "refund", TargetObject: "ch_1", Outcome: database.AuditDenied,
			Error: "object belongs to another customer", TargetCustomerID: "cus_1",
		}
		// The same customer id in another account is another customer.
		elsewhere := &database.AuditEntry{
			Timestamp: ms(5_000), Actor: "@agent:example.org", Role: "agent",
			AccountID: "second", CustomerID: "cus_3", RoomID: "!three:example.org",
			Command: "void", TargetObject: "in_9", Outcome: database.AuditDenied,
			Error: "object belongs to another customer", TargetCustomerID: "cus_1",
		}
		for _, entry := range []*database.AuditEntry{refund, denied, mgmt, foreign, elsewhere} {
			must(t, aq.Insert(ctx, entry))
		}
		if !(refund.ID > 0 && denied.ID > refund.ID && mgmt.ID > denied.ID && foreign.ID > mgmt.ID) {
			t.Errorf("ids %d, %d, %d, %d are not increasing", refund.ID, denied.ID, mgmt.ID, foreign.ID)
		}

		for _, tc := range []struct {
			name string
			list func() ([]*database.AuditEntry, error)
			want []*database.AuditEntry
		}{
			{"by customer, newest first, with attempts from other rooms", func() ([]*database.AuditEntry, error) {
				return aq.ListByCustomer(ctx, "main", "cus_1", 10)
			}, []*database.AuditEntry{foreign, denied, refund}},
			{"by customer, limited", func() ([]*database.AuditEntry, error) {
				return aq.ListByCustomer(ctx, "main", "cus_1", 2)
			}, []*database.AuditEntry{foreign, denied}},
			{"by customer of the room that tried", func() ([]*database.AuditEntry, error) {
				return aq.ListByCustomer(ctx, "main", "cus_2", 10)
			}, []*database.AuditEntry{foreign}},
			{"by customer in another account", func() ([]*database.AuditEntry, error) {
				return aq.ListByCustomer(ctx, "second", "cus_1", 10)
			}, []*database.AuditEntry{elsewhere}},
			{"by target object, newest first", func() ([]*database.AuditEntry, error) {
				return aq.ListByTarget(ctx, "ch_1", 10)
			}, []*database.AuditEntry{foreign, refund}},
			{"by target object, limited", func() ([]*database.AuditEntry, error) {
				return aq.ListByTarget(ctx, "ch_1", 1)
			}, []*database.AuditEntry{foreign}},
			{"nothing for an object never named", func() ([]*database.AuditEntry, error) {
				return aq.ListByTarget(ctx, "ch_2", 10)
			}, nil},
			{"by room", func() ([]*database.AuditEntry, error) {
				return aq.ListByRoom(ctx, "!dm:example.org", 10)
			}, []*database.AuditEntry{mgmt}},
			{"nothing for another customer", func() ([]*database.AuditEntry, error) {
				return aq.ListByCustomer(ctx, "main", "cus_4", 10)
			}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := tc.list()
				must(t, err)
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v\nwant %+v", got, tc.want)
				}
			})
		}
	})
}
