package stripefake

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

func (f *fake) chargeOf(t *testing.T, invoiceID string) *stripe.Charge {
	t.Helper()
	inv, err := f.sc.Invoices.Get(invoiceID, nil)
	mustNoErr(t, err)
	ch, err := f.sc.Charges.Get(inv.Charge.ID, nil)
	mustNoErr(t, err)
	return ch
}

func TestRefunds(t *testing.T) {
	f := newBasic(t, Options{})
	ch := f.chargeOf(t, "in_refunded")
	if ch.AmountRefunded != 2000 || ch.Refunded || ch.Amount != 5000 || ch.ReceiptURL == "" {
		t.Fatalf("seeded charge %+v", ch)
	}

	_, err := f.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID), Amount: stripe.Int64(4000)})
	se := wantCode(t, err, 400, "amount_too_large")
	if se.Param != "amount" || !strings.Contains(se.Msg, "($40.00) is greater than unrefunded amount on charge ($30.00)") {
		t.Fatalf("over-refund %+v", se)
	}
	_, err = f.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID), Reason: stripe.String("because")})
	wantCode(t, err, 400, "")

	mark := len(f.Events())
	r, err := f.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID), Reason: stripe.String("requested_by_customer")})
	mustNoErr(t, err)
	if r.Amount != 3000 || r.Status != stripe.RefundStatusSucceeded || r.Charge.ID != ch.ID || r.Reason != "requested_by_customer" {
		t.Fatalf("refund %+v", r)
	}
	if got := eventTypes(f.eventsSince(mark)); len(got) != 2 || got[0] != "charge.refunded" || got[1] != "refund.created" {
		t.Fatalf("events %v", got)
	}
	after := f.chargeOf(t, "in_refunded")
	if !after.Refunded || after.AmountRefunded != 5000 {
		t.Fatalf("charge after full refund %+v", after)
	}
	_, err = f.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(ch.ID)})
	se = wantCode(t, err, 400, stripe.ErrorCodeChargeAlreadyRefunded)
	if se.Msg != "Charge "+ch.ID+" has already been refunded." {
		t.Fatalf("message %q", se.Msg)
	}

	it := f.sc.Refunds.List(&stripe.RefundListParams{Charge: stripe.String(ch.ID)})
	n := 0
	for it.Next() {
		n++
	}
	mustNoErr(t, it.Err())
	if n != 2 {
		t.Fatalf("%d refunds on the charge", n)
	}

	t.Run("by payment intent", func(t *testing.T) {
		paid := f.chargeOf(t, latestInvoiceID(t, f, "sub_paid"))
		r, err := f.sc.Refunds.New(&stripe.RefundParams{PaymentIntent: stripe.String(paid.PaymentIntent.ID), Amount: stripe.Int64(100)})
		mustNoErr(t, err)
		if r.Charge.ID != paid.ID || r.Amount != 100 {
			t.Fatalf("refund %+v", r)
		}
	})
	t.Run("disputed charge", func(t *testing.T) {
		disputed := f.chargeOf(t, "in_disputed")
		_, err := f.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(disputed.ID)})
		wantCode(t, err, 400, stripe.ErrorCodeChargeDisputed)
	})
	t.Run("failed charge", func(t *testing.T) {
		failed := f.chargeOf(t, f.openInvoice(t, "cus_failed").ID)
		_, err := f.sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(failed.ID)})
		wantCode(t, err, 400, "charge_not_refundable")
	})
}

func latestInvoiceID(t *testing.T, f *fake, subID string) string {
	t.Helper()
	s, err := f.sc.Subscriptions.Get(subID, nil)
	mustNoErr(t, err)
	return s.LatestInvoice.ID
}

