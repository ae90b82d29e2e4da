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
		var m map[string]int
		m["x"] = 1
	}})
	proc.Handle(context.Background(), message(mgmtRoom, agent, "boom"))
	replies := rec.replies()
	if len(replies) != 1 || !strings.Contains(replies[0].Body, "Something went wrong") {
		t.Fatalf("want a polite error, got %+v", replies)
	}
	if strings.Contains(replies[0].Body, "nil map") || strings.Contains(replies[0].Body, "goroutine") {
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
