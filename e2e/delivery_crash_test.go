package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/e2ee"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

// crashRow is charge.failed (a customer message and a feed line) for the
// customer, under a fresh event id.
func crashRow(t testing.TB, customerID, eventID string) *database.Event {
	t.Helper()
	raw, err := os.ReadFile("../portal/testdata/events/charge.failed_insufficient_funds.json")
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.ReplaceAll(string(raw), "cus_PRrPqNXdZ3aB1c", customerID)
	payload = strings.ReplaceAll(payload, "evt_3Of0b3LkdIwHu7ix1ChFail", eventID)
	return &database.Event{ID: eventID, AccountID: "main", CustomerID: customerID, Type: "charge.failed",
		APIVersion: "2023-10-16", Created: time.Unix(1706749300, 0), Payload: []byte(payload)}
}

// marked returns the ids of the ghost's messages in the room that carry the
// event's marker for copy, reading the whole room.
func marked(t testing.TB, cli *mautrix.Client, room id.RoomID, stripeEventID string, copy portal.Copy) []id.EventID {
	t.Helper()
	var out []id.EventID
	from := ""
	for {
		resp, err := cli.Messages(context.Background(), room, from, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, evt := range resp.Chunk {
			evt = e2ee.Readable(context.Background(), cli, evt)
			if gotEvent, gotCopy := portal.MarkerOf(evt); evt.Sender == cli.UserID && gotEvent == stripeEventID && gotCopy == copy {
				out = append(out, evt.ID)
			}
		}
		if resp.End == "" || len(resp.Chunk) == 0 {
			return out
		}
		from = resp.End
	}
}

// A worker posts an event and dies before recording it, its request's
// transaction id forgotten by the homeserver; once its lease runs out the
// running bridge delivers the event again. The customer's room and the feed
// room each hold exactly one message of it, and the inbox records those.
// In encrypted rooms too, where the marker the retry looks for is inside
// the ciphertext.
func TestDeliveryCrashBetweenSendAndRecord(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		name := "plain"
		if encrypted {
			name = "encrypted"
		}
		t.Run(name, func(t *testing.T) { testDeliveryCrashBetweenSendAndRecord(t, encrypted) })
	}
}

func testDeliveryCrashBetweenSendAndRecord(t *testing.T, encrypted bool) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t), configure: func(cfg *config.Config) {
		if encrypted {
			encryptedConfig(cfg)
		}
	}})
	ctx := t.Context()
	br := s.bridge
	ghost := br.Portal.Ghost("main")
	cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String("Crash Test")})
	if err != nil {
		t.Fatal(err)
	}
	room := waitPortal(t, s, cus.ID).RoomID
	waitInboxSettled(t, s, 1)
	if got, _ := br.DB.StateStore.IsEncrypted(ctx, room); got != encrypted {
		t.Fatalf("the customer room is encrypted: %v, want %v", got, encrypted)
	}

	// The dead worker's claim (another host: no start releases it), with
	// its lease running out in 3 s.
	row := crashRow(t, cus.ID, "evt_crash_between_send_and_record")
	row.ClaimedBy, row.ClaimedUntil = "deadhost/127.0.0.1:1/1-dead/0", time.Now().Add(3*time.Second)
	row.Attempts, row.FirstClaimedAt = 1, time.Now()
	if inserted, err := br.DB.Event.Insert(ctx, row); err != nil || !inserted {
		t.Fatalf("insert: %v %v", inserted, err)
	}
	// Its attempt: both sends succeed, then it dies without recording.
	first, err := br.Portal.Deliver(ctx, row, portal.RenderOptions{DashboardLink: s.cfg.Account("main").DashboardLink})
	if err != nil || first.Skipped || len(first.Messages) != 2 {
		t.Fatalf("first attempt: %+v, %v", first, err)
	}

	// Dendrite forgets the transaction id of a request cut short by the
	// client's death; a restart forgets every one, deterministically. The
	// probe shows it: the same transaction id, sent again, posts again.
	probeUser := s.user(t, "probe")
	probeRoom, err := probeUser.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	probe := func() id.EventID {
		resp, err := probeUser.SendMessageEvent(ctx, probeRoom.RoomID, event.EventMessage,
			&event.MessageEventContent{MsgType: event.MsgText, Body: "probe"}, mautrix.ReqSendEvent{TransactionID: "probe-1"})
		if err != nil {
			t.Fatal(err)
		}
		return resp.EventID
	}
	before := probe()
	// The test homeserver's JetStream is in memory: what its sync API has
	// not read by the restart is never shown. Wait until it has.
	countProbes := func() int {
		n := 0
		for _, evt := range messages(t, probeUser, probeRoom.RoomID) {
			if evt.Content.AsMessage().Body == "probe" {
				n++
			}
		}
		return n
	}
	waitFor(t, 20*time.Second, "the first attempt's messages and the probe readable", func() (bool, string) {
		customer := marked(t, ghost.Client, room, row.ID, portal.CopyCustomer)
		feed := marked(t, ghost.Client, first.Messages[1].RoomID, row.ID, portal.CopyFeed)
		return len(customer) == 1 && len(feed) == 1 && countProbes() == 1, fmt.Sprint(customer, feed, countProbes())
	})
	if err = s.hs.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if after := probe(); after == before {
		t.Fatalf("the restarted homeserver remembered the transaction id (%s): this test cannot show a forgotten one", after)
	}
	waitFor(t, 20*time.Second, "the homeserver to post the probe twice", func() (bool, string) {
		n := countProbes()
		return n == 2, fmt.Sprintf("%d probes", n)
	})

	// The running bridge takes the event over once the lease runs out.
	var got *database.Event
	waitFor(t, 60*time.Second, "the event delivered again", func() (bool, string) {
		got, err = br.DB.Event.Get(ctx, row.ID)
		return err == nil && got.State == database.EventDelivered, fmt.Sprintf("%+v %v", got, err)
	})
	if got.Attempts != 2 || got.MatrixEventID != first.MatrixEventID {
		t.Errorf("delivered on attempt %d as %s, want attempt 2 recording the first attempt's %s", got.Attempts, got.MatrixEventID, first.MatrixEventID)
	}
	feedRoom := first.Messages[1].RoomID
	for _, tc := range []struct {
		room id.RoomID
		copy portal.Copy
		want id.EventID
	}{
		{room, portal.CopyCustomer, first.Messages[0].MatrixEventID},
		{feedRoom, portal.CopyFeed, first.Messages[1].MatrixEventID},
	} {
		if ids := marked(t, ghost.Client, tc.room, row.ID, tc.copy); len(ids) != 1 || ids[0] != tc.want {
			t.Errorf("%s copy: messages %v, want exactly %s", tc.copy, ids, tc.want)
		}
		msg, err := br.DB.Message.GetByEventID(ctx, tc.room, tc.want)
		if err != nil || msg == nil || msg.StripeEventID != row.ID {
			t.Errorf("%s copy not in the message map: %+v, %v", tc.copy, msg, err)
		}
	}
}

