package database_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// A sign-in link works once, before it expires, even when two tabs open it
// at the same moment.
func TestPanelLinkOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		now := ms(1_800_000_000_000)
		must(t, db.PanelLink.Insert(ctx, "hash-1", "@agent:example.org", "!room:example.org", now.Add(10*time.Minute)))
		must(t, db.PanelLink.Insert(ctx, "hash-old", "@agent:example.org", "!room:example.org", now.Add(-time.Second)))

		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				user, room, ok, err := db.PanelLink.Use(ctx, "hash-1", now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
					if user != "@agent:example.org" || room != "!room:example.org" {
						t.Errorf("used for %s in %s", user, room)
					}
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("the link signed in %d times, want once", wins.Load())
		}
		if _, _, ok, err := db.PanelLink.Use(ctx, "hash-old", now); ok || err != nil {
			t.Errorf("an expired link: ok %v, err %v", ok, err)
		}
		if _, _, ok, err := db.PanelLink.Use(ctx, "no-such-hash", now); ok || err != nil {
			t.Errorf("an unknown link: ok %v, err %v", ok, err)
		}
		must(t, db.PanelLink.Prune(ctx, now))
		var left int
		must(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM panel_link`).Scan(&left))
		if left != 1 {
			t.Errorf("%d links after pruning the expired ones, want 1", left)
		}
	})
}
