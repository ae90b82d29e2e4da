package webchat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/pgnotify"
)

// Live updates reach every stream on every process. The process that gets
// an event from the homeserver (in an appservice transaction, or because
// the widget sent it) hands it to its own streams and, on PostgreSQL,
// announces it with NOTIFY; the other processes LISTEN, fetch the event
// once each and hand it to theirs. SQLite means one process: no NOTIFY.
const notifyChannel = "matrix_stripe_webchat"

type notification struct {
	Origin string     `json:"origin"`
	Room   id.RoomID  `json:"room"`
	Event  id.EventID `json:"event"`
}

// streamItem is one Server-Sent Event.
type streamItem struct {
	name string     // message, redaction, reset, session_ended
	id   id.EventID // the Matrix event at this position of the timeline
	data any
}

type subscriber struct {
	ch   chan streamItem
	view *roomView
	once sync.Once
	gone chan struct{}
}

// drop ends a subscriber that cannot keep up or whose feed broke; its
// widget reconnects and resumes from the last event it got.
func (sub *subscriber) drop() { sub.once.Do(func() { close(sub.gone) }) }

type hub struct {
	s    *Server
	mu   sync.Mutex
	subs map[id.RoomID]map[*subscriber]struct{}
	// recent keeps each room's last events this process handed out: one
	// that arrived just before a widget reconnected may not be in the
	// homeserver's /context yet (its sync API lags the transaction).
	recent map[id.RoomID][]*event.Event
}

// recentPerRoom bounds the replay buffer; recentRooms bounds how many rooms
// keep one (the oldest rooms' buffers are dropped first).
const (
	recentPerRoom = 20
	recentRooms   = 2000
)

func newHub(s *Server) *hub {
	return &hub{s: s, subs: map[id.RoomID]map[*subscriber]struct{}{}, recent: map[id.RoomID][]*event.Event{}}
}

func (h *hub) remember(evt *event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.recent[evt.RoomID]; !ok && len(h.recent) >= recentRooms {
		h.recent = map[id.RoomID][]*event.Event{}
	}
	list := append(h.recent[evt.RoomID], evt)
	if len(list) > recentPerRoom {
		list = list[len(list)-recentPerRoom:]
	}
	h.recent[evt.RoomID] = list
}

// recentAfter returns the remembered events of the room after last, or
// all of them when last is not among them.
func (h *hub) recentAfter(room id.RoomID, last id.EventID) []*event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.recent[room]
	for i, evt := range list {
		if evt.ID == last {
			return append([]*event.Event(nil), list[i+1:]...)
		}
	}
	return append([]*event.Event(nil), list...)
}

// subscriberBuffer is how far a stream may fall behind before it is
// dropped (and resumes).
const subscriberBuffer = 64

func (h *hub) subscribe(view *roomView) *subscriber {
	sub := &subscriber{ch: make(chan streamItem, subscriberBuffer), view: view, gone: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[view.room] == nil {
		h.subs[view.room] = map[*subscriber]struct{}{}
	}
	h.subs[view.room][sub] = struct{}{}
	return sub
}

func (h *hub) unsubscribe(sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[sub.view.room], sub)
	if len(h.subs[sub.view.room]) == 0 {
		delete(h.subs, sub.view.room)
	}
}

func (h *hub) roomSubscribers(room id.RoomID) []*subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*subscriber, 0, len(h.subs[room]))
	for sub := range h.subs[room] {
		out = append(out, sub)
	}
	return out
}

// dropAll makes every stream resume: after the notification feed was down,
// events may have been missed.
func (h *hub) dropAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.subs {
		for sub := range subs {
			sub.drop()
		}
	}
}

// deliver hands an event to this process's streams of its room.
func (h *hub) deliver(ctx context.Context, evt *event.Event) {
	h.remember(evt)
	subs := h.roomSubscribers(evt.RoomID)
	if len(subs) == 0 {
		return
	}
	// One room is one customer: every subscriber sees it the same way.
	item, ok := itemOf(ctx, subs[0].view, evt)
	if !ok {
		return
	}
	for _, sub := range subs {
		select {
		case sub.ch <- item:
		default:
			sub.drop()
		}
	}
}

func itemOf(ctx context.Context, v *roomView, evt *event.Event) (streamItem, bool) {
	msg, redacts := v.convert(ctx, evt)
	switch {
	case redacts != "":
		return streamItem{name: "redaction", id: evt.ID, data: map[string]id.EventID{"id": redacts}}, true
	case msg != nil:
		return streamItem{name: "message", id: evt.ID, data: msg}, true
	}
	return streamItem{}, false
}

// OnEvent is called for every message and redaction the bridge receives
// from the homeserver: customer rooms' events reach the widgets streaming
// them, here and on the other processes.
func (s *Server) OnEvent(ctx context.Context, evt *event.Event) {
	if evt.Type != event.EventMessage && evt.Type != event.EventRedaction {
		return
	}
	s.hub.deliver(ctx, evt)
	s.announce(ctx, evt)
}

