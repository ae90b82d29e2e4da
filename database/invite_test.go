package database_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

func TestInvite(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		iq := db.Invite
		now := time.Now()
		carol := &database.PendingInvite{RoomID: "!r1:example.org", UserID: "@carol:remote.example", AccountID: "main", CustomerID: "cus_1"}

		t.Run("begin holds the invite off the retry loop", func(t *testing.T) {
			must(t, iq.Begin(ctx, carol, now.Add(time.Minute)))
			got, err := iq.Get(ctx, carol.RoomID, carol.UserID)
			must(t, err)
			if got == nil || got.Attempts != 1 || got.LastError != "" || got.CustomerID != "cus_1" ||
				got.NextAttemptAt.UnixMilli() != now.Add(time.Minute).UnixMilli() || time.Since(got.CreatedAt) > time.Minute {
				t.Fatalf("after Begin: %+v", got)
			}
			if *carol != *got {
				t.Errorf("Begin wrote back %+v, stored %+v", carol, got)
			}
			claimed, err := iq.ClaimNext(ctx, now, time.Minute)
			must(t, err)
			if claimed != nil {
				t.Errorf("an invite being tried inline was claimed: %+v", claimed)
			}
		})

		t.Run("a failed attempt is claimed once it is due", func(t *testing.T) {
			must(t, iq.Retry(ctx, carol.RoomID, carol.UserID, "M_FORBIDDEN: unreachable", now.Add(-time.Second)))
			claimed, err := iq.ClaimNext(ctx, now, 2*time.Minute)
			must(t, err)
			if claimed == nil || claimed.UserID != carol.UserID || claimed.Attempts != 2 || claimed.LastError != "M_FORBIDDEN: unreachable" ||
				claimed.NextAttemptAt.UnixMilli() != now.Add(2*time.Minute).UnixMilli() {
				t.Fatalf("claimed %+v", claimed)
			}
			again, err := iq.ClaimNext(ctx, now, 2*time.Minute)
			must(t, err)
			if again != nil {
				t.Errorf("claimed twice: %+v", again)
			}
		})

		t.Run("begin again counts the attempt and keeps the history", func(t *testing.T) {
			created := carol.CreatedAt
			again := &database.PendingInvite{RoomID: carol.RoomID, UserID: carol.UserID, AccountID: "main", CustomerID: "cus_1", CreatedAt: created.Add(time.Hour)}
			must(t, iq.Begin(ctx, again, now.Add(time.Minute)))
			if again.Attempts != 3 || !again.CreatedAt.Equal(created) || again.LastError != "M_FORBIDDEN: unreachable" {
				t.Errorf("after second Begin: %+v", again)
			}
		})

		t.Run("oldest due first", func(t *testing.T) {
			for i, user := range []id.UserID{"@late:remote.example", "@early:remote.example"} {
				inv := &database.PendingInvite{RoomID: "!r2:example.org", UserID: user, AccountID: "main"}
				must(t, iq.Begin(ctx, inv, now))
				must(t, iq.Retry(ctx, inv.RoomID, inv.UserID, "down", now.Add(-time.Duration(i+1)*time.Minute)))
			}
			var order []id.UserID
			for {
				claimed, err := iq.ClaimNext(ctx, now, time.Minute)
				must(t, err)
				if claimed == nil {
					break
				}
				order = append(order, claimed.UserID)
			}
			if fmt.Sprint(order) != "[@early:remote.example @late:remote.example]" {
				t.Errorf("claim order %v", order)
			}
			list, err := iq.ListByRoom(ctx, "!r2:example.org")
			must(t, err)
			if len(list) != 2 || list[0].UserID != "@early:remote.example" || list[0].CustomerID != "" {
				t.Errorf("ListByRoom = %+v", list)
			}
		})

		t.Run("a deleted invite stays deleted", func(t *testing.T) {
			must(t, iq.Delete(ctx, carol.RoomID, carol.UserID))
			// A retry that failed after the user was unlinked must not
			// bring the invite back.
			must(t, iq.Retry(ctx, carol.RoomID, carol.UserID, "late failure", now.Add(-time.Second)))
			got, err := iq.Get(ctx, carol.RoomID, carol.UserID)
			must(t, err)
			if got != nil {
				t.Errorf("deleted invite came back: %+v", got)
			}
		})
	})
}

