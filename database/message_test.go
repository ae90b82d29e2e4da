package database_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestMessage(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		mq := db.Message
		first := &database.Message{
			RoomID: "!one:example.org", MatrixEventID: "$charge_posted", StripeObjectID: "ch_1",
			StripeEventID: "evt_1", AccountID: "main", CustomerID: "cus_1", CreatedAt: ms(1_000),
		}
		later := &database.Message{
			RoomID: "!one:example.org", MatrixEventID: "$charge_refunded", StripeObjectID: "ch_1",
			AccountID: "main", CustomerID: "cus_1", CreatedAt: ms(2_000),
		}
		elsewhere := &database.Message{
			RoomID: "!two:example.org", MatrixEventID: "$other_room", StripeObjectID: "ch_1",
			AccountID: "main", CreatedAt: ms(3_000),
		}
		for _, msg := range []*database.Message{first, later, elsewhere} {
			must(t, mq.Insert(ctx, msg))
		}

		t.Run("inserting again is harmless", func(t *testing.T) {
			must(t, mq.Insert(ctx, first))
		})

		for _, tc := range []struct {
			name string
			get  func() (*database.Message, error)
			want *database.Message
		}{
			{"by event id", func() (*database.Message, error) {
				return mq.GetByEventID(ctx, "!one:example.org", "$charge_posted")
			}, first},
			{"by event id in the wrong room", func() (*database.Message, error) {
				return mq.GetByEventID(ctx, "!two:example.org", "$charge_posted")
			}, nil},
			{"latest by object id stays in its room", func() (*database.Message, error) {
				return mq.GetLatestByObjectID(ctx, "!one:example.org", "ch_1")
			}, later},
			{"unknown object", func() (*database.Message, error) {
				return mq.GetLatestByObjectID(ctx, "!one:example.org", "ch_404")
			}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := tc.get()
				must(t, err)
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
			})
		}
	})
}
