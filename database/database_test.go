package database_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestUpgradeIncludesStateStore(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		// Upgrading an up-to-date database again must be harmless: every start does it.
		must(t, db.Upgrade(ctx))
		user := id.UserID("@stripe_bot:example.org")
		must(t, db.StateStore.MarkRegistered(ctx, user))
		registered, err := db.StateStore.IsRegistered(ctx, user)
		must(t, err)
		if !registered {
			t.Error("state store did not keep the registration")
		}
	})
}
