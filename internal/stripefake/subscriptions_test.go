package stripefake

import (
	"encoding/json"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

// customerWithCard makes a customer whose default card is a Stripe test id.
func (f *fake) customerWithCard(t *testing.T, testPM string) *stripe.Customer {
	t.Helper()
	c, err := f.sc.Customers.New(&stripe.CustomerParams{
		Email: stripe.String("sub@example.com"), PaymentMethod: stripe.String(testPM),
		InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(testPM)},
	})
	mustNoErr(t, err)
	return c
}

func (f *fake) monthlyPrice(t *testing.T, amount int64) *stripe.Price {
	t.Helper()
	p, err := f.sc.Prices.New(&stripe.PriceParams{
		Currency: stripe.String("usd"), UnitAmount: stripe.Int64(amount),
		Recurring:   &stripe.PriceRecurringParams{Interval: stripe.String("month")},
		ProductData: &stripe.PriceProductDataParams{Name: stripe.String("Plan")},
	})
	mustNoErr(t, err)
	return p
}

func TestSubscriptionCreate(t *testing.T) {
	f := newFake(t, Options{})
	c := f.customerWithCard(t, "pm_card_visa")
	p := f.monthlyPrice(t, 2000)
	mark := len(f.Events())
	params := &stripe.SubscriptionParams{
		Customer: stripe.String(c.ID),
		Items:    []*stripe.SubscriptionItemsParams{{Price: stripe.String(p.ID), Quantity: stripe.Int64(2)}},
	}
	params.AddExpand("latest_invoice.payment_intent")
	s, err := f.sc.Subscriptions.New(params)
	mustNoErr(t, err)
	if s.Status != stripe.SubscriptionStatusActive || s.CurrentPeriodStart != testNow.Unix() ||
		s.CurrentPeriodEnd != testNow.AddDate(0, 1, 0).Unix() || s.Items.Data[0].Quantity != 2 {
		t.Fatalf("subscription %+v", s)
	}
	inv := s.LatestInvoice
	if inv.Status != stripe.InvoiceStatusPaid || inv.AmountPaid != 4000 || inv.PaymentIntent.Status != stripe.PaymentIntentStatusSucceeded ||
		inv.Number == "" || inv.HostedInvoiceURL == "" || inv.Lines.Data[0].Description != "2 × Plan (at $20.00 / month)" {
		t.Fatalf("first invoice %+v", inv)
	}
	got := eventTypes(f.eventsSince(mark))
	want := []string{"customer.subscription.created", "invoice.created", "payment_intent.created", "invoice.finalized",
		"charge.succeeded", "payment_intent.succeeded", "invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"}
	if len(got) != len(want) || !contains(got, want...) {
		t.Fatalf("events %v, want %v", got, want)
	}
	t.Run("list expands data.default_payment_method", func(t *testing.T) {
		pmID := c.InvoiceSettings.DefaultPaymentMethod.ID
		_, err := f.sc.Subscriptions.Update(s.ID, &stripe.SubscriptionParams{DefaultPaymentMethod: stripe.String(pmID)})
		mustNoErr(t, err)
		params := &stripe.SubscriptionListParams{Customer: stripe.String(c.ID)}
		params.AddExpand("data.default_payment_method")
		it := f.sc.Subscriptions.List(params)
		if !it.Next() || it.Subscription().DefaultPaymentMethod.Card.Last4 != "4242" {
			t.Fatalf("not expanded (%v)", it.Err())
		}
	})
	t.Run("errors", func(t *testing.T) {
		_, err := f.sc.Subscriptions.New(&stripe.SubscriptionParams{Customer: stripe.String(c.ID),
			Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String("price_nope")}}})
		se := wantCode(t, err, 404, stripe.ErrorCodeResourceMissing)
		if se.Param != "items[0][price]" {
			t.Fatalf("param %q", se.Param)
		}
		_, err = f.sc.Subscriptions.New(&stripe.SubscriptionParams{Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(p.ID)}}})
		wantCode(t, err, 400, stripe.ErrorCodeParameterMissing)
	})
}

