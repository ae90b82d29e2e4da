package database_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// BenchmarkClaim measures claiming and settling events from a backlog of
// 500 pending events over 10 customers, the shape of a catch-up burst.
func BenchmarkClaim(b *testing.B) {
	for _, dialect := range []struct {
		name string
		open func(testing.TB) *dbutil.Database
	}{{"sqlite", dbtest.SQLite}, {"postgres", dbtest.Postgres}} {
		b.Run(dialect.name, func(b *testing.B) {
			db := upgraded(b, dialect.open(b))
			ctx := context.Background()
			const backlog = 500
			n := 0
			fill := func() {
				for range backlog {
					evt := inboxEvent(fmt.Sprintf("evt_%07d", n), fmt.Sprintf("cus_%d", n%10), int64(n))
					if _, err := db.Event.Insert(ctx, evt); err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			fill()
			b.ResetTimer()
			for i := range b.N {
				if i > 0 && i%backlog == 0 {
					b.StopTimer()
					fill()
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
		})
	}
}
