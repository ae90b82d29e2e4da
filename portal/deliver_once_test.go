package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// forgetfulHS is a homeserver that forgets every transaction id, the way
// Dendrite v0.13.8 does when the client disconnected mid-request: each send
// makes a new event. It keeps each room's timeline and serves /messages
// backwards from it, a page at a time, without a server-side filter.
type forgetfulHS struct {
	mu       sync.Mutex
	rooms    map[string][]fakeEvent // room → timeline, oldest first
	sends    int
	lookups  int // /messages requests
	serial   int
	failSend func(room string) bool // nil: every send works
}

type fakeEvent struct {
	ID        string         `json:"event_id"`
	Type      string         `json:"type"`
	Sender    string         `json:"sender"`
	RoomID    string         `json:"room_id"`
	Timestamp int64          `json:"origin_server_ts"`
	Content   map[string]any `json:"content"`
}

func newForgetfulHS(t *testing.T) (*forgetfulHS, *httptest.Server) {
	hs := &forgetfulHS{rooms: map[string][]fakeEvent{}}
	return hs, newSendingServer(t, func(mux *http.ServeMux) {
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn}", hs.send)
		mux.HandleFunc("GET /_matrix/client/v3/rooms/{room}/messages", hs.messages)
		// The look-up's sync point (marker.go) joins the timeline like any
		// event, so a look-up sees it at once.
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/state/{type}/{key}", hs.state)
	})
}

func (hs *forgetfulHS) send(w http.ResponseWriter, r *http.Request) {
	var content map[string]any
	_ = json.NewDecoder(r.Body).Decode(&content)
	room := r.PathValue("room")
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.sends++
	if hs.failSend != nil && hs.failSend(room) {
		reply(w, http.StatusBadGateway, map[string]string{"errcode": "M_UNKNOWN"})
		return
	}
	evt := hs.appendLocked(room, r.URL.Query().Get("user_id"), time.Now(), content)
	reply(w, http.StatusOK, map[string]string{"event_id": evt.ID})
}

func (hs *forgetfulHS) state(w http.ResponseWriter, r *http.Request) {
	var content map[string]any
	_ = json.NewDecoder(r.Body).Decode(&content)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	evt := hs.appendLocked(r.PathValue("room"), r.URL.Query().Get("user_id"), time.Now(), content)
	hs.rooms[r.PathValue("room")][len(hs.rooms[r.PathValue("room")])-1].Type = r.PathValue("type")
	reply(w, http.StatusOK, map[string]string{"event_id": evt.ID})
}

func (hs *forgetfulHS) appendLocked(room, sender string, ts time.Time, content map[string]any) fakeEvent {
	hs.serial++
	evt := fakeEvent{ID: fmt.Sprintf("$event%d", hs.serial), Type: "m.room.message", Sender: sender, RoomID: room,
		Timestamp: ts.UnixMilli(), Content: content}
	hs.rooms[room] = append(hs.rooms[room], evt)
	return evt
}

// add puts a message into a room as if someone had sent it at ts.
func (hs *forgetfulHS) add(room id.RoomID, sender id.UserID, ts time.Time, content map[string]any) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.appendLocked(string(room), string(sender), ts, content)
}

// messages serves dir=b only; the token is the count of events still unread.
func (hs *forgetfulHS) messages(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.lookups++
	timeline := hs.rooms[r.PathValue("room")]
	end := len(timeline)
	if from := r.URL.Query().Get("from"); from != "" {
		end, _ = strconv.Atoi(from)
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	start := max(end-limit, 0)
	chunk := []fakeEvent{}
	for i := end - 1; i >= start; i-- {
		chunk = append(chunk, timeline[i])
	}
	resp := map[string]any{"start": strconv.Itoa(end), "chunk": chunk}
	if start > 0 {
		resp["end"] = strconv.Itoa(start)
	}
	reply(w, http.StatusOK, resp)
}

func (hs *forgetfulHS) counts() (sends, lookups int, rooms map[string][]fakeEvent) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	rooms = map[string][]fakeEvent{}
	for room, events := range hs.rooms {
		rooms[room] = append([]fakeEvent(nil), events...)
	}
	return hs.sends, hs.lookups, rooms
}

