package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

func TestAssistantInCustomerRoom(t *testing.T) {
	fake := scenarioFake(t, stripefake.DemoScenario)
	s := startStack(t, stackOptions{fake: fake})
	bot := s.cfg.BotMXID()
	bob := s.user(t, "bob")
	if _, err := fake.Client().Customers.Update("cus_DemoBob", &stripe.CustomerParams{
		Metadata: map[string]string{"matrix_user_id": string(bob.UserID)},
	}); err != nil {
		t.Fatal(err)
	}
	portal := waitPortal(t, s, "cus_DemoBob")
	waitFor(t, 20*time.Second, "bob invited", func() (bool, string) {
		_, err := bob.JoinRoomByID(t.Context(), portal.RoomID)
		return err == nil, fmt.Sprint(err)
	})

	t.Run("a declined card is explained with the pay link", func(t *testing.T) {
		reply := send(t, bob, portal.RoomID, bot, "why did my card get declined?")
		if !strings.Contains(reply, "insufficient funds") || !strings.Contains(reply, "http") {
			t.Errorf("reply %q lacks the decline reason or the pay link", reply)
		}
	})

	t.Run("a vague question hands off to the agents", func(t *testing.T) {
		reply := send(t, bob, portal.RoomID, bot, "hmm the thing from before, you know")
		if !strings.Contains(reply, "agent") || !strings.Contains(reply, "@agent:localhost") {
			t.Errorf("handoff reply %q does not mention the agents", reply)
		}
		waitFor(t, 10*time.Second, "conversation waiting", func() (bool, string) {
			p, err := s.bridge.DB.Portal.Get(t.Context(), "main", "cus_DemoBob")
			return err == nil && p.ConversationState == database.ConversationWaiting, fmt.Sprint(p.ConversationState)
		})
		// The agents' context is in the feed room, not in Bob's.
		feed, err := s.bridge.Portal.EnsureFeedRoom(t.Context(), "main")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the handoff note in the feed room", func() (bool, string) {
			resp, err := s.bridge.Portal.Ghost("main").Messages(t.Context(), feed, "", "", mautrix.DirectionBackward, nil, 20)
			if err != nil {
				return false, err.Error()
			}
			for _, evt := range resp.Chunk {
				_ = evt.Content.ParseRaw(evt.Type)
				if msg := evt.Content.AsMessage(); msg != nil && strings.Contains(msg.Body, "Handoff") &&
					strings.Contains(msg.Body, "hmm the thing from before") && strings.Contains(msg.Body, "failed_payment") {
					return true, ""
				}
			}
			return false, fmt.Sprint(len(resp.Chunk), " events")
		})
		for _, msg := range botReplies(t, bob, portal.RoomID, bot) {
			if strings.Contains(msg.Content.AsMessage().Body, "confidence") {
				t.Errorf("the customer's room shows agent detail: %q", msg.Content.AsMessage().Body)
			}
		}
	})

	t.Run("a second handoff soon after pings no one again", func(t *testing.T) {
		reply := send(t, bob, portal.RoomID, bot, "and the other thing, same as before")
		if !strings.Contains(reply, "The team already knows") || strings.Contains(reply, "@agent:localhost") {
			t.Errorf("second handoff %q", reply)
		}
	})

	t.Run("a flood gets one slow down, then silence", func(t *testing.T) {
		before := len(botReplies(t, bob, portal.RoomID, bot))
		for i := range 20 {
			if _, err := bob.SendText(t.Context(), portal.RoomID, fmt.Sprintf("when is my next bill? (%d)", i)); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(4 * time.Second)
		replies := botReplies(t, bob, portal.RoomID, bot)[before:]
		slowDowns := 0
		for _, r := range replies {
			if strings.Contains(r.Content.AsMessage().Body, "faster than I can answer") {
				slowDowns++
			}
		}
		// The bucket (5, refilled every 5 s) was partly spent above; a
		// refill may land during the flood.
		if slowDowns != 1 || len(replies) > 7 || len(replies) < 2 {
			t.Errorf("20 questions at once got %d replies, %d of them slow-downs", len(replies), slowDowns)
		}
	})

	t.Run("the assistant stays quiet while an agent is active", func(t *testing.T) {
		// Bob's rate limit has a token again: the silence below is the
		// quiet window's.
		time.Sleep(5 * time.Second)
		agent := s.user(t, "agent")
		if _, err := agent.JoinRoomByID(t.Context(), portal.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, err := agent.SendText(t.Context(), portal.RoomID, "Hi Bob, I'm looking at it."); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		before := len(botReplies(t, bob, portal.RoomID, bot))
		if _, err := bob.SendText(t.Context(), portal.RoomID, "when is my next bill?"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if after := len(botReplies(t, bob, portal.RoomID, bot)); after != before {
			t.Errorf("the assistant answered while an agent was active")
		}
	})
}
