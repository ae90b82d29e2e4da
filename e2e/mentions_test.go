package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"
)

// notification is one entry of GET /_matrix/client/v3/notifications: the
// homeserver's own verdict, after its push rules, that the user is notified.
type notification struct {
	Actions []json.RawMessage `json:"actions"`
	Event   struct {
		EventID id.EventID `json:"event_id"`
		Sender  id.UserID  `json:"sender"`
	} `json:"event"`
	RoomID id.RoomID `json:"room_id"`
}

// highlight reports whether the push rules that matched marked the event as
// a mention (set_tweak highlight), not just "a message in the room".
func (n notification) highlight() bool {
	for _, raw := range n.Actions {
		var tweak struct {
			SetTweak string `json:"set_tweak"`
			Value    *bool  `json:"value"`
		}
		if json.Unmarshal(raw, &tweak) == nil && tweak.SetTweak == "highlight" && (tweak.Value == nil || *tweak.Value) {
			return true
		}
	}
	return false
}

// notifications are the user's notifications, newest first. mautrix has no
// helper for the endpoint.
func notifications(t testing.TB, cli *mautrix.Client) map[id.EventID]notification {
	t.Helper()
	var resp struct {
		Notifications []notification `json:"notifications"`
	}
	if _, err := cli.MakeRequest(t.Context(), http.MethodGet, cli.BuildClientURL("v3", "notifications"), nil, &resp); err != nil {
		t.Fatalf("notifications: %v", err)
	}
	out := make(map[id.EventID]notification, len(resp.Notifications))
	for _, n := range resp.Notifications {
		out[n.Event.EventID] = n
	}
	return out
}

// waitNotified waits until the homeserver lists evt as a highlighted
// notification of cli's user.
func waitNotified(t testing.TB, cli *mautrix.Client, evt id.EventID) {
	t.Helper()
	waitFor(t, 20*time.Second, string(cli.UserID)+" notified of "+string(evt), func() (bool, string) {
		n, ok := notifications(t, cli)[evt]
		return ok && n.highlight(), fmt.Sprintf("listed=%t highlight=%t", ok, n.highlight())
	})
}

// mentionsAgent checks the message's own shape: m.text, m.mentions naming
// the agent, a pill in the formatted body and the MXID in the plain body.
func mentionsAgent(t testing.TB, evt *event.Event, agent id.UserID) {
	t.Helper()
	content := evt.Content.AsMessage()
	pill := fmt.Sprintf(`<a href="https://matrix.to/#/%s">%s</a>`, agent, agent)
	if content.MsgType != event.MsgText || content.Mentions == nil || !slices.Contains(content.Mentions.UserIDs, agent) ||
		!strings.Contains(content.FormattedBody, pill) || !strings.Contains(content.Body, string(agent)) {
		t.Errorf("message does not mention %s properly: msgtype=%s mentions=%+v formatted=%q body=%q",
			agent, content.MsgType, content.Mentions, content.FormattedBody, content.Body)
	}
}

// TestMentionsNotifyAgents proves through Dendrite's push rules that the
// handoff and the refund-request notice notify the agent they mention,
// where the same mention sent as m.notice (what the bridge used to send)
// does not.
func TestMentionsNotifyAgents(t *testing.T) {
	fake := scenarioFake(t, commandsScenario)
	s := startStack(t, stackOptions{fake: fake})
	bot := s.cfg.BotMXID()
	agent := s.user(t, "agent")
	alice := s.user(t, "alice")
	room := openCustomerRoom(t, s, fake, "cus_alice", agent, alice)

	// The old shape: the handoff line with the agent's pill and m.mentions,
	// but as m.notice. .m.rule.suppress_notices comes first and drops it.
	old := format.RenderMarkdown("Control, sent as m.notice: an agent is asked to answer you here: "+
		format.MarkdownMention(agent.UserID)+".", true, false)
	old.MsgType = event.MsgNotice
	old.Mentions = &event.Mentions{UserIDs: []id.UserID{agent.UserID}}
	sent, err := s.bridge.Bot.SendMessageEvent(t.Context(), room, event.EventMessage, &old)
	if err != nil {
		t.Fatal(err)
	}
	asNotice := sent.EventID

	t.Run("a handoff notifies the agents on duty", func(t *testing.T) {
		if _, err := alice.SendText(t.Context(), room, "hmm the thing from before, you know"); err != nil {
			t.Fatal(err)
		}
		handoff := waitForReply(t, alice, room, bot, "I've let")
		if handoff.ID == asNotice {
			t.Fatal("found the m.notice control instead of the handoff")
		}
		mentionsAgent(t, handoff, agent.UserID)
		waitNotified(t, agent, handoff.ID)
		// Dendrite evaluates a room's events in order, so the control sent
		// before the handoff has been decided by now.
		if n, listed := notifications(t, agent)[asNotice]; listed {
			t.Errorf("the same mention as m.notice notified too (%+v): the control proves nothing", n)
		}
	})

	t.Run("a refund request notifies the agents", func(t *testing.T) {
		if _, err := alice.SendText(t.Context(), room, "!stripe request-refund in_alice_paid it arrived broken"); err != nil {
			t.Fatal(err)
		}
		notice := waitForReply(t, alice, room, bot, "Refund request")
		mentionsAgent(t, notice, agent.UserID)
		waitNotified(t, agent, notice.ID)
		if strings.Contains(notice.Content.AsMessage().Body, "refund-request-queue") {
			t.Errorf("notice shows an internal name: %q", notice.Content.AsMessage().Body)
		}

		// Replying to the notice is how the agent names this request.
		content := format.RenderMarkdown("!stripe approve", false, false)
		content.SetReply(notice)
		if _, err := agent.SendMessageEvent(t.Context(), room, event.EventMessage, &content); err != nil {
			t.Fatal(err)
		}
		waitForReply(t, agent, room, bot, "Refund $50.00")
	})
}
