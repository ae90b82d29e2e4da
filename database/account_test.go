package database_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestAccount(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		aq := db.Account

		got, err := aq.Get(ctx, "main")
		must(t, err)
		if got != nil {
			t.Fatalf("Get of unknown account = %+v, want nil", got)
		}

		t.Run("insert and get", func(t *testing.T) {
			acct := &database.Account{ID: "main", DisplayName: "Main shop", Livemode: true}
			must(t, aq.Upsert(ctx, acct))
			got, err := aq.Get(ctx, "main")
			must(t, err)
			if !reflect.DeepEqual(got, acct) {
				t.Errorf("Get = %+v, want %+v", got, acct)
			}
		})

		t.Run("bridge-owned fields survive a config upsert", func(t *testing.T) {
			must(t, aq.SetSpaceRoom(ctx, "main", "!space:example.org"))
			must(t, aq.SetFeedRoom(ctx, "main", "!feed:example.org"))
			must(t, aq.SetCatchupCursor(ctx, "main", "evt_42", ms(1_700_000_000_123)))
			must(t, aq.Upsert(ctx, &database.Account{ID: "main", StripeID: "acct_1", DisplayName: "Renamed"}))
			// Not knowing the Stripe id must not forget it.
			must(t, aq.Upsert(ctx, &database.Account{ID: "main", DisplayName: "Renamed again"}))
			got, err := aq.Get(ctx, "main")
			must(t, err)
			want := &database.Account{
				ID: "main", StripeID: "acct_1", DisplayName: "Renamed again", Livemode: false,
				SpaceRoomID: "!space:example.org", FeedRoomID: "!feed:example.org",
				CatchupCursor: "evt_42", CatchupAt: ms(1_700_000_000_123),
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Get = %+v, want %+v", got, want)
			}
		})

		t.Run("get all is ordered by alias", func(t *testing.T) {
			addAccount(t, db, "eu")
			all, err := aq.GetAll(ctx)
			must(t, err)
			if len(all) != 2 || all[0].ID != "eu" || all[1].ID != "main" {
				t.Errorf("GetAll = %+v, want eu, main", all)
			}
		})
	})
}
