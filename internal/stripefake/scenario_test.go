package stripefake

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

func TestBasicScenario(t *testing.T) {
	f := newBasic(t, Options{})
	sub := func(id string) *stripe.Subscription {
		s, err := f.sc.Subscriptions.Get(id, nil)
		mustNoErr(t, err)
		return s
	}
	for id, want := range map[string]stripe.SubscriptionStatus{
		"sub_paid": "active", "sub_failed": "past_due", "sub_trial": "trialing", "sub_canceled": "canceled", "sub_credit": "active",
	} {
		if got := sub(id).Status; got != want {
			t.Errorf("%s is %s, want %s", id, got, want)
		}
	}
	paid := sub("sub_paid")
	if paid.StartDate != testNow.Add(-65*24*time.Hour).Unix() || paid.CurrentPeriodEnd <= testNow.Unix() ||
		paid.CurrentPeriodStart > testNow.Unix() {
		t.Fatalf("sub_paid period %d..%d around now %d", paid.CurrentPeriodStart, paid.CurrentPeriodEnd, testNow.Unix())
	}
	canceled := sub("sub_canceled")
	if canceled.EndedAt != testNow.Add(-20*24*time.Hour).Unix() {
		t.Fatalf("sub_canceled ended at %d", canceled.EndedAt)
	}
	trial := sub("sub_trial")
	if trial.TrialEnd != trial.TrialStart+14*86400 || trial.LatestInvoice == nil {
		t.Fatalf("trial %+v", trial)
	}
	trialInv, _ := f.sc.Invoices.Get(trial.LatestInvoice.ID, nil)
	if trialInv.Total != 0 || trialInv.Status != stripe.InvoiceStatusPaid || !strings.HasPrefix(trialInv.Lines.Data[0].Description, "Trial period for") {
		t.Fatalf("trial invoice %+v", trialInv)
	}
	fred, _ := f.sc.Customers.Get("cus_failed", nil)
	if !fred.Delinquent {
		t.Fatal("cus_failed should be delinquent")
	}
	paula, _ := f.sc.Customers.Get("cus_paid", nil)
	if paula.Metadata["matrix_user_id"] != "@paula:example.org" || paula.Created != testNow.Add(-65*24*time.Hour-time.Hour).Unix() {
		t.Fatalf("cus_paid %+v", paula)
	}
	inv, _ := f.sc.Invoices.Get("in_refunded", nil)
	if inv.Description != "Consulting" || inv.Lines.Data[0].Type != "invoiceitem" || inv.Subscription != nil {
		t.Fatalf("one-off invoice %+v", inv)
	}
}

func TestDemoScenario(t *testing.T) {
	f := newFake(t, Options{})
	f.load(t, DemoScenario)

	acct, _ := f.sc.Accounts.Get()
	if acct.ID != "acct_1DemoMatrixStripe" || acct.Settings.Dashboard.DisplayName != "Demo Coffee Roasters" {
		t.Fatalf("account %+v", acct)
	}
	it := f.sc.Customers.List(&stripe.CustomerListParams{})
	var names []string
	for it.Next() {
		names = append(names, it.Customer().Name)
	}
	if len(names) != 3 {
		t.Fatalf("customers %v", names)
	}

	alice, _ := f.sc.Customers.Get("cus_DemoAlice", nil)
	if alice.Metadata["matrix_user_id"] != "@alice:localhost" {
		t.Fatalf("alice metadata %v", alice.Metadata)
	}
	aliceSub, _ := f.sc.Subscriptions.Get("sub_DemoAlicePro", nil)
	if aliceSub.Status != "active" || aliceSub.Discount != nil {
		t.Fatalf("alice's once coupon should be spent: %+v", aliceSub.Discount)
	}
	first := f.sc.Invoices.List(&stripe.InvoiceListParams{Subscription: stripe.String("sub_DemoAlicePro")})
	var totals []int64
	for first.Next() {
		totals = append(totals, first.Invoice().Total)
	}
	if len(totals) < 3 || totals[len(totals)-1] != 2320 || totals[0] != 2900 {
		t.Fatalf("alice's invoice totals (newest first) %v", totals)
	}

	bob, _ := f.sc.Subscriptions.Get("sub_DemoBobStarter", nil)
	if bob.Status != "past_due" {
		t.Fatalf("bob is %s", bob.Status)
	}
	params := &stripe.InvoiceParams{}
	params.AddExpand("payment_intent")
	params.AddExpand("charge")
	bobInv, _ := f.sc.Invoices.Get(bob.LatestInvoice.ID, params)
	if bobInv.Status != "open" || bobInv.AttemptCount != 2 || bobInv.PaymentIntent.LastPaymentError.DeclineCode != "insufficient_funds" ||
		bobInv.Charge.FailureCode != "card_declined" {
		t.Fatalf("bob's invoice %+v", bobInv)
	}

	disputes := f.sc.Disputes.List(&stripe.DisputeListParams{})
	if !disputes.Next() {
		t.Fatal("no dispute in the demo")
	}
	d := disputes.Dispute()
	if d.Status != "needs_response" || d.EvidenceDetails.DueBy <= testNow.Unix() || d.EvidenceDetails.PastDue {
		t.Fatalf("carol's dispute should be open and not yet due: %+v", d.EvidenceDetails)
	}
	refunds := f.sc.Refunds.List(&stripe.RefundListParams{})
	if !refunds.Next() || refunds.Refund().Amount != 400 {
		t.Fatal("carol's refund missing")
	}
	ch, _ := f.sc.Charges.Get(d.Charge.ID, nil)
	if ch.Customer.ID != "cus_DemoCarol" {
		t.Fatalf("dispute is on %s's charge", ch.Customer.ID)
	}
}