func (s *Server) announce(ctx context.Context, evt *event.Event) {
	payload, _ := json.Marshal(notification{Origin: s.opts.ProcessID, Room: evt.RoomID, Event: evt.ID})
	if err := pgnotify.Announce(ctx, s.opts.DB.Database, notifyChannel, string(payload)); err != nil {
		s.log.Warn().Err(err).Msg("Failed to announce a room event to the other bridge processes")
	}
}

// Listen follows the other processes' announcements until ctx ends; uri
// is the PostgreSQL connection string. It returns at once on SQLite.
func (s *Server) Listen(ctx context.Context, uri string) {
	if s.opts.DB.Dialect != dbutil.Postgres {
		return
	}
	// Back from a lost connection, streams resume from where they were and
	// catch up on what was announced meanwhile.
	pgnotify.Listen(ctx, uri, notifyChannel, "web chat", s.log,
		func(payload string) { s.onNotification(ctx, payload) }, s.hub.dropAll)
}

func (s *Server) onNotification(ctx context.Context, payload string) {
	var n notification
	if json.Unmarshal([]byte(payload), &n) != nil || n.Origin == s.opts.ProcessID || n.Room == "" || n.Event == "" {
		return
	}
	if len(s.hub.roomSubscribers(n.Room)) == 0 {
		return
	}
	evt, err := s.opts.Bot.GetEvent(ctx, n.Room, n.Event)
	if err != nil {
		s.log.Warn().Err(err).Str("room_id", n.Room.String()).Str("matrix_event_id", n.Event.String()).
			Msg("Failed to fetch an event another process announced")
		return
	}
	evt, ok := s.readable(ctx, evt)
	if !ok {
		return
	}
	s.hub.deliver(ctx, evt)
}

const (
	keepAliveEvery    = 25 * time.Second
	sessionCheckEvery = time.Minute
	resumeLimit       = 100
)

// stream is the widget's live feed (Server-Sent Events). Last-Event-ID
// resumes after that event: what the room got meanwhile is sent first.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	v := s.view(sess)
	sub := s.hub.subscribe(v)
	defer s.hub.unsubscribe(sub)
	if s.opts.Observer != nil {
		s.opts.Observer.WebChatStream(sess.AccountID, true)
		defer s.opts.Observer.WebChatStream(sess.AccountID, false)
	}

	write := func(item streamItem) bool {
		// The listener's write timeout is for requests, not for a feed
		// that lasts hours: each write gets its own deadline.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		var b strings.Builder
		if item.id != "" {
			fmt.Fprintf(&b, "id: %s\n", item.id)
		}
		data, _ := json.Marshal(item.data)
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", item.name, data)
		if _, err := w.Write([]byte(b.String())); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(http.StatusOK)
	if !write(streamItem{name: "ready", data: map[string]bool{"ok": true}}) {
		return
	}
	sent := map[id.EventID]bool{}
	if last := id.EventID(r.Header.Get("Last-Event-ID")); last != "" {
		missed, ok := s.after(ctx, v, last)
		if !ok {
			// The position is unknown: the widget reloads the history.
			missed = []streamItem{{name: "reset", data: map[string]bool{"reset": true}}}
		}
		for _, item := range missed {
			sent[item.id] = true
			if !write(item) {
				return
			}
		}
		for _, evt := range s.hub.recentAfter(v.room, last) {
			if item, ok := itemOf(ctx, v, evt); ok && !sent[item.id] && item.id != last {
				sent[item.id] = true
				if !write(item) {
					return
				}
			}
		}
	}
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	lastCheck := time.Now()
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.gone:
			return
		case item := <-sub.ch:
			if item.id != "" && sent[item.id] {
				continue
			}
			if !write(item) {
				return
			}
		case <-keepAlive.C:
			if time.Since(lastCheck) >= sessionCheckEvery {
				lastCheck = time.Now()
				if still, err := s.lookupSession(ctx, token); err == nil && still == nil {
					write(streamItem{name: "session_ended", data: errSessionEnded})
					return
				}
			}
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// after returns what the room got after an event, oldest first; ok is
// false when the homeserver does not know the event (in this room).
func (s *Server) after(ctx context.Context, v *roomView, last id.EventID) ([]streamItem, bool) {
	resp, err := s.opts.Bot.Context(ctx, v.room, last, nil, resumeLimit)
	if err != nil || resp == nil {
		return nil, false
	}
	var out []streamItem
	for _, evt := range resp.EventsAfter {
		evt, ok := s.readable(ctx, evt)
		if !ok {
			continue
		}
		if item, ok := itemOf(ctx, v, evt); ok {
			out = append(out, item)
		}
	}
	return out, true
}

// MarshalJSON lets an apiError be an event's data.
func (e *apiError) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"error": e.code, "message": e.message})
}
