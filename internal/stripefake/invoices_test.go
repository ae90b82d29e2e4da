package stripefake

import (
	"errors"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

// openInvoice finds a customer's open invoice.
func (f *fake) openInvoice(t *testing.T, customerID string) *stripe.Invoice {
	t.Helper()
	it := f.sc.Invoices.List(&stripe.InvoiceListParams{Customer: stripe.String(customerID), Status: stripe.String("open")})
	if !it.Next() {
		t.Fatalf("%s has no open invoice (%v)", customerID, it.Err())
	}
	return it.Invoice()
}

func TestInvoicePayDeclines(t *testing.T) {
	f := newBasic(t, Options{})
	inv := f.openInvoice(t, "cus_failed")
	if inv.AttemptCount != 1 || inv.NextPaymentAttempt == 0 || inv.Subscription.ID != "sub_failed" {
		t.Fatalf("seeded failed invoice %+v", inv)
	}
	mark := len(f.Events())
	_, err := f.sc.Invoices.Pay(inv.ID, nil)
	se := wantCode(t, err, 402, stripe.ErrorCodeCardDeclined)
	if se.Type != stripe.ErrorTypeCard || se.DeclineCode != stripe.DeclineCodeGenericDecline ||
		se.ChargeID == "" || se.PaymentIntent == nil || se.PaymentIntent.ID != inv.PaymentIntent.ID || se.Msg != "Your card was declined." {
		t.Fatalf("decline %+v", se)
	}
	var ce *stripe.CardError
	if !errors.As(err, &ce) || ce.DeclineCode != stripe.DeclineCodeGenericDecline {
		t.Fatalf("stripe-go did not make a CardError: %T", se.Err)
	}
	if got := eventTypes(f.eventsSince(mark)); !contains(got, "charge.failed", "payment_intent.payment_failed", "invoice.payment_failed") {
		t.Fatalf("events %v", got)
	}
	ch, err := f.sc.Charges.Get(se.ChargeID, nil)
	mustNoErr(t, err)
	if ch.Status != stripe.ChargeStatusFailed || ch.Paid || ch.FailureCode != "card_declined" ||
		ch.Outcome.Reason != "generic_decline" || ch.PaymentMethodDetails.Card.Last4 != "0002" {
		t.Fatalf("failed charge %+v", ch)
	}
	after, _ := f.sc.Invoices.Get(inv.ID, nil)
	if after.AttemptCount != 2 || after.Charge.ID != ch.ID {
		t.Fatalf("invoice after second attempt %+v", after)
	}

	t.Run("paying with a good card settles it", func(t *testing.T) {
		pm, err := f.sc.PaymentMethods.Attach("pm_card_visa", &stripe.PaymentMethodAttachParams{Customer: stripe.String("cus_failed")})
		mustNoErr(t, err)
		paid, err := f.sc.Invoices.Pay(inv.ID, &stripe.InvoicePayParams{PaymentMethod: stripe.String(pm.ID)})
		mustNoErr(t, err)
		if paid.Status != stripe.InvoiceStatusPaid || paid.AmountRemaining != 0 || paid.AmountPaid != 2500 || !paid.Paid {
			t.Fatalf("paid %+v", paid)
		}
		s, _ := f.sc.Subscriptions.Get("sub_failed", nil)
		c, _ := f.sc.Customers.Get("cus_failed", nil)
		if s.Status != stripe.SubscriptionStatusActive || c.Delinquent {
			t.Fatalf("subscription %s, delinquent %v", s.Status, c.Delinquent)
		}
		_, err = f.sc.Invoices.Pay(inv.ID, nil)
		wantCode(t, err, 400, "invoice_not_editable")
	})
}

func TestInsufficientFunds(t *testing.T) {
	f := newFake(t, Options{})
	f.load(t, `
customers:
  - id: cus_poor
    card: {last4: "9995"}
    invoices: [{id: in_poor, amount: 700, status: open, age: 1d}]
`)
	_, err := f.sc.Invoices.Pay("in_poor", nil)
	se := wantCode(t, err, 402, stripe.ErrorCodeCardDeclined)
	if se.DeclineCode != stripe.DeclineCodeInsufficientFunds || se.Msg != "Your card has insufficient funds." {
		t.Fatalf("decline %+v", se)
	}
	params := &stripe.PaymentIntentParams{}
	params.AddExpand("latest_charge")
	pi, err := f.sc.PaymentIntents.Get(se.PaymentIntent.ID, params)
	mustNoErr(t, err)
	if pi.LastPaymentError.DeclineCode != "insufficient_funds" || pi.LatestCharge.Outcome.Reason != "insufficient_funds" ||
		pi.Status != stripe.PaymentIntentStatusRequiresPaymentMethod {
		t.Fatalf("payment intent %+v", pi)
	}
}

func TestInvoiceStateMachine(t *testing.T) {
	f := newBasic(t, Options{})
	_, err := f.sc.Subscriptions.Update("sub_paid", &stripe.SubscriptionParams{
		PauseCollection: &stripe.SubscriptionPauseCollectionParams{Behavior: stripe.String("keep_as_draft")}})
	mustNoErr(t, err)
	draftID, err := f.RenewSubscription("sub_paid")
	mustNoErr(t, err)

	_, err = f.sc.Invoices.SendInvoice(draftID, nil)
	wantCode(t, err, 400, "") // charge_automatically invoices are not sent
	_, err = f.sc.Invoices.VoidInvoice(draftID, nil)
	wantCode(t, err, 400, "invoice_not_editable")

	fin, err := f.sc.Invoices.FinalizeInvoice(draftID, nil)
	mustNoErr(t, err)
	if fin.Status != stripe.InvoiceStatusOpen || fin.Number == "" || fin.PaymentIntent == nil || fin.StatusTransitions.FinalizedAt != testNow.Unix() {
		t.Fatalf("finalized %+v", fin)
	}
	_, err = f.sc.Invoices.FinalizeInvoice(draftID, nil)
	wantCode(t, err, 400, "invoice_not_editable")

	mark := len(f.Events())
	void, err := f.sc.Invoices.VoidInvoice(draftID, nil)
	mustNoErr(t, err)
	if void.Status != stripe.InvoiceStatusVoid || void.AmountRemaining != 0 {
		t.Fatalf("voided %+v", void)
	}
	if got := eventTypes(f.eventsSince(mark)); !contains(got, "invoice.voided", "payment_intent.canceled") {
		t.Fatalf("events %v", got)
	}
	_, err = f.sc.Invoices.Pay(draftID, nil)
	wantCode(t, err, 400, "invoice_not_editable")

	t.Run("lines endpoint", func(t *testing.T) {
		it := f.sc.Invoices.ListLines(&stripe.InvoiceListLinesParams{Invoice: stripe.String(draftID)})
		n := 0
		for it.Next() {
			if it.InvoiceLineItem().Price.ID != "price_basic_monthly" {
				t.Fatalf("line %+v", it.InvoiceLineItem())
			}
			n++
		}
		mustNoErr(t, it.Err())
		if n != 1 {
			t.Fatalf("%d lines", n)
		}
	})
	t.Run("list filters", func(t *testing.T) {
		it := f.sc.Invoices.List(&stripe.InvoiceListParams{Subscription: stripe.String("sub_paid"), Status: stripe.String("paid")})
		n := 0
		for it.Next() {
			n++
		}
		if n != 3 {
			t.Fatalf("%d paid invoices on sub_paid", n)
		}
	})
}

func TestUpcomingInvoice(t *testing.T) {
	f := newBasic(t, Options{})
	t.Run("from an active subscription", func(t *testing.T) {
		s, _ := f.sc.Subscriptions.Get("sub_paid", nil)
		inv, err := f.sc.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{Customer: stripe.String("cus_paid")})
		mustNoErr(t, err)
		if inv.AmountDue != 1000 || inv.Subscription.ID != "sub_paid" || inv.NextPaymentAttempt < s.CurrentPeriodEnd ||
			inv.Lines.Data[0].Period.Start != s.CurrentPeriodEnd || inv.Status != stripe.InvoiceStatusDraft {
			t.Fatalf("upcoming %+v", inv)
		}
	})
	t.Run("after a trial the full price is due", func(t *testing.T) {
		inv, err := f.sc.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{Subscription: stripe.String("sub_trial")})
		mustNoErr(t, err)
		s, _ := f.sc.Subscriptions.Get("sub_trial", nil)
		if inv.AmountDue != 1000 || inv.Lines.Data[0].Period.Start != s.TrialEnd {
			t.Fatalf("upcoming %+v", inv)
		}
	})
	t.Run("previewing a price change", func(t *testing.T) {
		s, _ := f.sc.Subscriptions.Get("sub_paid", nil)
		inv, err := f.sc.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{Customer: stripe.String("cus_paid"),
			SubscriptionItems: []*stripe.SubscriptionItemsParams{{ID: stripe.String(s.Items.Data[0].ID), Price: stripe.String("price_pro_monthly")}}})
		mustNoErr(t, err)
		if inv.AmountDue != 2500 {
			t.Fatalf("preview due %d", inv.AmountDue)
		}
	})
	t.Run("no subscription means invoice_upcoming_none", func(t *testing.T) {
		for _, cus := range []string{"cus_refund", "cus_canceled"} {
			_, err := f.sc.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{Customer: stripe.String(cus)})
			se := wantCode(t, err, 404, stripe.ErrorCodeInvoiceUpcomingNone)
			if se.Msg != "No upcoming invoices for customer: "+cus {
				t.Fatalf("message %q", se.Msg)
			}
		}
		_, err := f.sc.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{Customer: stripe.String("cus_missing")})
		wantCode(t, err, 404, stripe.ErrorCodeResourceMissing)
	})
}

