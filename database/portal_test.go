package database_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestPortal(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		pq := db.Portal
		addAccount(t, db, "main")

		t.Run("needs its account", func(t *testing.T) {
			if err := pq.Upsert(ctx, database.NewPortal("nope", "cus_1")); err == nil {
				t.Error("portal of an unknown account was stored")
			}
		})

		t.Run("new portal has the schema's defaults", func(t *testing.T) {
			must(t, pq.Upsert(ctx, database.NewPortal("main", "cus_new")))
			got, err := pq.Get(ctx, "main", "cus_new")
			must(t, err)
			if got.ConversationState != database.ConversationOpen || !got.AssistantEnabled || got.RoomID != "" {
				t.Errorf("new portal = %+v", got)
			}
			if time.Since(got.CreatedAt) > time.Minute || !got.CreatedAt.Equal(got.UpdatedAt) {
				t.Errorf("timestamps = %v, %v; want now", got.CreatedAt, got.UpdatedAt)
			}
		})

		full := &database.Portal{
			AccountID: "main", CustomerID: "cus_1", RoomID: "!one:example.org",
			Name: "Ada", Email: "ada@example.com", MatrixUserID: "@ada:example.org",
			ConversationState: database.ConversationWaiting, AssignedAgent: "@agent:example.org",
			AssistantEnabled: false, LastAgentActivityAt: ms(1_700_000_000_001),
			CreatedAt: ms(1_700_000_000_000), // UpdatedAt is set by Upsert
		}

		t.Run("upsert and get roundtrip", func(t *testing.T) {
			must(t, pq.Upsert(ctx, full))
			if time.Since(full.UpdatedAt) > time.Minute {
				t.Errorf("UpdatedAt = %v, want now", full.UpdatedAt)
			}
			byCustomer, err := pq.Get(ctx, "main", "cus_1")
			must(t, err)
			if !reflect.DeepEqual(byCustomer, full) {
				t.Errorf("Get = %+v, want %+v", byCustomer, full)
			}
			byRoom, err := pq.GetByRoom(ctx, "!one:example.org")
			must(t, err)
			if !reflect.DeepEqual(byRoom, full) {
				t.Errorf("GetByRoom = %+v, want %+v", byRoom, full)
			}
			none, err := pq.GetByRoom(ctx, "!other:example.org")
			must(t, err)
			if none != nil {
				t.Errorf("GetByRoom of an unknown room = %+v", none)
			}
		})

		t.Run("upsert updates all but created_at", func(t *testing.T) {
			changed := *full
			changed.Name = "Ada L."
			changed.MatrixUserID = ""
			changed.CreatedAt = ms(1_800_000_000_000)
			must(t, pq.Upsert(ctx, &changed))
			got, err := pq.Get(ctx, "main", "cus_1")
			must(t, err)
			changed.CreatedAt = full.CreatedAt
			if !reflect.DeepEqual(got, &changed) {
				t.Errorf("Get = %+v, want %+v", got, &changed)
			}
		})

		t.Run("a room belongs to one portal", func(t *testing.T) {
			must(t, pq.Upsert(ctx, database.NewPortal("main", "cus_2")))
			if err := pq.SetRoomID(ctx, "main", "cus_2", "!one:example.org"); err == nil {
				t.Error("two portals share a room")
			}
			must(t, pq.SetRoomID(ctx, "main", "cus_2", "!two:example.org"))
			got, err := pq.GetByRoom(ctx, "!two:example.org")
			must(t, err)
			if got == nil || got.CustomerID != "cus_2" {
				t.Errorf("GetByRoom after SetRoomID = %+v", got)
			}
		})

		t.Run("set conversation state", func(t *testing.T) {
			must(t, pq.SetConversationState(ctx, "main", "cus_2", database.ConversationResolved))
			got, err := pq.Get(ctx, "main", "cus_2")
			must(t, err)
			if got.ConversationState != database.ConversationResolved {
				t.Errorf("state = %q", got.ConversationState)
			}
		})

		t.Run("list by account", func(t *testing.T) {
			addAccount(t, db, "eu")
			must(t, pq.Upsert(ctx, database.NewPortal("eu", "cus_eu")))
			list, err := pq.ListByAccount(ctx, "main")
			must(t, err)
			var ids []string
			for _, p := range list {
				ids = append(ids, p.CustomerID)
			}
			if !reflect.DeepEqual(ids, []string{"cus_1", "cus_2", "cus_new"}) {
				t.Errorf("ListByAccount = %v", ids)
			}
		})

		t.Run("deleting the account deletes its portals", func(t *testing.T) {
			_, err := db.Exec(ctx, "DELETE FROM stripe_account WHERE id='eu'")
			must(t, err)
			got, err := pq.Get(ctx, "eu", "cus_eu")
			must(t, err)
			if got != nil {
				t.Errorf("portal outlived its account: %+v", got)
			}
		})
	})
}

func TestPortalAgentActivityAndAssistant(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		must(t, db.Account.Upsert(ctx, &database.Account{ID: "main", DisplayName: "Main"}))
		p := database.NewPortal("main", "cus_1")
		p.Name = "Before"
		must(t, db.Portal.Upsert(ctx, p))
		at := time.UnixMilli(1_800_000_000_000)
		must(t, db.Portal.SetAgentActivity(ctx, "main", "cus_1", at))
		must(t, db.Portal.SetAssistantEnabled(ctx, "main", "cus_1", false))
		got, err := db.Portal.Get(ctx, "main", "cus_1")
		must(t, err)
		if !got.LastAgentActivityAt.Equal(at) || got.AssistantEnabled || got.Name != "Before" {
			t.Fatalf("portal %+v", got)
		}
	})
}