func TestSubscriptionFirstPaymentDeclined(t *testing.T) {
	f := newFake(t, Options{})
	c := f.customerWithCard(t, "pm_card_chargeCustomerFail")
	p := f.monthlyPrice(t, 1500)
	params := &stripe.SubscriptionParams{Customer: stripe.String(c.ID), Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(p.ID)}}}
	params.AddExpand("latest_invoice.payment_intent")
	s, err := f.sc.Subscriptions.New(params)
	mustNoErr(t, err)
	pi := s.LatestInvoice.PaymentIntent
	if s.Status != stripe.SubscriptionStatusIncomplete || s.LatestInvoice.AttemptCount != 1 ||
		pi.LastPaymentError == nil || pi.LastPaymentError.DeclineCode != stripe.DeclineCodeGenericDecline {
		t.Fatalf("subscription %s, invoice %+v", s.Status, s.LatestInvoice)
	}
}

func TestSubscriptionUpdateAndCancel(t *testing.T) {
	f := newFake(t, Options{})
	c := f.customerWithCard(t, "pm_card_visa")
	p1, p2 := f.monthlyPrice(t, 1000), f.monthlyPrice(t, 3000)
	s, err := f.sc.Subscriptions.New(&stripe.SubscriptionParams{Customer: stripe.String(c.ID),
		Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(p1.ID)}}})
	mustNoErr(t, err)
	_, err = f.sc.Coupons.New(&stripe.CouponParams{ID: stripe.String("TEN"), PercentOff: stripe.Float64(10), Duration: stripe.String("forever")})
	mustNoErr(t, err)

	mark := len(f.Events())
	up, err := f.sc.Subscriptions.Update(s.ID, &stripe.SubscriptionParams{
		CancelAtPeriodEnd: stripe.Bool(true),
		Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(s.Items.Data[0].ID), Price: stripe.String(p2.ID)}},
		PauseCollection:   &stripe.SubscriptionPauseCollectionParams{Behavior: stripe.String("keep_as_draft")},
		Coupon:            stripe.String("TEN"),
	})
	mustNoErr(t, err)
	if !up.CancelAtPeriodEnd || up.CancelAt != s.CurrentPeriodEnd || up.Items.Data[0].Price.ID != p2.ID ||
		up.PauseCollection.Behavior != "keep_as_draft" || up.Discount.Coupon.ID != "TEN" {
		t.Fatalf("updated %+v", up)
	}
	evs := f.eventsSince(mark)
	if len(evs) != 1 || evs[0].Type != "customer.subscription.updated" {
		t.Fatalf("events %v", eventTypes(evs))
	}
	var ev stripe.Event
	mustNoErr(t, json.Unmarshal(evs[0].JSON, &ev))
	if ev.Data.PreviousAttributes["cancel_at_period_end"] != false || ev.Data.PreviousAttributes["pause_collection"] != nil ||
		ev.Data.PreviousAttributes["items"] == nil {
		t.Fatalf("previous_attributes %v", ev.Data.PreviousAttributes)
	}

	t.Run("clearing pause_collection", func(t *testing.T) {
		params := &stripe.SubscriptionParams{}
		params.AddExtra("pause_collection", "")
		cleared, err := f.sc.Subscriptions.Update(s.ID, params)
		mustNoErr(t, err)
		if cleared.PauseCollection != nil {
			t.Fatalf("pause_collection %+v", cleared.PauseCollection)
		}
	})
	t.Run("upcoming invoice reflects the change", func(t *testing.T) {
		_, err := f.sc.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{Customer: stripe.String(c.ID)})
		// cancel_at_period_end: nothing more will be billed.
		wantCode(t, err, 404, stripe.ErrorCodeInvoiceUpcomingNone)
		_, err = f.sc.Subscriptions.Update(s.ID, &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(false)})
		mustNoErr(t, err)
		inv, err := f.sc.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{Customer: stripe.String(c.ID)})
		mustNoErr(t, err)
		if inv.Total != 2700 || inv.Subtotal != 3000 || inv.ID != "" || inv.Lines.Data[0].Period.Start != s.CurrentPeriodEnd {
			t.Fatalf("upcoming %+v", inv)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		canceled, err := f.sc.Subscriptions.Cancel(s.ID, &stripe.SubscriptionCancelParams{
			CancellationDetails: &stripe.SubscriptionCancelCancellationDetailsParams{Comment: stripe.String("moving")}})
		mustNoErr(t, err)
		if canceled.Status != stripe.SubscriptionStatusCanceled || canceled.EndedAt != testNow.Unix() ||
			canceled.CancellationDetails.Comment != "moving" {
			t.Fatalf("canceled %+v", canceled)
		}
		if last := f.Events()[len(f.Events())-1]; last.Type != "customer.subscription.deleted" {
			t.Fatalf("last event %s", last.Type)
		}
		_, err = f.sc.Subscriptions.Cancel(s.ID, nil)
		wantCode(t, err, 404, stripe.ErrorCodeResourceMissing)
		_, err = f.sc.Subscriptions.Update(s.ID, &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(true)})
		wantCode(t, err, 400, "")
	})
	t.Run("list hides canceled unless asked", func(t *testing.T) {
		count := func(status string) int {
			params := &stripe.SubscriptionListParams{Customer: stripe.String(c.ID)}
			if status != "" {
				params.Status = stripe.String(status)
			}
			it := f.sc.Subscriptions.List(params)
			n := 0
			for it.Next() {
				n++
			}
			mustNoErr(t, it.Err())
			return n
		}
		if count("") != 0 || count("all") != 1 || count("canceled") != 1 || count("active") != 0 {
			t.Fatalf("counts default=%d all=%d canceled=%d", count(""), count("all"), count("canceled"))
		}
	})
}

