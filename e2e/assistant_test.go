package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripefake"
)

func TestAssistantInCustomerRoom(t *testing.T) {
	fake := newFake(t)
	if err := fake.LoadScenario(strings.NewReader(stripefake.DemoScenario)); err != nil {
		t.Fatal(err)
	}
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
	})

	t.Run("the assistant stays quiet while an agent is active", func(t *testing.T) {
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
