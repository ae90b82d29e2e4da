package panel

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/pgnotify"
)

// The panel's live feed says only "this room changed": the page then reads
// the summary again, through the same checks as the first time, so a feed
// can never show more than a reload would. A room changes when something
// happens in it (a billing event posted, a message, an action) or when
// Stripe tells the bridge about its customer. The process that sees it
// tells its own feeds and, on PostgreSQL, the other processes (NOTIFY);
// SQLite means one process.
const notifyChannel = "matrix_stripe_panel"

type change struct {
	Origin string    `json:"origin"`
	Room   id.RoomID `json:"room"`
}

// feeds holds the open live feeds of this process, by room.
type feeds struct {
	mu   sync.Mutex
	subs map[id.RoomID]map[chan struct{}]struct{}
}

func (f *feeds) subscribe(room id.RoomID) chan struct{} {
	ch := make(chan struct{}, 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[id.RoomID]map[chan struct{}]struct{}{}
	}
	if f.subs[room] == nil {
		f.subs[room] = map[chan struct{}]struct{}{}
	}
	f.subs[room][ch] = struct{}{}
	return ch
}

func (f *feeds) unsubscribe(room id.RoomID, ch chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs[room], ch)
	if len(f.subs[room]) == 0 {
		delete(f.subs, room)
	}
}

// wake tells the room's feeds; one pending wake-up is as good as many.
func (f *feeds) wake(room id.RoomID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs[room] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Changed tells the room's open panels, on every process, to refresh.
func (s *Server) Changed(ctx context.Context, room id.RoomID) {
	if room == "" {
		return
	}
	s.feeds.wake(room)
	payload, _ := json.Marshal(change{Origin: s.opts.ProcessID, Room: room})
	if err := pgnotify.Announce(ctx, s.opts.DB.Database, notifyChannel, string(payload)); err != nil {
		s.log.Warn().Err(err).Msg("Failed to tell the other bridge processes that a room changed")
	}
}

// Listen follows the other processes' changes until ctx ends; uri is the
// PostgreSQL connection string. It returns at once on SQLite.
func (s *Server) Listen(ctx context.Context, uri string) {
	if s.opts.DB.Dialect != dbutil.Postgres {
		return
	}
	// Back from a lost connection, a change may have been missed: every
	// open panel refreshes.
	pgnotify.Listen(ctx, uri, notifyChannel, "panel", s.log, func(payload string) {
		var c change
		if json.Unmarshal([]byte(payload), &c) == nil && c.Origin != s.opts.ProcessID {
			s.feeds.wake(c.Room)
		}
	}, s.wakeAll)
}

func (s *Server) wakeAll() {
	s.feeds.mu.Lock()
	rooms := make([]id.RoomID, 0, len(s.feeds.subs))
	for room := range s.feeds.subs {
		rooms = append(rooms, room)
	}
	s.feeds.mu.Unlock()
	for _, room := range rooms {
		s.feeds.wake(room)
	}
}

const (
	feedKeepAlive = 25 * time.Second
	// feedCoalesce gathers the burst one Stripe happening brings (a
	// payment, its invoice, its receipt) into one refresh.
	feedCoalesce = 500 * time.Millisecond
)

// serveFeed is the room's live feed (Server-Sent Events). It ends when the
// session does; the page signs in again and reconnects.
func (s *Server) serveFeed(w http.ResponseWriter, r *http.Request, sess *session, room id.RoomID) {
	ctx := r.Context()
	if s.customerRoom(w, r, room) == nil {
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	ch := s.feeds.subscribe(room)
	defer s.feeds.unsubscribe(room, ch)
	write := func(chunk string) bool {
		// The listener's write timeout is for requests, not for a feed
		// that lasts hours: each write gets its own deadline.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := w.Write([]byte(chunk)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	w.WriteHeader(http.StatusOK)
	if !write("event: ready\ndata: {}\n\n") {
		return
	}
	keepAlive := time.NewTicker(feedKeepAlive)
	defer keepAlive.Stop()
	expires := time.NewTimer(time.Until(sess.Expires))
	defer expires.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-expires.C:
			return
		case <-ch:
			select {
			case <-time.After(feedCoalesce):
			case <-ctx.Done():
				return
			}
			// Drain what arrived meanwhile: it is in this refresh.
			select {
			case <-ch:
			default:
			}
			if !s.allowed(sess.UserID) || !write("event: changed\ndata: {}\n\n") {
				return
			}
		case <-keepAlive.C:
			if !s.allowed(sess.UserID) || !write(": keep-alive\n\n") {
				return
			}
		}
	}
}
