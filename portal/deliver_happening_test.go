package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/webhook"
)

// roomHS is a homeserver that keeps each room's timeline the way a client
// shows it: a message, and the edits (m.replace) applied to it.
type roomHS struct {
	mu       sync.Mutex
	byTxn    map[string]id.EventID
	messages map[string][]*shownMessage // room → messages in order
	byID     map[id.EventID]*shownMessage
	edits    int
}

type shownMessage struct {
	id    id.EventID
	body  string
	edits int
}

func newRoomHS(t *testing.T) (*roomHS, *Manager) {
	hs := &roomHS{byTxn: map[string]id.EventID{}, messages: map[string][]*shownMessage{}, byID: map[id.EventID]*shownMessage{}}
	srv := newSendingServer(t, func(mux *http.ServeMux) {
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn}", hs.send)
	})
	return hs, newTestManager(t, srv)
}

func (hs *roomHS) send(w http.ResponseWriter, r *http.Request) {
	var content struct {
		Body       string `json:"body"`
		NewContent *struct {
			Body string `json:"body"`
		} `json:"m.new_content"`
		RelatesTo *struct {
			RelType string     `json:"rel_type"`
			EventID id.EventID `json:"event_id"`
		} `json:"m.relates_to"`
	}
	_ = json.NewDecoder(r.Body).Decode(&content)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if eventID, seen := hs.byTxn[r.PathValue("txn")]; seen {
		reply(w, http.StatusOK, map[string]string{"event_id": string(eventID)})
		return
	}
	eventID := id.EventID(fmt.Sprintf("$e%d", len(hs.byTxn)+1))
	hs.byTxn[r.PathValue("txn")] = eventID
	if content.RelatesTo != nil && content.RelatesTo.RelType == "m.replace" {
		target := hs.byID[content.RelatesTo.EventID]
		if target == nil || content.NewContent == nil {
			reply(w, http.StatusBadRequest, map[string]string{"errcode": "M_UNKNOWN", "error": "edit of an unknown event"})
			return
		}
		target.body = content.NewContent.Body
		target.edits++
		hs.edits++
	} else {
		msg := &shownMessage{id: eventID, body: content.Body}
		room := r.PathValue("room")
		hs.messages[room] = append(hs.messages[room], msg)
		hs.byID[eventID] = msg
	}
	reply(w, http.StatusOK, map[string]string{"event_id": string(eventID)})
}

func (hs *roomHS) timeline(room id.RoomID) []string {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var out []string
	for _, m := range hs.messages[string(room)] {
		out = append(out, m.body)
	}
	return out
}

const happeningScenario = `
account: {id: acct_1Happening, name: Happening Test}
products: [{id: prod_pro, name: Pro}]
prices: [{id: price_pro_monthly, product: prod_pro, unit_amount: 2900, currency: usd, interval: month}]
customers:
  - id: cus_happy
    name: Hana Happy
    email: hana@example.com
    card: {brand: visa, last4: "4242"}
    subscriptions:
      - {id: sub_happy, price: price_pro_monthly, age: 40d}
  - id: cus_sad
    name: Sam Sad
    email: sam@example.com
    card: {brand: visa, last4: "0341"}
    subscriptions:
      - {id: sub_sad, price: price_pro_monthly, age: 20d}
`

// happeningEvents is two customers' billing history as stripefake emits
// it, each happening made of several events: Hana's subscription bought and
// renewed three times; Sam's renewal declined twice, then paid.
func happeningEvents(t *testing.T) []stripefake.Event {
	t.Helper()
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	later := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fake := stripefake.New(stripefake.Options{Seed: 3, APIKeys: []string{"sk_test_fake"}, Clock: clock})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fake.LoadScenario(strings.NewReader(happeningScenario)))
	for range 2 {
		later(time.Hour)
		_, err := fake.RenewSubscription("sub_happy")
		must(err)
	}
	later(time.Hour)
	inv, err := fake.RenewSubscription("sub_sad")
	must(err)
	later(24 * time.Hour)
	must(fake.TriggerPaymentFailure(inv, "insufficient_funds"))
	later(24 * time.Hour)
	must(fake.PayInvoice(inv))
	return fake.Events()
}

