package database_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestProcessedEvents(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		pq := db.Processed

		t.Run("an event is claimed once", func(t *testing.T) {
			first, err := pq.ClaimEvent(ctx, "$cmd", "!room:example.org", "@agent:example.org")
			must(t, err)
			again, err := pq.ClaimEvent(ctx, "$cmd", "!room:example.org", "@agent:example.org")
			must(t, err)
			if !first || again {
				t.Fatalf("claims = %v, %v; want true, false", first, again)
			}
		})

		t.Run("concurrent claims: exactly one wins", func(t *testing.T) {
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, err := pq.ClaimEvent(ctx, "$race", "!room:example.org", "@agent:example.org")
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d claims won, want 1", wins.Load())
			}
		})

		t.Run("the resolved action is remembered", func(t *testing.T) {
			_, err := pq.ClaimEvent(ctx, "$confirm", "!room:example.org", "@agent:example.org")
			must(t, err)
			must(t, pq.SetAction(ctx, "$confirm", "act_1"))
			got, err := pq.Action(ctx, "$confirm")
			must(t, err)
			missing, err := pq.Action(ctx, "$never")
			must(t, err)
			if got != "act_1" || missing != "" {
				t.Fatalf("actions = %q, %q; want act_1, empty", got, missing)
			}
		})

		t.Run("transactions are remembered once accepted", func(t *testing.T) {
			seen, err := pq.TransactionSeen(ctx, "txn1")
			must(t, err)
			if seen {
				t.Fatal("new transaction reported as seen")
			}
			must(t, pq.RecordTransaction(ctx, "txn1"))
			must(t, pq.RecordTransaction(ctx, "txn1"))
			seen, err = pq.TransactionSeen(ctx, "txn1")
			must(t, err)
			if !seen {
				t.Fatal("recorded transaction not seen")
			}
		})

		t.Run("prune forgets old rows only", func(t *testing.T) {
			n, err := pq.Prune(ctx, time.Now().Add(-time.Hour))
			must(t, err)
			if n != 0 {
				t.Fatalf("pruned %d fresh rows", n)
			}
			n, err = pq.Prune(ctx, time.Now().Add(time.Minute))
			must(t, err)
			if n != 4 {
				t.Fatalf("pruned %d rows, want 4 (3 events, 1 transaction)", n)
			}
			ok, err := pq.ClaimEvent(ctx, "$cmd", "!room:example.org", "@agent:example.org")
			must(t, err)
			if !ok {
				t.Fatal("a pruned event cannot be claimed again")
			}
		})
	})
}
