package commands

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// recorder is a fake homeserver that keeps every message the bot sends, so
// command flows can be checked without a real homeserver.
type recorder struct {
	mu   sync.Mutex
	sent []*event.MessageEventContent
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/send/m.room.message/") {
		http.Error(w, `{"errcode":"M_UNRECOGNIZED"}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var content event.MessageEventContent
	if err := json.Unmarshal(body, &content); err != nil {
		http.Error(w, `{"errcode":"M_BAD_JSON"}`, http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.sent = append(r.sent, &content)
	r.mu.Unlock()
	_, _ = w.Write([]byte(`{"event_id":"$reply"}`))
}

func (r *recorder) replies() []*event.MessageEventContent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.MessageEventContent(nil), r.sent...)
}

const (
	mgmtRoom  id.RoomID = "!mgmt:example.com"
	otherRoom id.RoomID = "!other:example.com"
	agent     id.UserID = "@agent:example.com"
	customer  id.UserID = "@customer:example.com"
)

func newTestProcessor(t *testing.T) (*Processor, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	cli, err := mautrix.NewClient(srv.URL, "@stripebot:example.com", "token")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(matrixstripe.ExampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	deps := &Deps{
		Config:    cfg,
		Version:   "test",
		StartedAt: time.Now(),
		Role: func(_ context.Context, _ id.RoomID, user id.UserID) config.Role {
			switch user {
			case agent:
				return config.RoleAgent
			case customer:
				return config.RoleCustomer
			}
			return config.RoleNone
		},
		IsManagementRoom: func(_ context.Context, user id.UserID, room id.RoomID) bool {
			return user == agent && room == mgmtRoom
		},
	}
	return NewProcessor(cli, deps), rec
}

func message(room id.RoomID, sender id.UserID, body string) *event.Event {
	return &event.Event{
		Type:    event.EventMessage,
		RoomID:  room,
		Sender:  sender,
		ID:      "$cmd",
		Content: event.Content{Parsed: &event.MessageEventContent{MsgType: event.MsgText, Body: body}},
	}
}

func TestProcessor(t *testing.T) {
	tests := []struct {
		name   string
		room   id.RoomID
		sender id.UserID
		body   string
		want   string // substring of the single reply; empty means no reply
	}{
		{"help without prefix in management room", mgmtRoom, agent, "help", "ping"},
		{"prefix still works in management room", mgmtRoom, agent, "!stripe version", "matrix-stripe test"},
		{"bare prefix shows help", otherRoom, agent, "!stripe", "!stripe ping"},
		{"prefix is case-insensitive", otherRoom, agent, "!STRIPE VERSION", "matrix-stripe test"},
		{"no prefix outside management room is chat", otherRoom, agent, "help", ""},
		{"unknown command", otherRoom, agent, "!stripe frobnicate", "Unknown command"},
		{"customer may not ping", otherRoom, customer, "!stripe ping", "don't have permission"},
		{"customer help lists nothing they cannot run", otherRoom, customer, "!stripe help", "!stripe help"},
		{"no stripe accounts", mgmtRoom, agent, "ping", "No Stripe accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, rec := newTestProcessor(t)
			proc.Handle(context.Background(), message(tt.room, tt.sender, tt.body))
			replies := rec.replies()
			if tt.want == "" {
				if len(replies) != 0 {
					t.Fatalf("want no reply, got %q", replies[0].Body)
				}
				return
			}
			if len(replies) != 1 {
				t.Fatalf("want 1 reply, got %d", len(replies))
			}
			if !strings.Contains(replies[0].Body, tt.want) {
				t.Errorf("reply %q does not contain %q", replies[0].Body, tt.want)
			}
			if replies[0].MsgType != event.MsgNotice {
				t.Errorf("reply is %s, want m.notice", replies[0].MsgType)
			}
		})
	}
}

func TestHelpHidesRefusedCommands(t *testing.T) {
	proc, rec := newTestProcessor(t)
	proc.Handle(context.Background(), message(otherRoom, customer, "!stripe help"))
	replies := rec.replies()
	if len(replies) != 1 {
		t.Fatalf("want 1 reply, got %d", len(replies))
	}
	if strings.Contains(replies[0].Body, "ping") || strings.Contains(replies[0].Body, "version") {
		t.Errorf("customer help lists agent commands: %q", replies[0].Body)
	}
}

func TestPanicBecomesSentence(t *testing.T) {
	proc, rec := newTestProcessor(t)
	proc.Register(&Command{Name: "boom", Role: config.RoleAgent, Help: "panics", Func: func(ce *Event) {
		var handlers []func()
		handlers[0]()
	}})
	proc.Handle(context.Background(), message(mgmtRoom, agent, "boom"))
	replies := rec.replies()
	if len(replies) != 1 || !strings.Contains(replies[0].Body, "Something went wrong") {
		t.Fatalf("want a polite error, got %+v", replies)
	}
	if strings.Contains(replies[0].Body, "index out of range") || strings.Contains(replies[0].Body, "goroutine") {
		t.Errorf("reply leaks internals: %q", replies[0].Body)
	}
}

func TestUserInputIsEscaped(t *testing.T) {
	proc, rec := newTestProcessor(t)
	proc.Handle(context.Background(), message(otherRoom, agent, "!stripe <b>x</b>"))
	replies := rec.replies()
	if len(replies) != 1 {
		t.Fatalf("want 1 reply, got %d", len(replies))
	}
	if strings.Contains(replies[0].FormattedBody, "<b>") {
		t.Errorf("HTML from user input was not escaped: %q", replies[0].FormattedBody)
	}
}

type fakeInbox struct {
	failed  []*database.Event
	retried []string
}

func (f *fakeInbox) Health(context.Context, string) (*database.AccountHealth, error) {
	return &database.AccountHealth{}, nil
}

func (f *fakeInbox) ListFailed(context.Context, int) ([]*database.Event, error) { return f.failed, nil }
func (f *fakeInbox) Retry(_ context.Context, id string) (bool, error) {
	for _, evt := range f.failed {
		if evt.ID == id {
			f.retried = append(f.retried, id)
			return true, nil
		}
	}
	return false, nil
}

func TestFailedAndRetry(t *testing.T) {
	proc, rec := newTestProcessor(t)
	inbox := &fakeInbox{failed: []*database.Event{{ID: "evt_1", Type: "invoice.paid", AccountID: "main", LastError: "render invoice.paid: <bad>"}}}
	proc.deps.Inbox = inbox
	proc.deps.Role = func(context.Context, id.RoomID, id.UserID) config.Role { return config.RoleAdmin }
	for _, body := range []string{"failed", "retry evt_1", "retry evt_2", "retry nonsense", "failed"} {
		proc.Handle(context.Background(), message(mgmtRoom, agent, body))
	}
	replies := rec.replies()
	if len(replies) != 5 {
		t.Fatalf("want 5 replies, got %d", len(replies))
	}
	wants := []string{"evt_1", "Queued", "is not a failed event", "Usage: `retry", "evt_1"}
	for i, want := range wants {
		if !strings.Contains(replies[i].Body, want) {
			t.Errorf("reply %d %q does not contain %q", i, replies[i].Body, want)
		}
	}
	if strings.Contains(replies[0].FormattedBody, "<bad>") {
		t.Error("stored error text was not escaped")
	}
	if len(inbox.retried) != 1 {
		t.Errorf("retried %v", inbox.retried)
	}
	// Outside the management room the inbox is not listed.
	proc.Handle(context.Background(), message(otherRoom, agent, "!stripe failed"))
	if last := rec.replies()[5]; !strings.Contains(last.Body, "management room") {
		t.Errorf("failed ran outside the management room: %q", last.Body)
	}
}