// TestInviteClaimConcurrent stands in for two bridge processes (two
// connection pools, several loops each) retrying one table of invites: every
// invite must be claimed exactly once.
func TestInviteClaimConcurrent(t *testing.T) {
	dialects := []struct {
		name, driver string
		uri          func(testing.TB) string
	}{
		{"sqlite", "sqlite3-fk-wal", dbtest.SQLiteURI},
		{"postgres", "postgres", dbtest.PostgresURI},
	}
	for _, dialect := range dialects {
		t.Run(dialect.name, func(t *testing.T) {
			uri := dialect.uri(t)
			open := func() *database.Database {
				raw, err := dbutil.NewWithDialect(uri, dialect.driver)
				must(t, err)
				t.Cleanup(func() { _ = raw.Close() })
				return upgraded(t, raw)
			}
			runInviteClaimRace(t, open(), open())
		})
	}
}

func runInviteClaimRace(t *testing.T, pools ...*database.Database) {
	const total, loopsPerPool = 60, 3
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	for i := range total {
		inv := &database.PendingInvite{RoomID: id.RoomID(fmt.Sprintf("!r%02d:example.org", i)), UserID: "@carol:remote.example", AccountID: "main", CustomerID: fmt.Sprintf("cus_%02d", i)}
		must(t, pools[0].Invite.Begin(ctx, inv, now))
		must(t, pools[0].Invite.Retry(ctx, inv.RoomID, inv.UserID, "down", now.Add(-time.Minute)))
	}

	var (
		mu        sync.Mutex
		claimedBy = map[id.RoomID]string{}
		perPool   = make([]int, len(pools))
		wg        sync.WaitGroup
		start     = make(chan struct{})
		errs      = make(chan error, len(pools)*loopsPerPool)
	)
	for p, db := range pools {
		for l := range loopsPerPool {
			wg.Add(1)
			go func() {
				defer wg.Done()
				loop := fmt.Sprintf("pool-%d/loop-%d", p, l)
				<-start
				for {
					// The lease outlives the test: nothing may be claimed twice.
					inv, err := db.Invite.ClaimNext(ctx, time.Now(), time.Hour)
					if err != nil {
						errs <- fmt.Errorf("%s: ClaimNext: %w", loop, err)
						return
					}
					if inv == nil {
						return
					}
					mu.Lock()
					if other, dup := claimedBy[inv.RoomID]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("%s claimed by both %s and %s", inv.RoomID, other, loop)
						return
					}
					claimedBy[inv.RoomID] = loop
					perPool[p]++
					mu.Unlock()
					// Stands in for the invite request.
					time.Sleep(300 * time.Microsecond)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A loop that found nothing due stops; whatever it left must still be
	// claimable by a later pass, so drain and count it too.
	for {
		inv, err := pools[1].Invite.ClaimNext(ctx, time.Now(), time.Hour)
		must(t, err)
		if inv == nil {
			break
		}
		if other, dup := claimedBy[inv.RoomID]; dup {
			t.Errorf("%s claimed again after %s", inv.RoomID, other)
		}
		claimedBy[inv.RoomID] = "drain"
	}
	if len(claimedBy) != total {
		t.Errorf("claimed %d invites, want %d", len(claimedBy), total)
	}
	for p, n := range perPool {
		if n == 0 {
			t.Errorf("pool-%d claimed nothing: the race was not exercised", p)
		}
	}
	t.Logf("claims per pool: %v", perPool)
}
