package stripeapi

import (
	"context"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

func TestChargesWithRefunds(t *testing.T) {
	c, _ := fakeClient(t)
	ctx := context.Background()
	charges, err := c.Charges(ctx, "cus_refund", 10)
	if err != nil || len(charges) != 1 {
		t.Fatalf("Charges(cus_refund) = %d, %v", len(charges), err)
	}
	ch := charges[0]
	if ch.Customer.ID != "cus_refund" || ch.Amount != 5000 || ch.AmountRefunded != 2000 {
		t.Errorf("charge = %+v", ch)
	}
	if ch.Refunds == nil || len(ch.Refunds.Data) != 1 || ch.Refunds.Data[0].Amount != 2000 {
		t.Fatalf("refunds not expanded: %+v", ch.Refunds)
	}
	refundID := ch.Refunds.Data[0].ID

	failed, err := c.Charges(ctx, "cus_failed", 100)
	if err != nil {
		t.Fatal(err)
	}
	var sawFailure bool
	for i, ch := range failed {
		sawFailure = sawFailure || ch.Status == stripe.ChargeStatusFailed
		if i > 0 && ch.Created > failed[i-1].Created {
			t.Errorf("charges are not newest first at %d", i)
		}
	}
	if !sawFailure {
		t.Error("cus_failed has no failed charge")
	}
	if one, err := c.Charges(ctx, "cus_failed", 1); err != nil || len(one) != 1 || one[0].ID != failed[0].ID {
		t.Errorf("Charges(limit 1) = %v, %v", one, err)
	}

	t.Run("refund names its charge's customer", func(t *testing.T) {
		re, err := c.Refund(ctx, refundID)
		if err != nil || re.Charge == nil || re.Charge.Customer == nil || re.Charge.Customer.ID != "cus_refund" {
			t.Errorf("Refund = %+v, %v", re, err)
		}
		_, err = c.Refund(ctx, "re_nothing")
		wantMissing(t, err)
	})
	t.Run("payment intent", func(t *testing.T) {
		pi, err := c.PaymentIntent(ctx, ch.PaymentIntent.ID)
		if err != nil || pi.Customer.ID != "cus_refund" {
			t.Errorf("PaymentIntent = %+v, %v", pi, err)
		}
		_, err = c.PaymentIntent(ctx, "pi_nothing")
		wantMissing(t, err)
	})
}

func TestDisputes(t *testing.T) {
	c, _ := fakeClient(t)
	ctx := context.Background()
	ds, err := c.Disputes(ctx, "cus_dispute", 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Disputes(cus_dispute) = %d, %v", len(ds), err)
	}
	d := ds[0]
	if d.Amount != 12000 || d.Reason != stripe.DisputeReasonFraudulent || d.Charge == nil || d.Charge.Customer.ID != "cus_dispute" {
		t.Errorf("dispute = %+v (charge %+v)", d, d.Charge)
	}
	for _, other := range []string{"cus_paid", "cus_refund", "cus_nobody"} {
		if ds, err := c.Disputes(ctx, other, 10); err != nil || len(ds) != 0 {
			t.Errorf("Disputes(%s) = %v, %v", other, ds, err)
		}
	}
	got, err := c.Dispute(ctx, d.ID)
	if err != nil || got.Charge == nil || got.Charge.Customer == nil || got.Charge.Customer.ID != "cus_dispute" {
		t.Errorf("Dispute = %+v, %v", got, err)
	}
	_, err = c.Dispute(ctx, "dp_nothing")
	wantMissing(t, err)
}
