package portal

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

const (
	agent       = id.UserID("@agent:test")
	remoteAgent = id.UserID("@agent:down.example")
	carol       = id.UserID("@carol:down.example")
	dave        = id.UserID("@dave:test")
)

func linkedCustomer(user id.UserID) *stripe.Customer {
	return &stripe.Customer{ID: "cus_1", Name: "Carol", Metadata: map[string]string{"matrix_user_id": string(user)}}
}

func pending(t *testing.T, m *Manager, room id.RoomID) map[id.UserID]*database.PendingInvite {
	t.Helper()
	list, err := m.DB.Invite.ListByRoom(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	out := map[id.UserID]*database.PendingInvite{}
	for _, inv := range list {
		out[inv.UserID] = inv
	}
	return out
}

// claim makes the invite due and claims it, as the bridge's retry loop does.
func claim(t *testing.T, m *Manager, room id.RoomID, user id.UserID) *database.PendingInvite {
	t.Helper()
	ctx := context.Background()
	if err := m.DB.Invite.Retry(ctx, room, user, "made due by the test", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	inv, err := m.DB.Invite.ClaimNext(ctx, time.Now(), InviteLease)
	if err != nil || inv == nil || inv.RoomID != room || inv.UserID != user {
		t.Fatalf("claimed %+v (%v), want %s in %s", inv, err, user, room)
	}
	return inv
}

func TestEnsurePortalWithUnreachableInvitees(t *testing.T) {
	hs, srv := newFakeHS(t, "down.example")
	m := newTestManager(t, srv, agent, remoteAgent)
	ctx := context.Background()

	portal, err := m.EnsurePortal(ctx, "main", "cus_1", linkedCustomer(carol))
	if err != nil {
		t.Fatalf("EnsurePortal failed although only invites failed: %v", err)
	}
	again, err := m.EnsurePortal(ctx, "main", "cus_1", linkedCustomer(carol))
	if err != nil || again.RoomID != portal.RoomID {
		t.Fatalf("second EnsurePortal: %+v (%v), want room %s", again, err, portal.RoomID)
	}
	acct, err := m.DB.Account.Get(ctx, "main")
	if err != nil || acct.SpaceRoomID == "" {
		t.Fatalf("space not stored: %+v (%v)", acct, err)
	}

	created, invites, _ := hs.requests()
	t.Run("rooms are created once, inviting only the ghost", func(t *testing.T) {
		if len(created) != 2 {
			t.Fatalf("created %d rooms (space and customer room expected)", len(created))
		}
		if len(created[0].Invite) != 0 {
			t.Errorf("space created with invites %v", created[0].Invite)
		}
		if want := []id.UserID{m.Config.GhostMXID("main")}; !slices.Equal(created[1].Invite, want) {
			t.Errorf("customer room created with invites %v, want %v", created[1].Invite, want)
		}
	})

	t.Run("everyone else is invited after the room is stored", func(t *testing.T) {
		want := []string{
			string(acct.SpaceRoomID) + " " + string(agent),
			string(acct.SpaceRoomID) + " " + string(remoteAgent),
			string(portal.RoomID) + " " + string(agent),
			string(portal.RoomID) + " " + string(remoteAgent),
			string(portal.RoomID) + " " + string(carol),
		}
		if !slices.Equal(invites, want) {
			t.Errorf("invites %q, want %q", invites, want)
		}
	})

	t.Run("failed invites wait for a retry", func(t *testing.T) {
		space := pending(t, m, acct.SpaceRoomID)
		if len(space) != 1 || space[remoteAgent] == nil || space[remoteAgent].CustomerID != "" {
			t.Errorf("space pending invites %+v, want only %s", space, remoteAgent)
		}
		room := pending(t, m, portal.RoomID)
		if len(room) != 2 || room[remoteAgent] == nil || room[carol] == nil {
			t.Fatalf("room pending invites %+v, want %s and %s", room, remoteAgent, carol)
		}
		inv := room[carol]
		if inv.Attempts != 1 || !strings.Contains(inv.LastError, "federation down") || inv.CustomerID != "cus_1" || inv.AccountID != "main" {
			t.Errorf("pending invite %+v", inv)
		}
		if wait := time.Until(inv.NextAttemptAt); wait < 40*time.Second || wait > 80*time.Second {
			t.Errorf("next attempt in %s, want a minute ±20%%", wait)
		}
	})

	t.Run("a retry that fails again backs off further", func(t *testing.T) {
		inv := claim(t, m, portal.RoomID, carol)
		if err := m.RetryInvite(ctx, inv); err != nil {
			t.Fatal(err)
		}
		got := pending(t, m, portal.RoomID)[carol]
		if got == nil || got.Attempts != 2 || !strings.Contains(got.LastError, "federation down") {
			t.Fatalf("after failed retry: %+v", got)
		}
		if wait := time.Until(got.NextAttemptAt); wait < 90*time.Second || wait > 150*time.Second {
			t.Errorf("next attempt in %s, want two minutes ±20%%", wait)
		}
	})

	t.Run("a retry that goes through forgets the invite", func(t *testing.T) {
		hs.setDown("nowhere.invalid") // the remote server is back
		inv := claim(t, m, portal.RoomID, carol)
		if err := m.RetryInvite(ctx, inv); err != nil {
			t.Fatal(err)
		}
		if got := pending(t, m, portal.RoomID)[carol]; got != nil {
			t.Errorf("invite still pending after it went through: %+v", got)
		}
		if _, invites, _ := hs.requests(); invites[len(invites)-1] != string(portal.RoomID)+" "+string(carol) {
			t.Errorf("last invite %q", invites[len(invites)-1])
		}
	})
}

func TestUpdateCustomerInvites(t *testing.T) {
	hs, srv := newFakeHS(t, "down.example")
	m := newTestManager(t, srv, agent)
	ctx := context.Background()
	portal, err := m.EnsurePortal(ctx, "main", "cus_1", linkedCustomer(carol))
	if err != nil {
		t.Fatal(err)
	}
	if pending(t, m, portal.RoomID)[carol] == nil {
		t.Fatal("no pending invite for the unreachable customer")
	}

	t.Run("relinking drops the old user's pending invite", func(t *testing.T) {
		if err := m.UpdateCustomer(ctx, portal, linkedCustomer(dave)); err != nil {
			t.Fatal(err)
		}
		if got := pending(t, m, portal.RoomID); len(got) != 0 {
			t.Errorf("pending invites %+v, want none (carol unlinked, dave invited)", got)
		}
		_, invites, kicks := hs.requests()
		if invites[len(invites)-1] != string(portal.RoomID)+" "+string(dave) {
			t.Errorf("dave not invited: %q", invites)
		}
		// Carol never got into the room: there is nothing to kick.
		if len(kicks) != 0 {
			t.Errorf("kicked %q", kicks)
		}
		if stored, _ := m.DB.Portal.Get(ctx, "main", "cus_1"); stored.MatrixUserID != dave {
			t.Errorf("stored link %s", stored.MatrixUserID)
		}
	})

	t.Run("an unreachable new user does not fail the event", func(t *testing.T) {
		hs.setMember(portal.RoomID, dave, event.MembershipJoin)
		if err := m.UpdateCustomer(ctx, portal, linkedCustomer(carol)); err != nil {
			t.Fatalf("UpdateCustomer failed on an invite: %v", err)
		}
		if got := pending(t, m, portal.RoomID); len(got) != 1 || got[carol] == nil {
			t.Errorf("pending invites %+v, want carol's", got)
		}
		if _, _, kicks := hs.requests(); !slices.Equal(kicks, []string{string(portal.RoomID) + " " + string(dave)}) {
			t.Errorf("kicks %q, want dave's", kicks)
		}
		if stored, _ := m.DB.Portal.Get(ctx, "main", "cus_1"); stored.MatrixUserID != carol {
			t.Errorf("stored link %s", stored.MatrixUserID)
		}
	})

	t.Run("a retry for a user no longer linked is dropped, not sent", func(t *testing.T) {
		if err := m.UpdateCustomer(ctx, portal, &stripe.Customer{ID: "cus_1", Name: "Carol"}); err != nil {
			t.Fatal(err)
		}
		// Play a retry loop that claimed carol's invite just before the unlink.
		stale := &database.PendingInvite{RoomID: portal.RoomID, UserID: carol, AccountID: "main", CustomerID: "cus_1"}
		if err := m.DB.Invite.Begin(ctx, stale, time.Now()); err != nil {
			t.Fatal(err)
		}
		_, before, _ := hs.requests()
		if err := m.RetryInvite(ctx, stale); err != nil {
			t.Fatal(err)
		}
		if _, after, _ := hs.requests(); len(after) != len(before) {
			t.Errorf("invited someone no longer linked: %q", after[len(before):])
		}
		if got := pending(t, m, portal.RoomID); len(got) != 0 {
			t.Errorf("pending invites %+v, want none", got)
		}
	})
}

func TestInviteUser(t *testing.T) {
	hs, srv := newFakeHS(t, "down.example")
	m := newTestManager(t, srv)
	ctx := context.Background()
	const room = id.RoomID("!room:test")
	hs.setMember(room, "@joined:test", event.MembershipJoin)
	if err := m.AS.StateStore.SetMembership(ctx, room, "@invited:test", event.MembershipInvite); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		user    id.UserID
		wantErr bool
		asked   bool // whether the homeserver is asked to invite
	}{
		{"local user", "@new:test", false, true},
		{"already joined (homeserver refuses)", "@joined:test", false, true},
		{"already invited (state store)", "@invited:test", false, false},
		{"unreachable server", "@someone:down.example", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, before, _ := hs.requests()
			err := m.inviteUser(ctx, room, c.user)
			if (err != nil) != c.wantErr {
				t.Errorf("inviteUser = %v, want error %t", err, c.wantErr)
			}
			_, after, _ := hs.requests()
			if asked := len(after) > len(before); asked != c.asked {
				t.Errorf("homeserver asked: %t, want %t", asked, c.asked)
			}
		})
	}
}

func TestInviteBackoff(t *testing.T) {
	cases := []struct {
		attempts int
		base     time.Duration
	}{
		{0, time.Minute},
		{1, time.Minute},
		{2, 2 * time.Minute},
		{3, 4 * time.Minute},
		{9, 256 * time.Minute},
		{10, 6 * time.Hour},
		{1000, 6 * time.Hour},
	}
	for _, c := range cases {
		lo, hi := c.base-c.base/5, c.base+c.base/5
		seen := map[time.Duration]bool{}
		for range 50 {
			d := InviteBackoff(c.attempts)
			if d < lo || d > hi {
				t.Errorf("InviteBackoff(%d) = %s, want %s ±20%%", c.attempts, d, c.base)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("InviteBackoff(%d) has no jitter", c.attempts)
		}
	}
}
