package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

// panelAct posts one action with the session's CSRF token.
func panelAct(t *testing.T, base, room, token, csrf, path string, body map[string]any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, base+"/panel/v1/rooms/"+url.PathEscape(room)+"/actions"+path, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// panelFeed opens the room's live feed and sends each event's name.
func panelFeed(t *testing.T, base, room, token string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/panel/v1/rooms/"+url.PathEscape(room)+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	names := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		scanner := bufio.NewScanner(resp.Body)
		for scanner.Scan() {
			if name, ok := strings.CutPrefix(scanner.Text(), "event: "); ok {
				names <- name
			}
		}
	}()
	return names
}

func waitFeed(t *testing.T, names <-chan string, want string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case name := <-names:
			if name == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q on the panel's feed within %s", want, within)
		}
	}
}

func drain(names <-chan string) {
	for {
		select {
		case <-names:
		case <-time.After(1500 * time.Millisecond):
			return
		}
	}
}

// aliceRoom makes cus_alice's room of commandsScenario (a customer update
// is its first webhook) and joins the users to it once they are invited.
func aliceRoom(t *testing.T, s *stack, fake *stripefake.Server, users ...*mautrix.Client) id.RoomID {
	t.Helper()
	if _, err := fake.Client().Customers.Update("cus_alice", &stripe.CustomerParams{Description: stripe.String("VIP")}); err != nil {
		t.Fatal(err)
	}
	room := waitPortal(t, s, "cus_alice").RoomID
	for _, cli := range users {
		waitFor(t, 20*time.Second, string(cli.UserID)+" invited", func() (bool, string) {
			_, err := cli.JoinRoomByID(t.Context(), room)
			return err == nil, fmt.Sprint(err)
		})
	}
	return room
}

// An agent refunds from the panel: the confirmation is in the panel, the
// result in the room, one Stripe write, audited with the agent's MXID. The
// same refund confirmed in chat as well is still one refund. The panel's
// live feed, served by a second bridge process, hears of a refund made in
// Stripe's dashboard as its webhook arrives at the first.
func TestPanelActionRefundAndLiveFeed(t *testing.T) {
	fake := scenarioFake(t, commandsScenario)
	s := startStack(t, stackOptions{fake: fake, configure: enablePanel, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	second := s.secondProcess(t)
	bot := s.cfg.BotMXID()
	agent := s.user(t, "agent")
	room := aliceRoom(t, s, fake, agent)
	inv, err := fake.Client().Invoices.Get("in_alice_paid", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice charge: %v", err)
	}
	charge := inv.Charge.ID

	base := s.cfg.AppService.Address
	status, session := panelSignIn(t, base, agent)
	if status != http.StatusOK {
		t.Fatalf("sign-in: %d %v", status, session)
	}
	token, csrf := session["token"].(string), session["csrf_token"].(string)
	feed := panelFeed(t, second, room.String(), token)
	waitFeed(t, feed, "ready", 10*time.Second)
	waitListening(t, s, "matrix_stripe_panel", 2)

	refund := map[string]any{"request_id": "click-1", "command": "refund", "args": []string{charge, "20.00"}}
	if status, body := panelAct(t, base, room.String(), token, "", "", refund); status != http.StatusForbidden || body["error"] != "csrf" {
		t.Fatalf("action without the CSRF token: %d %v", status, body)
	}
	status, prepared := panelAct(t, base, room.String(), token, csrf, "", refund)
	if status != http.StatusOK || prepared["status"] != "confirm" || !strings.Contains(fmt.Sprint(prepared["summary"]), "Refund $20.00") {
		t.Fatalf("prepare: %d %v", status, prepared)
	}
	// The same refund asked in chat meanwhile.
	if prompt := send(t, agent, room, bot, "!stripe refund "+charge+" 20.00"); !strings.Contains(prompt, "$20.00") {
		t.Fatalf("chat prompt %q", prompt)
	}
	if n := len(listRefunds(t, fake.Client(), charge)); n != 0 {
		t.Fatalf("refunded before confirmation: %d", n)
	}
	actionID := prepared["action_id"].(string)
	status, done := panelAct(t, base, room.String(), token, csrf, "/"+actionID+"/confirm", map[string]any{"request_id": "click-2"})
	if status != http.StatusOK || done["status"] != "done" || !strings.Contains(fmt.Sprint(done["messages"]), "Refunded $20.00") {
		t.Fatalf("confirm: %d %v", status, done)
	}
	waitForReply(t, agent, room, bot, "@agent:localhost (agent panel): Refunded $20.00")
	if again := send(t, agent, room, bot, "!stripe confirm"); !strings.Contains(again, "Nothing more was refunded") {
		t.Errorf("the chat confirmation after the panel's: %q", again)
	}
	if refunds := listRefunds(t, fake.Client(), charge); len(refunds) != 1 || refunds[0].Amount != 2000 {
		t.Fatalf("want one $20.00 refund, got %+v", refunds)
	}
	entries, err := s.bridge.DB.Audit.ListByRoom(t.Context(), room, 20)
	if err != nil {
		t.Fatal(err)
	}
	var ok []*database.AuditEntry
	for _, e := range entries {
		if e.Command == "refund" && e.Outcome == database.AuditOK {
			ok = append(ok, e)
		}
	}
	if len(ok) != 1 || ok[0].Actor != agent.UserID || !strings.HasPrefix(ok[0].TargetObject, "re_") {
		t.Errorf("audited refunds: %+v", ok)
	}

	// A refund made outside the bridge: its webhook reaches the first
	// process, the feed on the second says the room changed.
	drain(feed)
	if _, err := fake.Client().Refunds.New(&stripe.RefundParams{Charge: stripe.String(charge), Amount: stripe.Int64(500)}); err != nil {
		t.Fatal(err)
	}
	waitFeed(t, feed, "changed", 30*time.Second)

	// A customer's session gets nothing to act with.
	alice := s.user(t, "alice")
	if status, _ := panelSignIn(t, base, alice); status != http.StatusForbidden {
		t.Errorf("customer sign-in: %d", status)
	}
}