// deliverAll stores the events in the inbox (customers resolved from the
// payload and from what is stored, as the webhook does) and delivers them
// the way the delivery workers do, one claim at a time.
func deliverAll(t *testing.T, m *Manager, events []stripefake.Event) {
	t.Helper()
	insertAll(t, m, events)
	drain(t, m)
}

func insertAll(t *testing.T, m *Manager, events []stripefake.Event) {
	t.Helper()
	ctx := context.Background()
	resolver := &webhook.Resolver{Known: m.DB.Event}
	for _, e := range events {
		var head struct {
			APIVersion string `json:"api_version"`
			Data       struct {
				Object struct {
					Customer json.RawMessage `json:"customer"`
					Object   string          `json:"object"`
					ID       string          `json:"id"`
				} `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e.JSON, &head); err != nil {
			t.Fatal(err)
		}
		row := &database.Event{ID: e.ID, AccountID: "main", Type: e.Type, APIVersion: head.APIVersion, Created: e.Created, Payload: e.JSON}
		var customer string
		_ = json.Unmarshal(head.Data.Object.Customer, &customer)
		if head.Data.Object.Object == "customer" {
			customer = head.Data.Object.ID
		}
		row.CustomerID = customer
		if err := resolver.Resolve(ctx, row); err != nil {
			t.Fatal(err)
		}
		if _, err := m.DB.Event.Insert(ctx, row); err != nil {
			t.Fatal(err)
		}
	}
}

func drain(t *testing.T, m *Manager) {
	t.Helper()
	ctx := context.Background()
	for range 1000 {
		row, err := m.DB.Event.ClaimNext(ctx, "w", time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if row == nil {
			return
		}
		res, err := m.Deliver(ctx, row, RenderOptions{})
		if err != nil {
			t.Fatalf("deliver %s %s: %v", row.Type, row.ID, err)
		}
		if res.Skipped {
			if err = m.DB.Event.MarkSkipped(ctx, row.ID, "w", res.SkipReason); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err = m.RecordDelivered(ctx, row, res); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("inbox never drained")
}

func customerRoom(t *testing.T, m *Manager, customerID string) id.RoomID {
	t.Helper()
	p, err := m.DB.Portal.Get(context.Background(), "main", customerID)
	if err != nil || p == nil {
		t.Fatalf("no room for %s: %v", customerID, err)
	}
	return p.RoomID
}

// Every happening is one message in the customer's room: the purchase (the
// subscription started and its first invoice paid, with the card and the
// receipt), each renewal, the account and the card — not one message per
// Stripe event.
func TestHappeningsAreOneMessageEach(t *testing.T) {
	events := happeningEvents(t)
	hs, m := newRoomHS(t)
	deliverAll(t, m, events)
	timeline := hs.timeline(customerRoom(t, m, "cus_happy"))
	t.Logf("%d Stripe events, customer room:\n%s", len(events), strings.Join(timeline, "\n---\n"))

	paid := 0
	for _, body := range timeline {
		if strings.Contains(body, "Your payment went through") || strings.Contains(body, "Your subscription changed") {
			t.Errorf("a step of a happening posted on its own: %q", body)
		}
		if strings.Contains(body, "paid:") {
			paid++
			if !strings.Contains(body, "with Visa •••• 4242") || !strings.Contains(body, "Receipt: https://") {
				t.Errorf("paid invoice without the card or the receipt from its charge: %q", body)
			}
		}
	}
	if paid != 4 {
		t.Errorf("%d paid-invoice messages, want 4 (the purchase and three renewals)", paid)
	}
	if !strings.Contains(timeline[2], "Your subscription has started") || !strings.Contains(timeline[2], "paid:") ||
		strings.Contains(timeline[2], "waiting for the first payment") {
		t.Errorf("the purchase is not one message saying it started and was paid: %q", timeline[2])
	}
	if want := 2 + 4; len(timeline) != want {
		t.Errorf("%d messages, want %d: account, card, purchase, three renewals", len(timeline), want)
	}
	if hs.edits != 0 {
		t.Errorf("%d edits, want none: every happening was in the inbox before delivery", hs.edits)
	}

	// Each declined attempt is a message of its own, with the bank's reason
	// (from the charge) and the next try (from the invoice); the payment
	// that finally went through is another, not an edit of the last failure.
	sad := hs.timeline(customerRoom(t, m, "cus_sad"))
	t.Logf("Sam's room:\n%s", strings.Join(sad, "\n---\n"))
	if len(sad) != 6 {
		t.Fatalf("%d messages in Sam's room, want 6: account, card, purchase, two declined attempts, the payment", len(sad))
	}
	for i, reason := range map[int]string{3: "declined by the bank", 4: "insufficient funds"} {
		if !strings.Contains(sad[i], "didn't go through") || !strings.Contains(sad[i], reason) ||
			!strings.Contains(sad[i], "We'll try again on") || !strings.Contains(sad[i], "Pay or view invoice: https://") {
			t.Errorf("declined attempt %d does not say what happened, why (%s), when the next try is and where to pay: %q", i-2, reason, sad[i])
		}
	}
	if !strings.Contains(sad[5], "paid:") || !strings.Contains(sad[5], "Status changed from payment overdue to active") {
		t.Errorf("the late payment is not its own message with the subscription active again: %q", sad[5])
	}
}

// Events of a happening that arrive after its message was posted edit that
// message, and the room ends up reading exactly as if they had all arrived
// together: same messages, same words.
func TestHappeningStragglersEditItsMessage(t *testing.T) {
	events := happeningEvents(t)
	together, mt := newRoomHS(t)
	deliverAll(t, mt, events)
	want := together.timeline(customerRoom(t, mt, "cus_happy"))

	// One event at a time, each delivered before the next arrives, in a
	// shuffled order within each Stripe second (as webhooks come).
	apart, ma := newRoomHS(t)
	rng := rand.New(rand.NewPCG(9, 9))
	for start := 0; start < len(events); {
		end := start
		for end < len(events) && events[end].Created.Equal(events[start].Created) {
			end++
		}
		second := events[start:end]
		rng.Shuffle(len(second), func(i, j int) { second[i], second[j] = second[j], second[i] })
		for _, e := range second {
			deliverAll(t, ma, []stripefake.Event{e})
		}
		start = end
	}
	got := apart.timeline(customerRoom(t, ma, "cus_happy"))
	if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
		t.Errorf("delivered one by one, the room reads\n%s\n\nwant, as delivered together,\n%s", strings.Join(got, "\n---\n"), strings.Join(want, "\n---\n"))
	}
	if apart.edits == 0 {
		t.Error("no edits: the stragglers were not folded into their happening's message")
	}
}

// A delivery that dies after posting a happening's message and before
// recording it (kill -9, on a homeserver that forgot the transaction id)
// is retried by the next claim: the retry gathers the same events, finds
// the message by its marker and records it. No happening is posted twice,
// and the room reads as without the crash.
func TestHappeningCrashBeforeRecordPostsOnce(t *testing.T) {
	events := happeningEvents(t)
	clean, mc := newRoomHS(t)
	deliverAll(t, mc, events)
	want := clean.timeline(customerRoom(t, mc, "cus_happy"))

	hs, srv := newForgetfulHS(t)
	m := newTestManager(t, srv)
	insertAll(t, m, events)
	ctx := context.Background()
	now := time.Now()
	crashes := 0
	for range 1000 {
		row, err := m.DB.Event.ClaimNext(ctx, "w", time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		if row == nil {
			break
		}
		res, err := m.Deliver(ctx, row, RenderOptions{})
		if err != nil {
			t.Fatalf("deliver %s: %v", row.Type, err)
		}
		if row.Attempts == 1 && !res.Skipped {
			// Killed before the outcome was written: the claim lapses.
			crashes++
			now = now.Add(2 * time.Minute)
			continue
		}
		if res.Skipped {
			err = m.DB.Event.MarkSkipped(ctx, row.ID, "w", res.SkipReason)
		} else {
			err = m.RecordDelivered(ctx, row, res)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	_, lookups, rooms := hs.counts()
	var got []string
	for _, evt := range rooms[string(customerRoom(t, m, "cus_happy"))] {
		if _, edit := evt.Content["m.relates_to"]; !edit {
			body, _ := evt.Content["body"].(string)
			got = append(got, body)
		}
	}
	if crashes < len(want) || lookups == 0 {
		t.Fatalf("%d crashes and %d look-ups: the test did not crash every delivery", crashes, lookups)
	}
	if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
		t.Errorf("after %d crashes the room reads\n%s\n\nwant\n%s", crashes, strings.Join(got, "\n---\n"), strings.Join(want, "\n---\n"))
	}
}
