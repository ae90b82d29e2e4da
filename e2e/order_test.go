package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// TestSameSecondRenewalInCausalOrder posts a renewal whose events all carry
// one created second, last happening first, plus a failed refund and a
// dispute of its charge, which name no customer, and expects the customer's
// room to show them in Stripe's causal order, the refund and the dispute
// among them (not in the account's feed room).
func TestSameSecondRenewalInCausalOrder(t *testing.T) {
	fake := newFake(t)
	if err := fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	agent := s.user(t, "agent")
	room := openCustomerRoom(t, s, fake, "cus_refund", agent)
	waitInboxDone(t, s, 1)

	// A real charge of the customer: whichever of the burst arrives first,
	// the refund's customer can be found (in the inbox or from Stripe).
	inv, err := fake.Client().Invoices.Get("in_refunded", nil)
	if err != nil || inv.Charge == nil || inv.PaymentIntent == nil {
		t.Fatalf("invoice: %v", err)
	}
	charge, intent := inv.Charge.ID, inv.PaymentIntent.ID
	created := time.Now().Unix()
	invoice := func(status string) string {
		return fmt.Sprintf(`{"id":"in_order","object":"invoice","customer":"cus_refund","number":"ORDER-0042","status":%q,
"amount_due":4200,"amount_paid":%d,"currency":"usd","subscription":"sub_order","hosted_invoice_url":"https://invoice.stripe.com/i/order"}`,
			status, map[bool]int{true: 4200}[status == "paid"])
	}
	paymentIntent := func(status string) string {
		return fmt.Sprintf(`{"id":%q,"object":"payment_intent","customer":"cus_refund","amount":4200,"currency":"usd","status":%q,"invoice":"in_order"}`, intent, status)
	}
	// In causal order; the ids sort the other way round.
	burst := []struct{ typ, object, prev string }{
		{"invoice.created", invoice("draft"), ""},
		{"invoice.finalized", invoice("open"), ""},
		{"payment_intent.created", paymentIntent("requires_payment_method"), ""},
		{"charge.succeeded", fmt.Sprintf(`{"id":%q,"object":"charge","customer":"cus_refund","amount":4200,"currency":"usd","paid":true,"status":"succeeded","payment_intent":%q,"invoice":"in_order"}`, charge, intent), ""},
		{"payment_intent.succeeded", paymentIntent("succeeded"), ""},
		{"invoice.paid", invoice("paid"), ""},
		{"customer.subscription.updated", `{"id":"sub_order","object":"subscription","customer":"cus_refund","status":"active","items":{"object":"list","data":[]}}`, `{"status":"past_due"}`},
		{"refund.updated", fmt.Sprintf(`{"id":"re_order","object":"refund","amount":1000,"currency":"usd","status":"failed","failure_reason":"expired_or_canceled_card","charge":%q,"payment_intent":%q}`, charge, intent), `{"status":"pending"}`},
		{"charge.dispute.created", fmt.Sprintf(`{"id":"dp_order","object":"dispute","amount":4200,"currency":"usd","reason":"fraudulent","status":"needs_response","charge":%q,"payment_intent":%q}`, charge, intent), ""},
	}
	eventID := func(i int) string { return fmt.Sprintf("evt_order_%c", 'z'-i) }
	typeOf := map[string]string{}
	for i := range burst {
		typeOf[eventID(i)] = burst[i].typ
	}

	// The whole burst arrives while a worker still holds the customer's
	// previous event, so every event is in the inbox before any can be
	// claimed: what the room shows is the queue's order, not the arrival's.
	// (An event claimed before its same-second predecessors arrive is
	// posted first: ordering can only order what has arrived.)
	var previous string
	if err := s.bridge.DB.QueryRow(t.Context(), `SELECT event_id FROM stripe_event WHERE customer_id='cus_refund'`).Scan(&previous); err != nil {
		t.Fatal(err)
	}
	if _, err := s.bridge.DB.Exec(t.Context(), `UPDATE stripe_event SET state='pending', claimed_by='busy-worker', claimed_until=$2 WHERE event_id=$1`,
		previous, time.Now().Add(3*time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	for i := len(burst) - 1; i >= 0; i-- {
		data := `{"object":` + burst[i].object + `}`
		if burst[i].prev != "" {
			data = `{"object":` + burst[i].object + `,"previous_attributes":` + burst[i].prev + `}`
		}
		payload := fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"type":%q,"livemode":false,
"pending_webhooks":1,"request":{"id":null,"idempotency_key":null},"data":%s}`, eventID(i), created, burst[i].typ, data)
		if err := postSigned(s, payload); err != nil {
			t.Fatalf("%s: %v", burst[i].typ, err)
		}
	}
	customerless := []string{eventID(len(burst) - 2), eventID(len(burst) - 1)}
	for _, stripeID := range customerless {
		row, err := s.bridge.DB.Event.Get(t.Context(), stripeID)
		if err != nil || row == nil || row.CustomerID != "cus_refund" {
			t.Fatalf("%s was not queued for its customer: %+v (%v)", typeOf[stripeID], row, err)
		}
	}
	waitInboxDone(t, s, 1+len(burst))
	var failed int
	if err := s.bridge.DB.QueryRow(t.Context(), `SELECT COUNT(*) FROM stripe_event WHERE state='failed'`).Scan(&failed); err != nil || failed != 0 {
		t.Fatalf("%d events failed (%v)", failed, err)
	}

	// Read the room through the inbox: which Matrix event shows which
	// Stripe event (the rendering's wording is not this test's concern).
	shown := map[id.EventID]string{}
	rows, err := s.bridge.DB.Query(t.Context(), `SELECT event_id, matrix_event_id FROM stripe_event WHERE state='delivered' AND event_id LIKE 'evt_order_%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var stripeID string
		var mxID id.EventID
		if err := rows.Scan(&stripeID, &mxID); err != nil {
			t.Fatal(err)
		}
		shown[mxID] = stripeID
	}
	rows.Close()
	var order []string
	waitFor(t, 20*time.Second, "the burst's messages in the room", func() (bool, string) {
		order = order[:0]
		for _, evt := range messages(t, agent, room) {
			if stripeID, ok := shown[evt.ID]; ok {
				order = append(order, stripeID)
			}
		}
		return len(order) == len(shown), fmt.Sprintf("%d of %d", len(order), len(shown))
	})
	var types []string
	inRoom := map[string]bool{}
	for i, stripeID := range order {
		types = append(types, typeOf[stripeID])
		inRoom[stripeID] = true
		if i > 0 && database.CausalRank(typeOf[stripeID]) < database.CausalRank(typeOf[order[i-1]]) {
			t.Errorf("%s is shown after %s", typeOf[stripeID], typeOf[order[i-1]])
		}
	}
	t.Logf("room shows, in order: %s", strings.Join(types, ", "))
	for _, stripeID := range customerless {
		if !inRoom[stripeID] {
			t.Errorf("%s is not in the customer's room (shown: %s)", typeOf[stripeID], strings.Join(types, ", "))
		}
	}
	if len(order) < 4 {
		t.Errorf("only %d of the burst's events were posted: the order was hardly tested", len(order))
	}
}