type onceFixture struct {
	hs           *forgetfulHS
	m            *Manager
	customerRoom id.RoomID
	ghost        id.UserID
	opts         RenderOptions
}

func newOnceFixture(t *testing.T) *onceFixture {
	t.Helper()
	hs, srv := newForgetfulHS(t)
	m := newTestManager(t, srv)
	const customerID = "cus_PRrPqNXdZ3aB1c"
	portal, err := m.EnsurePortal(context.Background(), "main", customerID, &stripe.Customer{ID: customerID, Name: "Ada Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	return &onceFixture{hs: hs, m: m, customerRoom: portal.RoomID, ghost: m.Config.GhostMXID("main"),
		opts: RenderOptions{DashboardLink: m.Config.Account("main").DashboardLink}}
}

// row is charge.failed (a customer message and a feed line) as claimed for
// the given attempt, first claimed at firstClaim.
func (f *onceFixture) row(t *testing.T, attempts int, firstClaim time.Time) *database.Event {
	row := inboxRow(t, "charge.failed_insufficient_funds.json", "cus_PRrPqNXdZ3aB1c")
	row.Attempts, row.FirstClaimedAt = attempts, firstClaim
	return row
}

func (f *onceFixture) feedRoom(t *testing.T) id.RoomID {
	room, err := f.m.EnsureFeedRoom(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	return room
}

// markedBy returns the room's messages marked with the event and copy.
func markedBy(events []fakeEvent, stripeEventID string, copy Copy) []fakeEvent {
	var out []fakeEvent
	for _, evt := range events {
		// Messages only: a look-up's sync point names the event it is for.
		if evt.Type == "m.room.message" && evt.Content[MarkerEventKey] == stripeEventID && evt.Content[MarkerCopyKey] == string(copy) {
			out = append(out, evt)
		}
	}
	return out
}

// Every post carries the marker in its content (the customer's message
// shows no event id), and a first attempt sends without reading the room.
func TestDeliverMarksEveryPost(t *testing.T) {
	f := newOnceFixture(t)
	row := f.row(t, 1, time.Now())
	if _, err := f.m.Deliver(context.Background(), row, f.opts); err != nil {
		t.Fatal(err)
	}
	sends, lookups, rooms := f.hs.counts()
	if sends != 2 || lookups != 0 {
		t.Errorf("first attempt: %d sends, %d /messages requests; want 2 and 0 (first attempts do not look)", sends, lookups)
	}
	for room, copy := range map[id.RoomID]Copy{f.customerRoom: CopyCustomer, f.feedRoom(t): CopyFeed} {
		marked := markedBy(rooms[string(room)], row.ID, copy)
		if len(marked) != 1 {
			t.Fatalf("%s room: %d messages marked %s/%s, want 1: %+v", copy, len(marked), row.ID, copy, rooms[string(room)])
		}
		// The feed line names the event for agents on purpose; the
		// customer's message must not.
		body, _ := marked[0].Content["body"].(string)
		formatted, _ := marked[0].Content["formatted_body"].(string)
		if body == "" || copy == CopyCustomer && (strings.Contains(body, row.ID) || strings.Contains(formatted, row.ID)) {
			t.Errorf("%s message shows the event id or nothing: %q / %q", copy, body, formatted)
		}
	}
}

// A homeserver that forgets transaction ids posts again on every send; an
// attempt whose outcome is unknown finds what the earlier one posted and
// sends nothing, in both rooms, and records the same event ids.
func TestDeliverRetryFindsEarlierSend(t *testing.T) {
	for _, tc := range []struct {
		name string
		// failFeed: the earlier attempt's feed line failed (the customer
		// message went out), so the retry sends only the feed line.
		failFeed  bool
		wantSends int
	}{
		{"both posts went out, the record was lost", false, 2},
		{"the feed line failed after the customer message", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOnceFixture(t)
			ctx := context.Background()
			firstClaim := time.Now()
			feedRoom := f.feedRoom(t)
			if tc.failFeed {
				f.hs.failSend = func(room string) bool { return room == string(feedRoom) }
			}
			// One HTTP attempt: the fake's 502 is the failure, not mautrix's retries of it.
			oneTry := context.WithValue(ctx, mautrix.MaxAttemptsContextKey, 1)
			first, firstErr := f.m.Deliver(oneTry, f.row(t, 1, firstClaim), f.opts)
			f.hs.mu.Lock()
			f.hs.failSend = nil
			f.hs.mu.Unlock()
			// Other customers' lines and a chatty customer land in between.
			for i := range 150 {
				f.hs.add(feedRoom, f.ghost, time.Now(), map[string]any{"msgtype": "m.notice", "body": "other",
					MarkerEventKey: fmt.Sprintf("evt_other%d", i), MarkerCopyKey: string(CopyFeed)})
				f.hs.add(f.customerRoom, "@ada:test", time.Now(), map[string]any{"msgtype": "m.text", "body": "hello?"})
			}

			retry := f.row(t, 2, firstClaim)
			again, err := f.m.Deliver(ctx, retry, f.opts)
			if err != nil {
				t.Fatal(err)
			}
			sends, lookups, rooms := f.hs.counts()
			if sends != tc.wantSends || lookups == 0 {
				t.Errorf("%d sends, %d /messages requests; want %d sends and a look-up", sends, lookups, tc.wantSends)
			}
			customer := markedBy(rooms[string(f.customerRoom)], retry.ID, CopyCustomer)
			feed := markedBy(rooms[string(feedRoom)], retry.ID, CopyFeed)
			if len(customer) != 1 || len(feed) != 1 {
				t.Fatalf("%d customer messages, %d feed lines; want exactly one each", len(customer), len(feed))
			}
			if again.MatrixEventID != id.EventID(customer[0].ID) || again.Messages[len(again.Messages)-1].MatrixEventID != id.EventID(feed[0].ID) {
				t.Errorf("retry recorded %+v, want the messages in the rooms %s and %s", again, customer[0].ID, feed[0].ID)
			}
			if !tc.failFeed && (firstErr != nil || first.MatrixEventID != again.MatrixEventID) {
				t.Errorf("first %+v (%v), retry %+v: want the same customer message", first, firstErr, again)
			}
		})
	}
}

// The look-up reads back to the event's first claim (less the clock slack)
// and no further: older history is not read, and an older copy of the
// marker — impossible unless the clocks are far apart — is not taken.
func TestLookupStopsAtFirstClaim(t *testing.T) {
	f := newOnceFixture(t)
	ctx := context.Background()
	row := f.row(t, 2, time.Now())
	old := row.FirstClaimedAt.Add(-lookupClockSlack - time.Minute)
	f.hs.add(f.customerRoom, f.ghost, old, map[string]any{"msgtype": "m.notice", "body": "stale",
		MarkerEventKey: row.ID, MarkerCopyKey: string(CopyCustomer)})
	for range 3 * lookupPage {
		f.hs.add(f.customerRoom, "@ada:test", old, map[string]any{"msgtype": "m.text", "body": "old chat"})
	}
	for range lookupPage / 2 {
		f.hs.add(f.customerRoom, "@ada:test", time.Now(), map[string]any{"msgtype": "m.text", "body": "recent chat"})
	}
	found, stats, err := findMarked(ctx, f.m.Ghost("main").Client, f.customerRoom, row.ID, CopyCustomer, row.FirstClaimedAt)
	if err != nil {
		t.Fatal(err)
	}
	if found != "" || stats.pages != 1 || stats.stoppedBy != "before first claim" {
		t.Errorf("found %q after %d pages (%s), want nothing after one page", found, stats.pages, stats.stoppedBy)
	}
}
