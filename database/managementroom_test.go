package database_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestManagementRoom(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		mrq := db.ManagementRoom
		user := id.UserID("@agent:example.org")

		roomOf := func() id.RoomID {
			t.Helper()
			mr, err := mrq.Get(ctx, user)
			must(t, err)
			if mr == nil {
				return ""
			}
			return mr.RoomID
		}

		if got := roomOf(); got != "" {
			t.Fatalf("management room before any DM: %s", got)
		}
		must(t, mrq.Set(ctx, user, "!dm1:example.org"))
		if got := roomOf(); got != "!dm1:example.org" {
			t.Errorf("after first Set: %s", got)
		}
		must(t, mrq.Set(ctx, user, "!dm2:example.org"))
		if got := roomOf(); got != "!dm2:example.org" {
			t.Errorf("after moving: %s", got)
		}

		owner, err := mrq.GetByRoom(ctx, "!dm2:example.org")
		must(t, err)
		if owner == nil || owner.UserID != user {
			t.Errorf("GetByRoom = %+v", owner)
		}
		old, err := mrq.GetByRoom(ctx, "!dm1:example.org")
		must(t, err)
		if old != nil {
			t.Errorf("old DM still a management room: %+v", old)
		}

		must(t, mrq.Delete(ctx, user))
		if got := roomOf(); got != "" {
			t.Errorf("after Delete: %s", got)
		}
	})
}
