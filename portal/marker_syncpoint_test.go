package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// queueingHS models the two delays of Dendrite v0.13.8 that a look-up
// right after a crash runs into. A send the crashed attempt made may still
// be queued in the roomserver: it is stored just before the next event of
// the room (the roomserver works through a room's queue in order). And a
// stored event shows in /messages only a few requests later (the sync API
// consumes the roomserver's output behind it). State events are stored and
// listed like messages.
type queueingHS struct {
	mu      sync.Mutex
	serial  int
	sends   int // message sends
	lookups int // /messages requests
	// lag: an event stored while lookups is n shows from request n+lag on.
	lag     int
	rooms   map[string][]queuedEvent // stored, oldest first
	pending map[string][]queuedEvent // queued, not stored yet
}

type queuedEvent struct {
	fakeEvent
	visibleFrom int
}

func newQueueingHS(t *testing.T, lag int) (*queueingHS, *httptest.Server) {
	hs := &queueingHS{lag: lag, rooms: map[string][]queuedEvent{}, pending: map[string][]queuedEvent{}}
	return hs, newSendingServer(t, func(mux *http.ServeMux) {
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn}", hs.store)
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/state/"+syncPointType+"/{key}", hs.store)
		mux.HandleFunc("GET /_matrix/client/v3/rooms/{room}/messages", hs.messages)
	})
}

// store stores an event, after whatever the room had queued.
func (hs *queueingHS) store(w http.ResponseWriter, r *http.Request) {
	var content map[string]any
	_ = json.NewDecoder(r.Body).Decode(&content)
	room := r.PathValue("room")
	evtType := r.PathValue("type")
	if evtType == "" {
		evtType = syncPointType
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if evtType == "m.room.message" {
		hs.sends++
	}
	for _, queued := range hs.pending[room] {
		queued.visibleFrom = hs.lookups + hs.lag
		hs.rooms[room] = append(hs.rooms[room], queued)
	}
	delete(hs.pending, room)
	evt := hs.newLocked(room, evtType, r.URL.Query().Get("user_id"), content)
	evt.visibleFrom = hs.lookups + hs.lag
	hs.rooms[room] = append(hs.rooms[room], evt)
	reply(w, http.StatusOK, map[string]string{"event_id": evt.ID})
}

func (hs *queueingHS) newLocked(room, evtType, sender string, content map[string]any) queuedEvent {
	hs.serial++
	return queuedEvent{fakeEvent: fakeEvent{ID: fmt.Sprintf("$event%d", hs.serial), Type: evtType, Sender: sender, RoomID: room,
		Timestamp: time.Now().UnixMilli(), Content: content}}
}

// created stores the start of a room, visible at once: every room's
// history holds at least that.
func (hs *queueingHS) created(room id.RoomID) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	evt := hs.newLocked(string(room), "m.room.create", "@stripebot:test", map[string]any{})
	hs.rooms[string(room)] = append(hs.rooms[string(room)], evt)
}

// queue leaves a message in the room's queue, as a send cut short by a
// crash does, and returns its event id.
func (hs *queueingHS) queue(room id.RoomID, sender id.UserID, content map[string]any) id.EventID {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	evt := hs.newLocked(string(room), "m.room.message", string(sender), content)
	hs.pending[string(room)] = append(hs.pending[string(room)], evt)
	return id.EventID(evt.ID)
}

// messages serves dir=b over the events visible now; the token is the
// count of visible events still unread.
func (hs *queueingHS) messages(w http.ResponseWriter, r *http.Request) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.lookups++
	var timeline []fakeEvent
	for _, evt := range hs.rooms[r.PathValue("room")] {
		if evt.visibleFrom < hs.lookups {
			timeline = append(timeline, evt.fakeEvent)
		}
	}
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

// marked returns the stored messages of room marked with the event and copy.
func (hs *queueingHS) marked(room id.RoomID, stripeEventID string, copy Copy) []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var out []string
	for _, evt := range append(hs.rooms[string(room)], hs.pending[string(room)]...) {
		if evt.Type == "m.room.message" && evt.Content[MarkerEventKey] == stripeEventID && evt.Content[MarkerCopyKey] == string(copy) {
			out = append(out, evt.ID)
		}
	}
	return out
}