func TestCustomerBalance(t *testing.T) {
	f := newBasic(t, Options{})
	c, _ := f.sc.Customers.Get("cus_credit", nil)
	if c.Balance != -500 {
		t.Fatalf("balance %d, want -500 after a 1000 invoice ate 1000 of 1500 credit", c.Balance)
	}
	it := f.sc.Invoices.List(&stripe.InvoiceListParams{Customer: stripe.String("cus_credit")})
	it.Next()
	inv := it.Invoice()
	if inv.StartingBalance != -1500 || inv.EndingBalance != -500 || inv.AmountDue != 0 || inv.Status != stripe.InvoiceStatusPaid {
		t.Fatalf("invoice %+v", inv)
	}
	txn, err := f.sc.CustomerBalanceTransactions.New(&stripe.CustomerBalanceTransactionParams{
		Customer: stripe.String("cus_credit"), Amount: stripe.Int64(-250), Currency: stripe.String("usd"),
		Description: stripe.String("Goodwill credit")})
	mustNoErr(t, err)
	if txn.EndingBalance != -750 || txn.Type != "adjustment" || txn.ID[:6] != "cbtxn_" {
		t.Fatalf("txn %+v", txn)
	}
	list := f.sc.CustomerBalanceTransactions.List(&stripe.CustomerBalanceTransactionListParams{Customer: stripe.String("cus_credit")})
	var types []string
	for list.Next() {
		types = append(types, string(list.CustomerBalanceTransaction().Type))
	}
	mustNoErr(t, list.Err())
	if len(types) != 3 || types[0] != "adjustment" || types[1] != "applied_to_invoice" {
		t.Fatalf("ledger %v", types)
	}
	_, err = f.sc.CustomerBalanceTransactions.New(&stripe.CustomerBalanceTransactionParams{
		Customer: stripe.String("cus_credit"), Amount: stripe.Int64(100), Currency: stripe.String("eur")})
	wantCode(t, err, 400, "")
}

func TestBillingPortalSession(t *testing.T) {
	f := newBasic(t, Options{})
	s, err := f.sc.BillingPortalSessions.New(&stripe.BillingPortalSessionParams{
		Customer: stripe.String("cus_paid"), ReturnURL: stripe.String("https://example.com/back")})
	mustNoErr(t, err)
	if s.ID[:4] != "bps_" || s.Customer != "cus_paid" || s.ReturnURL != "https://example.com/back" ||
		len(s.URL) < 40 || s.URL[:37] != "https://billing.stripe.com/p/session/" {
		t.Fatalf("session %+v", s)
	}
	_, err = f.sc.BillingPortalSessions.New(&stripe.BillingPortalSessionParams{Customer: stripe.String("cus_nope")})
	wantCode(t, err, 404, stripe.ErrorCodeResourceMissing)
}
