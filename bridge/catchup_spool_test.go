package bridge

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

func TestEventSpoolGivesEventsBackOldestFirst(t *testing.T) {
	for name, spool := range map[string]*eventSpool{"file": newEventSpool(zerolog.Nop()), "memory": {}} {
		t.Run(name, func(t *testing.T) {
			defer spool.close()
			if name == "file" && spool.file == nil {
				t.Fatal("no spool file")
			}
			const n = 2*spoolChunk + 37
			for i := range n {
				// Sizes around the varint's one-byte limit.
				record := fmt.Sprintf("%d:%0*d", i, i%200, 0)
				if err := spool.add([]byte(record)); err != nil {
					t.Fatal(err)
				}
			}
			if spool.len() != n {
				t.Fatalf("len %d, want %d", spool.len(), n)
			}
			// Oldest first, then a few out of order (each reads a chunk).
			order := make([]int, 0, n+4)
			for i := range n {
				order = append(order, i)
			}
			order = append(order, 0, n-1, spoolChunk, 3)
			for _, i := range order {
				raw, err := spool.at(i)
				if err != nil {
					t.Fatal(err)
				}
				listed := n - 1 - i
				if want := fmt.Sprintf("%d:%0*d", listed, listed%200, 0); string(raw) != want {
					t.Fatalf("at(%d) = %q, want %q", i, raw, want)
				}
			}
			if _, err := spool.at(n); err == nil {
				t.Error("at(len) did not fail")
			}
		})
	}
}

func TestBatchFullKeepsASecondTogether(t *testing.T) {
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	cases := []struct {
		name       string
		n          int
		last, next time.Time
		want       bool
	}{
		{"short batch", missedBatch - 1, at(10), at(11), false},
		{"full batch, next second", missedBatch, at(10), at(11), true},
		{"full batch, same second", missedBatch, at(10), at(10), false},
		{"one second at the ceiling", maxMissedBatch, at(10), at(10), true},
	}
	for _, tc := range cases {
		if got := batchFull(tc.n, tc.last, tc.next); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// storeMissed stores a listing (newest first, as Stripe lists) of more
// than one batch oldest first: arrival follows time, and within a second
// the reverse of the listing, as when the catch-up stored all at once.
func TestStoreMissedStoresOldestFirst(t *testing.T) {
	ctx := context.Background()
	db := database.New(dbtest.SQLite(t))
	if err := db.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	br := &Bridge{Config: testConfig(t), DB: db, wake: make(chan struct{}, 1)}
	spool := newEventSpool(zerolog.Nop())
	defer spool.close()
	const n = 3*missedBatch + 11
	base := time.Now().Unix() - n
	for i := n - 1; i >= 0; i-- { // newest first
		created := base + int64(i/7)
		raw := fmt.Sprintf(`{"id":"evt_%04d","object":"event","type":"customer.updated","created":%d,"livemode":false,
			"data":{"object":{"id":"cus_%d","object":"customer"}}}`, i, created, i%5)
		if err := spool.add([]byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	inserted, err := br.storeMissed(ctx, zerolog.Nop(), "main", spool)
	if err != nil || inserted != n {
		t.Fatalf("stored %d of %d: %v", inserted, n, err)
	}
	rows, err := db.Query(ctx, `SELECT event_id, customer_id FROM stripe_event ORDER BY arrival_seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	next := 0
	for rows.Next() {
		var id, customer string
		if err = rows.Scan(&id, &customer); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("evt_%04d", next); id != want || customer != fmt.Sprintf("cus_%d", next%5) {
			t.Fatalf("arrival %d is %s of %s, want %s", next, id, customer, want)
		}
		next++
	}
	if next != n {
		t.Fatalf("%d rows, want %d", next, n)
	}
}
