package insights_test

import (
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/insights"
)

func TestInboxWaitingSince(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(h *history)
		want   *time.Time
	}{
		{"an unanswered customer waits since their first message", func(h *history) {
			h.customer("r", 0)
			h.customer("r", 1)
		}, ptr(at(0))},
		{"a handoff keeps them waiting", func(h *history) {
			h.customer("r", 0)
			h.handoff("r", 1, "refund_status")
			h.customer("r", 2)
		}, ptr(at(0))},
		{"an assistant answer clears it", func(h *history) {
			h.customer("r", 0)
			h.answer("r", 1, "invoice")
		}, nil},
		{"and a message after the answer waits again", func(h *history) {
			h.customer("r", 0)
			h.answer("r", 1, "invoice")
			h.customer("r", 3)
			h.customer("r", 4)
		}, ptr(at(3))},
		{"an agent message clears it", func(h *history) {
			h.customer("r", 0)
			h.agent("r", 5)
		}, nil},
		{"messages after the agent's wait from the first of them", func(h *history) {
			h.customer("r", 0)
			h.agent("r", 5)
			h.customer("r", 7)
			h.customer("r", 8)
		}, ptr(at(7))},
		{"a bot notice answers nothing", func(h *history) {
			h.customer("r", 0)
			h.bot("r", 1)
		}, ptr(at(0))},
		{"a resolved conversation waits for nothing", func(h *history) {
			h.customer("r", 0)
			h.state("r", 1, "resolved")
		}, nil},
		{"a new conversation after the resolution waits", func(h *history) {
			h.customer("r", 0)
			h.state("r", 1, "resolved")
			h.customer("r", 9)
		}, ptr(at(9))},
		{"only billing notices: nothing waits", func(h *history) {
			h.bot("r", 0)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h history
			tc.script(&h)
			row := insights.Inbox(h.facts, at(60), time.Hour)["r"]
			if row == nil {
				t.Fatal("no row for the room")
			}
			if !equalTime(row.WaitingSince, tc.want) {
				t.Errorf("waiting since %v, want %v", show(row.WaitingSince), show(tc.want))
			}
		})
	}
}

func TestInboxOverdue(t *testing.T) {
	var h history
	h.customer("late", 0)
	h.customer("ontime", 10)
	h.customer("edge", 5) // exactly the target: not yet over it
	h.customer("answered", 0)
	h.agent("answered", 1)
	rows := insights.Inbox(h.facts, at(20), 15*time.Minute)
	for room, want := range map[id.RoomID]bool{"late": true, "ontime": false, "edge": false, "answered": false} {
		if got := rows[room].Overdue; got != want {
			t.Errorf("%s: overdue %v, want %v", room, got, want)
		}
	}
}

func TestInboxLastMessageAndFirstResponse(t *testing.T) {
	var h history
	// a: the bot's notice after the agent's reply does not count as the
	// last message; the latest conversation has had no agent reply yet.
	h.customer("a", 0)
	h.agent("a", 2)
	h.state("a", 3, "resolved")
	h.customer("a", 10)
	h.answer("a", 11, "invoice")
	h.bot("a", 12)
	// b: answered by an agent after 90 seconds.
	h.customer("b", 0)
	h.agent("b", 1.5)
	// c: only billing notices and a state change.
	h.bot("c", 0)
	h.state("c", 1, "open")

	rows := insights.Inbox(h.facts, at(30), time.Hour)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want one per room with facts (3)", len(rows))
	}
	for _, tc := range []struct {
		room          id.RoomID
		lastAt        *time.Time
		lastBy        string
		firstResponse *float64
	}{
		{"a", ptr(at(11)), "assistant", nil},
		{"b", ptr(at(1.5)), "agent", ptr(90.0)},
		{"c", nil, "", nil},
	} {
		row := rows[tc.room]
		if row.RoomID != tc.room || !equalTime(row.LastMessageAt, tc.lastAt) || row.LastMessageBy != tc.lastBy {
			t.Errorf("%s: room %s, last message at %v by %q; want at %v by %q",
				tc.room, row.RoomID, show(row.LastMessageAt), row.LastMessageBy, show(tc.lastAt), tc.lastBy)
		}
		if show(row.FirstResponseSeconds) != show(tc.firstResponse) {
			t.Errorf("%s: first response %v, want %v", tc.room, show(row.FirstResponseSeconds), show(tc.firstResponse))
		}
	}
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
