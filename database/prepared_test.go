package database_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// Insert runs a prepared statement; inside a transaction it must run on the
// transaction's connection, prepared or not, even when the pool has only
// that one: a rolled-back insert is gone, a committed one stays, and
// nothing waits for a second connection.
func TestInsertPreparedInTransactions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		db.RawDB.SetMaxOpenConns(1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errRollback := errors.New("roll back")
		inTxn := func(id string, rollback bool) {
			t.Helper()
			err := db.DoTxn(ctx, nil, func(ctx context.Context) error {
				if _, err := db.Event.Insert(ctx, inboxEvent(id, "cus_a", 10)); err != nil {
					return err
				}
				if rollback {
					return errRollback
				}
				return nil
			})
			if rollback && !errors.Is(err, errRollback) || !rollback && err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		// Not prepared yet: the transaction runs it unprepared.
		inTxn("evt_before_rolled_back", true)
		inTxn("evt_before", false)
		// Prepared outside a transaction…
		insertEvents(t, db, inboxEvent("evt_outside", "cus_a", 10))
		// …then used inside them.
		inTxn("evt_after_rolled_back", true)
		inTxn("evt_after", false)
		for id, want := range map[string]bool{
			"evt_before_rolled_back": false, "evt_before": true, "evt_outside": true,
			"evt_after_rolled_back": false, "evt_after": true,
		} {
			got, err := db.Event.Get(ctx, id)
			must(t, err)
			if (got != nil) != want {
				t.Errorf("%s stored: %v, want %v", id, got != nil, want)
			}
		}
		// And it goes on working once the pool's connection is replaced.
		db.RawDB.SetMaxIdleConns(0)
		for i := range 3 {
			insertEvents(t, db, inboxEvent(fmt.Sprintf("evt_new_conn_%d", i), "cus_a", 10))
		}
	})
}