// A retry right after a crash whose sends the homeserver still had queued
// finds them behind its sync point instead of posting them again — also
// when /messages trails the roomserver.
func TestRetryFindsSendStillQueuedInHomeserver(t *testing.T) {
	for _, lag := range []int{0, 3} {
		t.Run(fmt.Sprintf("sync API %d requests behind", lag), func(t *testing.T) {
			hs, srv := newQueueingHS(t, lag)
			m := newTestManager(t, srv)
			ctx := context.Background()
			const customerID = "cus_PRrPqNXdZ3aB1c"
			portal, err := m.EnsurePortal(ctx, "main", customerID, &stripe.Customer{ID: customerID, Name: "Ada Lovelace"})
			if err != nil {
				t.Fatal(err)
			}
			feedRoom, err := m.EnsureFeedRoom(ctx, "main")
			if err != nil {
				t.Fatal(err)
			}
			hs.created(portal.RoomID)
			hs.created(feedRoom)
			ghost := m.Config.GhostMXID("main")
			// Messages before the crash, so a look-up has a history to read.
			for i := range 3 {
				hs.queue(portal.RoomID, "@ada:test", map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("hello %d", i)})
			}
			if _, err = m.Bot.SendMessageEvent(ctx, portal.RoomID, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "earlier"}); err != nil {
				t.Fatal(err)
			}
			row := inboxRow(t, "charge.failed_insufficient_funds.json", customerID)
			row.Attempts, row.FirstClaimedAt = 2, time.Now().Add(-time.Second)
			queued := map[id.RoomID]id.EventID{}
			for room, copy := range map[id.RoomID]Copy{portal.RoomID: CopyCustomer, feedRoom: CopyFeed} {
				queued[room] = hs.queue(room, ghost, map[string]any{"msgtype": "m.notice", "body": "sent before the crash",
					MarkerEventKey: row.ID, MarkerCopyKey: string(copy)})
			}
			hs.mu.Lock()
			sendsBefore := hs.sends
			hs.mu.Unlock()

			res, err := m.Deliver(ctx, row, RenderOptions{DashboardLink: m.Config.Account("main").DashboardLink})
			if err != nil {
				t.Fatal(err)
			}
			hs.mu.Lock()
			sends := hs.sends - sendsBefore
			hs.mu.Unlock()
			if sends != 0 {
				t.Errorf("the retry sent %d messages, want none: both were queued before the crash", sends)
			}
			for room, copy := range map[id.RoomID]Copy{portal.RoomID: CopyCustomer, feedRoom: CopyFeed} {
				if got := hs.marked(room, row.ID, copy); len(got) != 1 || got[0] != string(queued[room]) {
					t.Errorf("%s room holds %v marked %s, want only %s", copy, got, copy, queued[room])
				}
			}
			if res.MatrixEventID != queued[portal.RoomID] {
				t.Errorf("recorded %s, want the queued customer message %s", res.MatrixEventID, queued[portal.RoomID])
			}
		})
	}
}

// With nothing queued, the retry sends once, after one sync point per
// room, and does not wait out syncPointWait: /messages shows the sync
// point.
func TestRetryWithNothingQueuedSendsOnce(t *testing.T) {
	hs, srv := newQueueingHS(t, 2)
	m := newTestManager(t, srv)
	ctx := context.Background()
	const customerID = "cus_PRrPqNXdZ3aB1c"
	portal, err := m.EnsurePortal(ctx, "main", customerID, &stripe.Customer{ID: customerID, Name: "Ada Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	feedRoom, err := m.EnsureFeedRoom(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	hs.created(portal.RoomID)
	hs.created(feedRoom)
	if _, err = m.Bot.SendMessageEvent(ctx, portal.RoomID, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "earlier"}); err != nil {
		t.Fatal(err)
	}
	row := inboxRow(t, "charge.failed_insufficient_funds.json", customerID)
	row.Attempts, row.FirstClaimedAt = 2, time.Now().Add(-time.Second)
	start := time.Now()
	if _, err = m.Deliver(ctx, row, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= syncPointWait {
		t.Errorf("the retry took %s: it waited out the sync point instead of seeing it", took)
	}
	for room, copy := range map[id.RoomID]Copy{portal.RoomID: CopyCustomer, feedRoom: CopyFeed} {
		if got := hs.marked(room, row.ID, copy); len(got) != 1 {
			t.Errorf("%s room holds %v marked with the event, want one message", copy, got)
		}
	}
}