func TestSubscriptionLifecycleControls(t *testing.T) {
	f := newBasic(t, Options{})
	t.Run("renewal bills the next period", func(t *testing.T) {
		before, _ := f.sc.Subscriptions.Get("sub_paid", nil)
		invID, err := f.RenewSubscription("sub_paid")
		mustNoErr(t, err)
		s, _ := f.sc.Subscriptions.Get("sub_paid", nil)
		inv, _ := f.sc.Invoices.Get(invID, nil)
		if s.CurrentPeriodStart != before.CurrentPeriodEnd || s.LatestInvoice.ID != invID ||
			inv.Status != stripe.InvoiceStatusPaid || inv.BillingReason != "subscription_cycle" {
			t.Fatalf("after renewal: %+v / %+v", s, inv)
		}
	})
	t.Run("trial ends", func(t *testing.T) {
		mark := len(f.Events())
		mustNoErr(t, f.EmitTrialWillEnd("sub_trial"))
		if got := eventTypes(f.eventsSince(mark)); len(got) != 1 || got[0] != "customer.subscription.trial_will_end" {
			t.Fatalf("events %v", got)
		}
		_, err := f.RenewSubscription("sub_trial")
		mustNoErr(t, err)
		s, _ := f.sc.Subscriptions.Get("sub_trial", nil)
		if s.Status != stripe.SubscriptionStatusActive {
			t.Fatalf("status after trial %s", s.Status)
		}
		if err := f.EmitTrialWillEnd("sub_trial"); err == nil {
			t.Fatal("trial_will_end on an active subscription should fail")
		}
	})
	t.Run("paused subscription resumes", func(t *testing.T) {
		f.load(t, `
customers:
  - id: cus_paused
    card: {last4: "4242"}
    subscriptions: [{id: sub_paused, price: price_basic_monthly, age: 20d, status: paused}]
`)
		s, err := f.sc.Subscriptions.Resume("sub_paused", nil)
		mustNoErr(t, err)
		if s.Status != stripe.SubscriptionStatusActive || s.CurrentPeriodStart != testNow.Unix() {
			t.Fatalf("resumed %+v", s)
		}
		_, err = f.sc.Subscriptions.Resume("sub_paused", nil)
		wantCode(t, err, 400, "")
	})
	t.Run("pause keep_as_draft leaves renewals in draft", func(t *testing.T) {
		_, err := f.sc.Subscriptions.Update("sub_paid", &stripe.SubscriptionParams{
			PauseCollection: &stripe.SubscriptionPauseCollectionParams{Behavior: stripe.String("keep_as_draft")}})
		mustNoErr(t, err)
		invID, err := f.RenewSubscription("sub_paid")
		mustNoErr(t, err)
		inv, _ := f.sc.Invoices.Get(invID, nil)
		if inv.Status != stripe.InvoiceStatusDraft || inv.Number != "" || inv.HostedInvoiceURL != "" {
			t.Fatalf("paused renewal %+v", inv)
		}
	})
}
