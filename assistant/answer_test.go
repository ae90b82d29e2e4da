package assistant

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// fakeData holds several customers' objects keyed by customer id, so a test
// can prove an answer for one never reads another's.
type fakeData struct {
	customers map[string]*stripe.Customer
	invoices  map[string][]*stripe.Invoice
	upcoming  map[string]*stripe.Invoice
	subs      map[string][]*stripe.Subscription
	charges   map[string][]*stripe.Charge
	disputes  map[string][]*stripe.Dispute
	prices    map[string]*stripe.Price
	err       error
	asked     map[string]bool // customer ids the assistant asked about
}

func (f *fakeData) note(id string) error {
	if f.asked == nil {
		f.asked = map[string]bool{}
	}
	f.asked[id] = true
	return f.err
}

func (f *fakeData) Customer(_ context.Context, id string) (*stripe.Customer, error) {
	return f.customers[id], f.note(id)
}

func (f *fakeData) Invoices(_ context.Context, cus, status string, limit int) ([]*stripe.Invoice, error) {
	var out []*stripe.Invoice
	for _, inv := range f.invoices[cus] {
		if status == "" || string(inv.Status) == status {
			out = append(out, inv)
		}
	}
	return out, f.note(cus)
}

func (f *fakeData) UpcomingInvoice(_ context.Context, cus string) (*stripe.Invoice, error) {
	return f.upcoming[cus], f.note(cus)
}

func (f *fakeData) Subscriptions(_ context.Context, cus string) ([]*stripe.Subscription, error) {
	return f.subs[cus], f.note(cus)
}

func (f *fakeData) Charges(_ context.Context, cus string, limit int) ([]*stripe.Charge, error) {
	return f.charges[cus], f.note(cus)
}

func (f *fakeData) Disputes(_ context.Context, cus string, limit int) ([]*stripe.Dispute, error) {
	return f.disputes[cus], f.note(cus)
}

func (f *fakeData) Price(_ context.Context, id string) (*stripe.Price, error) {
	if p, ok := f.prices[id]; ok {
		return p, f.err
	}
	return nil, &stripe.Error{HTTPStatusCode: 404, Code: stripe.ErrorCodeResourceMissing}
}

