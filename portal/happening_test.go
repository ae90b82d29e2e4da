package portal

import (
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

// The messages of one story keep only the one furthest along, told with
// the facts of the others; stories of different families are lines of one
// message, the subscription's first.
func TestRenderHappening(t *testing.T) {
	cases := []struct {
		name     string
		fixtures []string
		want     []string // in the plain body, in this order
		not      []string
	}{{
		name:     "declined invoice payment with its charge",
		fixtures: []string{"charge.failed_insufficient_funds.json", "invoice.payment_failed.json"},
		want:     []string{"didn't go through", "still due", "tried Visa •••• 9995", "insufficient funds", "We'll try again on"},
		not:      []string{"❌ Your payment didn't go through"},
	}, {
		name:     "refund made and settled",
		fixtures: []string{"charge.refunded_partial.json", "refund.created.json", "refund.updated.json"},
		want:     []string{"partly refunded"},
		not:      []string{"Your refund went through"},
	}, {
		name:     "refund that failed after it was made",
		fixtures: []string{"charge.refunded_partial.json", "refund.updated_failed.json"},
		want:     []string{"Your refund could not be completed"},
		not:      []string{"partly refunded"},
	}, {
		name:     "checkout of a subscription",
		fixtures: []string{"customer.subscription.created.json", "invoice.paid_acacia.json", "checkout.session.completed.json"},
		want:     []string{"Your subscription has started", "paid:"},
		not:      []string{"Checkout complete"},
	}, {
		name:     "paid after it was issued",
		fixtures: []string{"invoice.finalized.json", "charge.succeeded.json", "invoice.paid_acacia.json"},
		want:     []string{"paid:"},
		not:      []string{"It will be charged automatically", "Your payment went through"},
	}, {
		name:     "dispute opened and closed",
		fixtures: []string{"charge.dispute.created.json", "charge.dispute.closed.json"},
		want:     []string{"The dispute about your payment is closed"},
		not:      []string{"opened a dispute"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var evts []*stripe.Event
			for _, f := range c.fixtures {
				evts = append(evts, loadEvent(t, f))
			}
			got, err := RenderHappening(evts, RenderOptions{DashboardLink: testDashboard})
			if err != nil || got == nil {
				t.Fatalf("render: %v, %v", got, err)
			}
			body := got.Content.Body
			at := 0
			for _, w := range c.want {
				i := strings.Index(body[at:], w)
				if i < 0 {
					t.Errorf("%q missing (or out of order) in\n%s", w, body)
					break
				}
				at += i + len(w)
			}
			for _, n := range c.not {
				if strings.Contains(body, n) {
					t.Errorf("%q should have been superseded in\n%s", n, body)
				}
			}
			if strings.Contains(body, "evt_") || strings.Contains(body, "dashboard.stripe.com") {
				t.Errorf("agent detail in the customer's message:\n%s", body)
			}
			if strings.Count(got.Content.FormattedBody, "<br>") < strings.Count(body, "\n") {
				t.Errorf("HTML body has fewer lines than the plain one:\n%s\n%s", body, got.Content.FormattedBody)
			}
		})
	}
}

// A declined attempt and the payment that follows are two happenings; an
// event created long after the first is too; anything else joins.
func TestJoins(t *testing.T) {
	failed := loadEvent(t, "invoice.payment_failed.json")
	chargeFailed := loadEvent(t, "charge.failed_insufficient_funds.json")
	paid := loadEvent(t, "invoice.paid_acacia.json")
	finalized := loadEvent(t, "invoice.finalized.json")
	at := func(evt *stripe.Event, created int64) *stripe.Event {
		c := *evt
		c.Created = created
		return &c
	}
	const t0 = 1_760_000_000
	if !Joins([]*stripe.Event{at(chargeFailed, t0)}, at(failed, t0)) {
		t.Error("the invoice's failure does not join its charge's")
	}
	if Joins([]*stripe.Event{at(failed, t0)}, at(paid, t0+60)) {
		t.Error("a payment joined the declined attempt before it")
	}
	if !Joins([]*stripe.Event{at(finalized, t0)}, at(paid, t0+60)) {
		t.Error("the payment of a just-issued invoice does not join it")
	}
	if Joins([]*stripe.Event{at(finalized, t0)}, at(paid, t0+int64(HappeningWindow.Seconds())+1)) {
		t.Error("an invoice paid after the window joined the message of its issue")
	}
}
