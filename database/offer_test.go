package database_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// An offer is taken once, only before it expires; a new offer replaces the
// old one and Clear forgets it.
func TestAssistantOffer(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		now := ms(1_800_000_000_000)
		room := id.RoomID("!room:example.org")
		must(t, db.Offer.Set(ctx, room, database.Offer{Offer: "portal", Lang: "de"}, now.Add(10*time.Minute)))
		must(t, db.Offer.Set(ctx, room, database.Offer{Offer: "cancel", Lang: "fr"}, now.Add(10*time.Minute)))

		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				o, err := db.Offer.Take(ctx, room, now)
				if err != nil {
					t.Error(err)
				}
				if o != nil {
					wins.Add(1)
					if o.Offer != "cancel" || o.Lang != "fr" {
						t.Errorf("took %+v, want the newer offer", o)
					}
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("the offer was taken %d times, want once", wins.Load())
		}

		must(t, db.Offer.Set(ctx, room, database.Offer{Offer: "portal"}, now.Add(time.Minute)))
		if o, err := db.Offer.Take(ctx, room, now.Add(2*time.Minute)); err != nil || o != nil {
			t.Errorf("an expired offer was taken: %+v, %v", o, err)
		}
		must(t, db.Offer.Set(ctx, room, database.Offer{Offer: "portal"}, now.Add(time.Minute)))
		must(t, db.Offer.Clear(ctx, room))
		if o, err := db.Offer.Take(ctx, room, now); err != nil || o != nil {
			t.Errorf("a cleared offer was taken: %+v, %v", o, err)
		}
	})
}