func unix(s string) int64 {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

// twoCustomers: A has a failed payment and an open invoice; B has different
// amounts, dates and URLs that must never appear in A's answers.
func twoCustomers() *fakeData {
	a, b := &stripe.Customer{ID: "cus_A", Currency: "usd"}, &stripe.Customer{ID: "cus_B", Currency: "eur", Balance: -700}
	refund := &stripe.Refund{ID: "re_A", Amount: 500, Currency: "usd", Status: stripe.RefundStatusSucceeded, Created: unix("2024-03-02")}
	return &fakeData{
		customers: map[string]*stripe.Customer{"cus_A": a, "cus_B": b},
		invoices: map[string][]*stripe.Invoice{
			"cus_A": {{ID: "in_A", Number: "A-0001", Customer: a, Status: stripe.InvoiceStatusOpen, Currency: "usd",
				Total: 4900, AmountRemaining: 4900, Created: unix("2024-03-01"), HostedInvoiceURL: "https://pay.example/in_A"}},
			"cus_B": {{ID: "in_B", Number: "B_*0001*", Customer: b, Status: stripe.InvoiceStatusOpen, Currency: "eur",
				Total: 12345, AmountRemaining: 12345, Created: unix("2024-05-05"), HostedInvoiceURL: "https://pay.example/in_B"}},
		},
		upcoming: map[string]*stripe.Invoice{
			"cus_A": {Customer: a, Currency: "usd", AmountDue: 4900, NextPaymentAttempt: unix("2024-04-01")},
			"cus_B": {Customer: b, Currency: "eur", AmountDue: 12345, NextPaymentAttempt: unix("2024-06-09")},
		},
		charges: map[string][]*stripe.Charge{
			"cus_A": {
				{ID: "ch_A2", Customer: a, Amount: 4900, Currency: "usd", Status: stripe.ChargeStatusFailed, Created: unix("2024-03-01"),
					FailureCode: "card_declined", Outcome: &stripe.ChargeOutcome{Reason: "insufficient_funds"}},
				{ID: "ch_A1", Customer: a, Amount: 4900, Currency: "usd", Status: stripe.ChargeStatusSucceeded, Created: unix("2024-02-01"),
					ReceiptURL: "https://receipt.example/ch_A1", Refunds: &stripe.RefundList{Data: []*stripe.Refund{refund}}},
			},
			"cus_B": {
				{ID: "ch_B1", Customer: b, Amount: 12345, Currency: "eur", Status: stripe.ChargeStatusFailed, Created: unix("2024-05-05"),
					FailureCode: "expired_card"},
			},
		},
		subs: map[string][]*stripe.Subscription{
			"cus_A": {{ID: "sub_A", Customer: a, Status: stripe.SubscriptionStatusActive, CurrentPeriodEnd: unix("2024-04-01"),
				Items: &stripe.SubscriptionItemList{Data: []*stripe.SubscriptionItem{{Price: &stripe.Price{Nickname: "Pro [monthly]"}}}}}},
			"cus_B": {{ID: "sub_B", Customer: b, Status: stripe.SubscriptionStatusActive, CurrentPeriodEnd: unix("2024-06-09"),
				Items: &stripe.SubscriptionItemList{Data: []*stripe.SubscriptionItem{{Price: &stripe.Price{Nickname: "Enterprise"}}}}}},
		},
		disputes: map[string][]*stripe.Dispute{
			"cus_B": {{ID: "dp_B", Amount: 12345, Currency: "eur", Status: stripe.DisputeStatusUnderReview, Created: unix("2024-05-20")}},
		},
	}
}

func answer(t *testing.T, d Data, cus, q string) *Result {
	t.Helper()
	res, err := New(Options{}).Answer(context.Background(), d, cus, q)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	return res
}

func TestFailedPaymentNamesReasonAndPayLink(t *testing.T) {
	res := answer(t, twoCustomers(), "cus_A", "why did my card get declined?")
	if res.Intent != IntentFailedPayment || res.Handoff {
		t.Fatalf("got %+v", res)
	}
	for _, want := range []string{"insufficient funds", "https://pay.example/in_A", `\$49\.00`, "1 Mar 2024", "`!stripe portal`"} {
		if !strings.Contains(res.Reply, want) {
			t.Errorf("reply lacks %q: %s", want, res.Reply)
		}
	}
}

func TestNextBillGivesDateAndAmount(t *testing.T) {
	res := answer(t, twoCustomers(), "cus_A", "When is my next bill?")
	if res.Intent != IntentNextBill || !strings.Contains(res.Reply, "1 Apr 2024") || !strings.Contains(res.Reply, `\$49\.00`) {
		t.Fatalf("got %+v", res)
	}
}

func TestUnknownAndLowConfidenceHandOff(t *testing.T) {
	for _, q := range []string{"tell me a joke", "", "card?", "I want to talk to a human"} {
		res := answer(t, twoCustomers(), "cus_A", q)
		if !res.Handoff || res.Reply == "" {
			t.Errorf("%q: want handoff, got %+v", q, res)
		}
	}
	// A stricter threshold turns a moderately sure answer into a handoff.
	res, _ := New(Options{Threshold: 0.99}).Answer(context.Background(), twoCustomers(), "cus_A", "past bills")
	if !res.Handoff {
		t.Errorf("threshold ignored: %+v", res)
	}
}

// TestNeverLeaksOtherCustomer asks every intent for A and checks that none
// of B's distinctive values appear and that only A was ever looked up.
func TestNeverLeaksOtherCustomer(t *testing.T) {
	d := twoCustomers()
	qs := []string{"why did my payment fail", "when is my next bill", "refund please", "where is my refund",
		"show my invoices", "receipt please", "how much do I owe", "update my card", "cancel my subscription",
		"upgrade my plan", "pause my subscription", "what is the status of my dispute", "hello", "thanks"}
	for _, q := range qs {
		res := answer(t, d, "cus_A", q)
		for _, leak := range []string{"123", "B\\_", "in_B", "ch_B", "Enterprise", "9 Jun", "5 May", "expired", "€"} {
			if strings.Contains(res.Reply, leak) {
				t.Errorf("%q leaked %q: %s", q, leak, res.Reply)
			}
		}
	}
	for id := range d.asked {
		if id != "cus_A" {
			t.Errorf("looked up %s while answering cus_A", id)
		}
	}
	// Even if a backend wrongly returned B's objects for A, they are dropped.
	d = twoCustomers()
	d.charges["cus_A"] = d.charges["cus_B"]
	d.invoices["cus_A"] = d.invoices["cus_B"]
	res := answer(t, d, "cus_A", "why did my payment fail")
	if strings.Contains(res.Reply, "123") || strings.Contains(res.Reply, "in_B") {
		t.Errorf("foreign objects shown: %s", res.Reply)
	}
}

func TestStripeErrorsBecomeHandoff(t *testing.T) {
	d := twoCustomers()
	d.err = &stripe.Error{HTTPStatusCode: 500, Msg: "boom sk_test_secret"}
	for _, q := range []string{"why did my payment fail", "when is my next bill", "how much do I owe", "dispute status"} {
		res := answer(t, d, "cus_A", q)
		if !res.Handoff || !strings.Contains(res.Reply, "agent") || strings.Contains(res.Reply, "boom") {
			t.Errorf("%q: %+v", q, res)
		}
	}
	// Nil data and nil objects must not panic either.
	res := answer(t, nil, "cus_A", "why did my payment fail")
	if !res.Handoff {
		t.Errorf("nil data: %+v", res)
	}
	res = answer(t, &fakeData{}, "cus_A", "when is my next bill")
	if res.Handoff || !strings.Contains(res.Reply, "no upcoming bill") {
		t.Errorf("empty data: %+v", res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.err = errors.Join(context.Canceled)
	if _, err := New(Options{}).Answer(ctx, d, "cus_A", "when is my next bill"); err == nil {
		t.Error("cancelled context: want error")
	}
}

func TestWritesOnlyOffered(t *testing.T) {
	cases := map[string]string{
		"refund please":          "`!stripe request-refund ch_A1`",
		"cancel my subscription": "`!stripe cancel`",
		"upgrade my plan":        "`!stripe change-plan <price>`",
		"update my card":         "`!stripe portal`",
	}
	for q, want := range cases {
		if res := answer(t, twoCustomers(), "cus_A", q); !strings.Contains(res.Reply, want) {
			t.Errorf("%q: want %s in %s", q, want, res.Reply)
		}
	}
	res := answer(t, twoCustomers(), "cus_A", "upgrade my plan")
	if !strings.Contains(res.Reply, `Pro \[monthly\]`) {
		t.Errorf("stripe text not escaped: %s", res.Reply)
	}
}

func TestTypoTolerance(t *testing.T) {
	e := New(Options{})
	for q, want := range map[string]Intent{"payment faild": IntentFailedPayment, "refnd": IntentRefundRequest,
		"cancle": IntentCancel, "reciept": IntentInvoices} {
		if got, _ := e.Classify(q); got != want {
			t.Errorf("%q: got %s want %s", q, got, want)
		}
	}
}

// A command the self-service policy switches off is never offered: the
// customer is handed to an agent instead.
func TestNoCommandTheSelfServicePolicyDisables(t *testing.T) {
	off := New(Options{CommandPrefix: "!stripe", SelfService: func(string) bool { return false }})
	for _, q := range []string{"refund please", "cancel my subscription", "upgrade my plan", "update my card"} {
		res, err := off.Answer(context.Background(), twoCustomers(), "cus_A", q)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(res.Reply, "!stripe") || !res.Handoff {
			t.Errorf("%q with self-service off: handoff=%t reply %s", q, res.Handoff, res.Reply)
		}
	}
	for _, q := range []string{"why did my payment fail", "when is my next bill"} {
		res, _ := off.Answer(context.Background(), twoCustomers(), "cus_A", q)
		if strings.Contains(res.Reply, "!stripe") {
			t.Errorf("%q offers a switched-off command: %s", q, res.Reply)
		}
	}
	// Only the one switched off is withheld.
	noCancel := New(Options{CommandPrefix: "!stripe", SelfService: func(c string) bool { return c != "cancel" }})
	if res, _ := noCancel.Answer(context.Background(), twoCustomers(), "cus_A", "update my card"); !strings.Contains(res.Reply, "`!stripe portal`") {
		t.Errorf("portal withheld with only cancel off: %s", res.Reply)
	}
}

// A disputed payment is never offered for a refund.
func TestNoRefundOfferOnADisputedCharge(t *testing.T) {
	d := twoCustomers()
	d.charges["cus_A"][1].Disputed = true
	res := answer(t, d, "cus_A", "refund please")
	if strings.Contains(res.Reply, "request-refund") || !res.Handoff || !strings.Contains(res.Reply, "disputed") {
		t.Errorf("refund of a disputed charge offered: handoff=%t %s", res.Handoff, res.Reply)
	}
}

// "ok", "no", thanks or a 👍 end the exchange: a short reply, no handoff,
// in any of the languages; a real question is not mistaken for one.
func TestClosingWordsEndTheExchange(t *testing.T) {
	for _, q := range []string{"ok", "OK!", "no", "Nope.", "no thanks", "👍", "👍🏽", "ok 👍", "got it, thanks", "that's all",
		"nein danke", "danke", "vale, gracias", "merci", "d'accord", "não, obrigado", "tudo bem", "grazie", "bedankt"} {
		res := answer(t, twoCustomers(), "cus_A", q)
		if res.Handoff || (res.Reply != T(res.Lang, mClosing) && res.Reply != T(res.Lang, mThanks)) {
			t.Errorf("%q: handoff=%t reply %q", q, res.Handoff, res.Reply)
		}
	}
	for _, q := range []string{"no, I don't want to cancel", "ok when is my next bill", "why did my payment fail?", "🤔", "no refund yet?"} {
		if res := answer(t, twoCustomers(), "cus_A", q); res.Reply == T(res.Lang, mClosing) || res.Reply == T(res.Lang, mThanks) {
			t.Errorf("%q was taken for a goodbye", q)
		}
	}
	if got := answer(t, twoCustomers(), "cus_A", "merci 🙏").Reply; got != T(LangFR, mThanks) {
		t.Errorf("thanks answered %q", got)
	}
	if got := answer(t, twoCustomers(), "cus_A", "ok").Reply; got != T(LangEN, mClosing) {
		t.Errorf("ok answered %q", got)
	}
}