func TestScenarioErrors(t *testing.T) {
	for name, yaml := range map[string]string{
		"unknown field":      "customers: [{nmae: typo}]",
		"unknown price":      "customers: [{subscriptions: [{price: price_nope}]}]",
		"bad invoice status": "prices: [{id: p, product_name: P, unit_amount: 1, interval: month}]\ncustomers: [{card: {last4: '4242'}, subscriptions: [{price: p, invoices: [maybe]}]}]",
		"status mismatch":    "prices: [{id: p, product_name: P, unit_amount: 1, interval: month}]\ncustomers: [{card: {last4: '4242'}, subscriptions: [{price: p, age: 40d, status: past_due, invoices: [paid, paid]}]}]",
		"bad age":            "customers: [{age: yesterday}]",
		"refund on failure":  "customers: [{invoices: [{amount: 5, status: failed, refunds: [{amount: 1}]}]}]",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, Options{})
			if err := f.LoadScenario(strings.NewReader(yaml)); err == nil {
				t.Fatal("scenario loaded, want an error")
			}
		})
	}
}

func TestControlEndpoints(t *testing.T) {
	f := newBasic(t, Options{})
	post := func(path, body, contentType string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", f.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk_test_123")
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		mustNoErr(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	form := "application/x-www-form-urlencoded"

	paidInv := latestInvoiceID(t, f, "sub_paid")
	if code := post("/_fake/invoices/"+paidInv+"/payment_failure", "", form); code != 400 {
		t.Fatalf("failing a paid invoice answered %d", code)
	}
	mark := len(f.Events())
	if code := post("/_fake/subscriptions/sub_paid/renew", "", form); code != 200 {
		t.Fatalf("renew %d", code)
	}
	renewed := latestInvoiceID(t, f, "sub_paid")
	if code := post("/_fake/subscriptions/sub_paid/upcoming", "", form); code != 200 {
		t.Fatalf("upcoming %d", code)
	}
	if code := post("/_fake/subscriptions/sub_trial/trial_will_end", "", form); code != 200 {
		t.Fatalf("trial_will_end %d", code)
	}
	got := eventTypes(f.eventsSince(mark))
	if !contains(got, "invoice.paid", "invoice.upcoming", "customer.subscription.trial_will_end") {
		t.Fatalf("events %v", got)
	}

	open := f.openInvoice(t, "cus_failed").ID
	if code := post("/_fake/invoices/"+open+"/payment_failure", "decline_code=insufficient_funds", form); code != 200 {
		t.Fatalf("payment_failure %d", code)
	}
	pi, _ := f.sc.PaymentIntents.Get(f.openInvoice(t, "cus_failed").PaymentIntent.ID, nil)
	if pi.LastPaymentError.DeclineCode != "insufficient_funds" {
		t.Fatalf("last error %+v", pi.LastPaymentError)
	}
	if code := post("/_fake/invoices/"+open+"/pay", "", form); code != 200 {
		t.Fatalf("pay %d", code)
	}
	inv, _ := f.sc.Invoices.Get(open, nil)
	if inv.Status != "paid" {
		t.Fatalf("forced payment left it %s", inv.Status)
	}
	ch := f.chargeOf(t, renewed)
	if code := post("/_fake/charges/"+ch.ID+"/dispute", "reason=duplicate", form); code != 200 {
		t.Fatalf("dispute %d", code)
	}
	if code := post("/_fake/scenario", "customers:\n  - id: cus_uploaded\n    name: Up Loaded\n", form); code != 200 {
		t.Fatalf("scenario upload %d", code)
	}
	if c, err := f.sc.Customers.Get("cus_uploaded", nil); err != nil || c.Name != "Up Loaded" {
		t.Fatalf("uploaded customer %v %v", c, err)
	}
	if code := post("/_fake/scenario", "customers: [{", "application/yaml"); code != 400 {
		t.Fatalf("bad YAML answered %d", code)
	}
}
