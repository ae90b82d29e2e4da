package e2e

import (
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

// TestRoomsAreNeverCreatedTwice forgets each kind of room the bridge made,
// as a crash between creating a room and recording it would, and checks that
// the next attempt finds the same room instead of creating another; then has
// two managers (as two bridge processes would) create an account's rooms at
// the same moment.
func TestRoomsAreNeverCreatedTwice(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	ctx := t.Context()
	br := s.bridge
	customer, err := fake.Client().Customers.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	joinedRooms := func() int {
		resp, err := br.Bot.JoinedRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.JoinedRooms)
	}

	first, err := br.Portal.EnsurePortal(ctx, "main", customer.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := br.DB.Account.Get(ctx, "main")
	if err != nil || acct.SpaceRoomID == "" {
		t.Fatalf("space not recorded: %+v, %v", acct, err)
	}
	feed, err := br.Portal.EnsureFeedRoom(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	rooms := joinedRooms()

	// The crash: the rooms exist on the homeserver, the database never
	// heard of them.
	for _, query := range []string{
		`UPDATE portal SET room_id=NULL WHERE customer_id=$1`,
		`UPDATE stripe_account SET space_room_id=NULL, feed_room_id=NULL WHERE id='main' AND $1<>''`,
	} {
		if _, err = br.DB.Exec(ctx, query, customer.ID); err != nil {
			t.Fatal(err)
		}
	}
	again, err := br.Portal.EnsurePortal(ctx, "main", customer.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	feedAgain, err := br.Portal.EnsureFeedRoom(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	acctAgain, err := br.DB.Account.Get(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if again.RoomID != first.RoomID || feedAgain != feed || acctAgain.SpaceRoomID != acct.SpaceRoomID {
		t.Fatalf("rooms after a lost record: customer %s→%s, feed %s→%s, space %s→%s",
			first.RoomID, again.RoomID, feed, feedAgain, acct.SpaceRoomID, acctAgain.SpaceRoomID)
	}
	if n := joinedRooms(); n != rooms {
		t.Fatalf("the bot is in %d rooms, was in %d: a second room was made", n, rooms)
	}

	t.Run("two processes create one room per customer", func(t *testing.T) {
		other, err := fake.Client().Customers.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		before := joinedRooms()
		// Two managers do not share in-process locks, like two processes.
		managers := []*portal.Manager{
			{Config: br.Config, DB: br.DB, AS: br.AS, Bot: br.Bot, Stripe: br.Portal.Stripe},
			{Config: br.Config, DB: br.DB, AS: br.AS, Bot: br.Bot, Stripe: br.Portal.Stripe},
		}
		got := make([]id.RoomID, len(managers))
		var wg sync.WaitGroup
		for i, m := range managers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := m.EnsurePortal(ctx, "main", other.ID, nil)
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = p.RoomID
			}()
		}
		wg.Wait()
		if got[0] == "" || got[0] != got[1] {
			t.Fatalf("two managers made rooms %v", got)
		}
		if n := joinedRooms(); n != before+1 {
			t.Fatalf("the bot is in %d rooms, want %d", n, before+1)
		}
	})
}
