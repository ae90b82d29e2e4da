package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

// The assistant answers in the customer's language, and a "yes" to a step
// it offered runs that step as the customer's own command; "nein" ends the
// exchange without pinging anyone.
func TestAssistantLanguagesAndFollowUps(t *testing.T) {
	fake := scenarioFake(t, stripefake.DemoScenario)
	s := startStack(t, stackOptions{fake: fake})
	// The restarted bridge belongs to the whole test, not to a subtest,
	// whose end would stop it.
	whole := t
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

	t.Run("a German question gets a German answer", func(t *testing.T) {
		reply := send(t, bob, portal.RoomID, bot, "Warum wurde meine Karte abgelehnt?")
		if !strings.Contains(reply, "Zahlung") || strings.Contains(reply, "Your payment") || strings.Contains(reply, "@agent:localhost") {
			t.Errorf("reply %q is not a German answer", reply)
		}
	})

	t.Run("ja accepts the offered step, through the command", func(t *testing.T) {
		offer := send(t, bob, portal.RoomID, bot, "Ich möchte meine Kreditkarte ändern")
		if !strings.Contains(offer, "!stripe portal") || !strings.Contains(offer, "ja") {
			t.Fatalf("no offer of the portal in %q", offer)
		}
		link := send(t, bob, portal.RoomID, bot, "ja")
		if !strings.Contains(link, "http") || strings.Contains(link, "@agent:localhost") {
			t.Errorf("the accepted offer answered %q, want the billing-portal link", link)
		}
	})

	t.Run("an offer survives a restart", func(t *testing.T) {
		offer := send(t, bob, portal.RoomID, bot, "Ich möchte meine Kreditkarte ändern")
		if !strings.Contains(offer, "!stripe portal") {
			t.Fatalf("no offer in %q", offer)
		}
		s.bridge.Stop()
		s.bridge = s.startBridge(whole, s.cfg)
		link := send(t, bob, portal.RoomID, bot, "ja bitte")
		if !strings.Contains(link, "http") {
			t.Errorf("after a restart, ja answered %q", link)
		}
	})

	t.Run("nein after an offer closes it without a handoff", func(t *testing.T) {
		offer := send(t, bob, portal.RoomID, bot, "Ich möchte meine Kreditkarte ändern")
		if !strings.Contains(offer, "!stripe portal") {
			t.Fatalf("no offer in %q", offer)
		}
		closed := send(t, bob, portal.RoomID, bot, "nein danke")
		if strings.Contains(closed, "@agent:localhost") || strings.Contains(closed, "http") {
			t.Errorf("nein answered %q", closed)
		}
		if o, err := s.bridge.DB.Offer.Take(t.Context(), portal.RoomID, time.Now()); err != nil || o != nil {
			t.Errorf("the offer is still open after nein: %+v %v", o, err)
		}
	})
}

// The web chat passes the page's locale: a message too short to tell its
// language is answered in the page's.
func TestWebChatLocaleHint(t *testing.T) {
	fake := newFake(t)
	s := startStack(t, stackOptions{fake: fake, configure: enableWebChat})
	customerID := webChatCustomer(t, fake)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": customerID, "acct": "main", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "name": "Wendy Web", "locale": "fr-CA",
	}).SignedString([]byte(webChatSecret))
	if err != nil {
		t.Fatal(err)
	}
	chat := signIn(t, s.cfg.AppService.Address, tok)
	waitPortal(t, s, customerID)
	events := chat.stream("")
	if code, apiErr := chat.call("POST", "messages", map[string]string{"txn_id": "l1", "body": "ok"}, nil); code != 200 {
		t.Fatalf("send: %d %v", code, apiErr)
	}
	reply, _ := awaitMessage(t, events, "the assistant's answer", func(m chatMessage) bool { return m.Sender.Kind == "bot" })
	if strings.Contains(reply.Text, "All right") || reply.Text == "" {
		t.Errorf("a French page's ok got %q", reply.Text)
	}
}