// BenchmarkMarkerLookup measures what the look-up before a retried send
// costs on Dendrite: per window (the ghost's messages in the feed room since
// the event's first claim), a first attempt (two sends, no look-up), a retry
// of a posted event (look-up finds both copies, no send) and a retry of an
// event never posted (both rooms read back to the first claim, then two
// sends). Run with a fixed count, e.g. -benchtime=20x: every op adds to the
// window.
func BenchmarkMarkerLookup(b *testing.B) {
	fake := newFake(b)
	s := startStack(b, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(b)})
	ctx := context.Background()
	br := s.bridge
	ghost := br.Portal.Ghost("main")
	cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String("Lookup Bench")})
	if err != nil {
		b.Fatal(err)
	}
	waitPortal(b, s, cus.ID)
	waitInboxSettled(b, s, 1)
	feedRoom, err := br.Portal.EnsureFeedRoom(ctx, "main")
	if err != nil {
		b.Fatal(err)
	}
	opts := portal.RenderOptions{DashboardLink: s.cfg.Account("main").DashboardLink}
	serial := 0
	row := func(attempts int, firstClaim time.Time) *database.Event {
		serial++
		r := crashRow(b, cus.ID, fmt.Sprintf("evt_lookup_bench_%d", serial))
		r.Attempts, r.FirstClaimedAt = attempts, firstClaim
		return r
	}
	deliver := func(r *database.Event) {
		if res, err := br.Portal.Deliver(ctx, r, opts); err != nil || len(res.Messages) != 2 {
			b.Fatalf("deliver: %+v, %v", res, err)
		}
	}
	filled := 0
	for _, window := range []int{0, 500, 2000} {
		start := time.Now()
		for ; filled < window; filled++ {
			content := &event.Content{
				Parsed: &event.MessageEventContent{MsgType: event.MsgNotice, Body: "another customer's line"},
				Raw:    map[string]any{portal.MarkerEventKey: fmt.Sprintf("evt_filler_%d", filled), portal.MarkerCopyKey: string(portal.CopyFeed)},
			}
			if _, err := ghost.SendMessageEvent(ctx, feedRoom, event.EventMessage, content); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("window=%d/first_attempt", window), func(b *testing.B) {
			for b.Loop() {
				deliver(row(1, start))
			}
		})
		b.Run(fmt.Sprintf("window=%d/retry_posted", window), func(b *testing.B) {
			posted := row(1, start)
			deliver(posted)
			time.Sleep(200 * time.Millisecond) // /messages trails the send path
			posted.Attempts = 2
			for b.Loop() {
				deliver(posted)
			}
		})
		b.Run(fmt.Sprintf("window=%d/retry_not_posted", window), func(b *testing.B) {
			for b.Loop() {
				deliver(row(2, start))
			}
		})
	}
}
