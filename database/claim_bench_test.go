package database_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// BenchmarkClaim measures claiming and settling events from a backlog of
// pending events: "backlog" is 500 over 10 customers, the shape of a
// catch-up burst; "history" is the fault tests' 1,000 over 20 customers in
// an inbox that has delivered 20,000 before, so a claim that reads a
// customer's whole history, or every pending event, shows.
func BenchmarkClaim(b *testing.B) {
	for _, dialect := range []struct {
		name string
		open func(testing.TB) *dbutil.Database
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run(dialect.name, func(b *testing.B) {
			b.Run("backlog", func(b *testing.B) { benchClaim(b, upgraded(b, dialect.open(b)), 10, 500, 0) })
			b.Run("history", func(b *testing.B) { benchClaim(b, upgraded(b, dialect.open(b)), 20, 1000, 20000) })
		})
	}
}

func benchClaim(b *testing.B, db *database.Database, customers, backlog, history int) {
	ctx := context.Background()
	n := 0
	fill := func(count int) {
		err := db.DoTxn(ctx, nil, func(ctx context.Context) error {
			for range count {
				evt := inboxEvent(fmt.Sprintf("evt_%07d", n), fmt.Sprintf("cus_%d", n%customers), int64(n))
				if _, err := db.Event.Insert(ctx, evt); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	fill(history)
	if _, err := db.Exec(ctx, "UPDATE stripe_event SET state='delivered'"); err != nil {
		b.Fatal(err)
	}
	fill(backlog)
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%backlog == 0 {
			b.StopTimer()
			fill(backlog)
			b.StartTimer()
		}
		evt, err := db.Event.ClaimNext(ctx, "w", time.Minute, time.Now())
		if err != nil || evt == nil {
			b.Fatalf("claim %d: %v %v", i, evt, err)
		}
		if err = db.Event.MarkDelivered(ctx, evt.ID, "$x", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