func TestIdempotency(t *testing.T) {
	f := newBasic(t, Options{})
	ch := f.chargeOf(t, latestInvoiceID(t, f, "sub_paid"))
	refund := func(key string, amount int64) (*stripe.Refund, error) {
		params := &stripe.RefundParams{Charge: stripe.String(ch.ID), Amount: stripe.Int64(amount)}
		params.SetIdempotencyKey(key)
		return f.sc.Refunds.New(params)
	}
	mark := len(f.Events())
	first, err := refund("matrix-$event1", 300)
	mustNoErr(t, err)
	second, err := refund("matrix-$event1", 300)
	mustNoErr(t, err)
	if first.ID != second.ID {
		t.Fatalf("replay made a second refund: %s vs %s", first.ID, second.ID)
	}
	if second.LastResponse.Header.Get("Idempotent-Replayed") != "true" ||
		second.LastResponse.Header.Get("Original-Request") != first.LastResponse.RequestID {
		t.Fatalf("replay headers %v", second.LastResponse.Header)
	}
	if string(first.LastResponse.RawJSON) != string(second.LastResponse.RawJSON) {
		t.Fatal("replayed body differs")
	}
	after := f.chargeOf(t, latestInvoiceID(t, f, "sub_paid"))
	if after.AmountRefunded != 300 || len(f.eventsSince(mark)) != 2 {
		t.Fatalf("refunded %d with %d events, want one refund", after.AmountRefunded, len(f.eventsSince(mark)))
	}
	it := f.sc.Refunds.List(&stripe.RefundListParams{Charge: stripe.String(ch.ID)})
	n := 0
	for it.Next() {
		n++
	}
	if n != 1 {
		t.Fatalf("%d refunds, want 1", n)
	}

	t.Run("same key, other parameters", func(t *testing.T) {
		_, err := refund("matrix-$event1", 400)
		se := stripeErr(t, err)
		var ie *stripe.IdempotencyError
		if se.HTTPStatusCode != 400 || se.Type != stripe.ErrorTypeIdempotency || !errors.As(err, &ie) {
			t.Fatalf("error %+v", se)
		}
	})
	t.Run("same key, other endpoint", func(t *testing.T) {
		params := &stripe.CustomerParams{Name: stripe.String("x")}
		params.SetIdempotencyKey("matrix-$event1")
		_, err := f.sc.Customers.New(params)
		if se := stripeErr(t, err); se.Type != stripe.ErrorTypeIdempotency || !strings.Contains(se.Msg, "same endpoint") {
			t.Fatalf("error %+v", se)
		}
	})
	t.Run("errors are replayed too", func(t *testing.T) {
		_, err1 := refund("too-much", 999999)
		_, err2 := refund("too-much", 999999)
		if stripeErr(t, err1).Msg != stripeErr(t, err2).Msg {
			t.Fatal("error replay differs")
		}
	})
	t.Run("parameter order does not matter", func(t *testing.T) {
		post := func(body string) *http.Response {
			req, _ := http.NewRequest("POST", f.url+"/v1/customers", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer sk_test_123")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Idempotency-Key", "order-key")
			resp, err := http.DefaultClient.Do(req)
			mustNoErr(t, err)
			resp.Body.Close()
			return resp
		}
		a := post("name=" + url.QueryEscape("A B") + "&email=a%40b.c")
		b := post("email=a%40b.c&name=" + url.QueryEscape("A B"))
		if a.StatusCode != 200 || b.StatusCode != 200 || b.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("statuses %d %d replayed=%q", a.StatusCode, b.StatusCode, b.Header.Get("Idempotent-Replayed"))
		}
	})
}

func TestDisputes(t *testing.T) {
	f := newBasic(t, Options{})
	it := f.sc.Disputes.List(&stripe.DisputeListParams{})
	if !it.Next() {
		t.Fatalf("no seeded dispute: %v", it.Err())
	}
	d := it.Dispute()
	ch := f.chargeOf(t, "in_disputed")
	if d.Charge.ID != ch.ID || d.Status != stripe.DisputeStatusNeedsResponse || d.Reason != stripe.DisputeReasonFraudulent ||
		d.Amount != 12000 || d.EvidenceDetails.DueBy != d.Created+7*86400 || !ch.Disputed {
		t.Fatalf("dispute %+v", d)
	}

	params := &stripe.DisputeParams{}
	params.AddExpand("charge")
	got, err := f.sc.Disputes.Get(d.ID, params)
	mustNoErr(t, err)
	if got.Charge.Amount != 12000 {
		t.Fatalf("expanded charge %+v", got.Charge)
	}

	t.Run("control method opens one", func(t *testing.T) {
		target := f.chargeOf(t, latestInvoiceID(t, f, "sub_paid"))
		mark := len(f.Events())
		id, err := f.CreateDispute(target.ID, "product_not_received")
		mustNoErr(t, err)
		if got := eventTypes(f.eventsSince(mark)); !contains(got, "charge.dispute.created") {
			t.Fatalf("events %v", got)
		}
		dp, _ := f.sc.Disputes.Get(id, nil)
		if dp.Reason != stripe.DisputeReasonProductNotReceived || dp.PaymentIntent.ID != target.PaymentIntent.ID {
			t.Fatalf("dispute %+v", dp)
		}
		if _, err := f.CreateDispute(target.ID, "fraudulent"); err == nil {
			t.Fatal("second dispute on one charge should fail")
		}
		closed, err := f.sc.Disputes.Close(id, nil)
		mustNoErr(t, err)
		if closed.Status != stripe.DisputeStatusLost {
			t.Fatalf("closed %s", closed.Status)
		}
	})
}
