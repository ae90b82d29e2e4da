package database_test

import (
	"context"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// eachDB runs fn on an upgraded bridge database of every dialect.
func eachDB(t *testing.T, fn func(t *testing.T, db *database.Database)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, raw *dbutil.Database) {
		fn(t, upgraded(t, raw))
	})
}

func upgraded(t testing.TB, raw *dbutil.Database) *database.Database {
	t.Helper()
	db := database.New(raw)
	if err := db.Upgrade(context.Background()); err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
	return db
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ms is a time the database can store exactly.
func ms(unixMilli int64) time.Time {
	return time.UnixMilli(unixMilli)
}

func addAccount(t testing.TB, db *database.Database, accountID string) {
	t.Helper()
	must(t, db.Account.Upsert(context.Background(), &database.Account{ID: accountID, DisplayName: accountID}))
}
