package stripeapi

import (
	"context"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

func TestInvoices(t *testing.T) {
	c, log := fakeClient(t)
	ctx := context.Background()

	all, err := c.Invoices(ctx, "cus_paid", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	// 65 days of a monthly plan: the first invoice and two renewals.
	if len(all) < 3 {
		t.Fatalf("cus_paid has %d invoices, want at least 3", len(all))
	}
	for i, inv := range all {
		if inv.Customer == nil || inv.Customer.ID != "cus_paid" {
			t.Errorf("%s belongs to %v", inv.ID, inv.Customer)
		}
		if i > 0 && inv.Created > all[i-1].Created {
			t.Errorf("invoices are not newest first at %d", i)
		}
	}

	t.Run("limit stops paging", func(t *testing.T) {
		before := log.count("GET /v1/invoices?")
		two, err := c.Invoices(ctx, "cus_paid", "", 2)
		if err != nil || len(two) != 2 || two[0].ID != all[0].ID {
			t.Fatalf("Invoices(limit 2) = %d, %v", len(two), err)
		}
		if n := log.count("GET /v1/invoices?") - before; n != 1 {
			t.Errorf("limit 2 made %d list requests, want 1", n)
		}
	})
	t.Run("status filter", func(t *testing.T) {
		paid, err := c.Invoices(ctx, "cus_paid", "paid", 10)
		if err != nil || len(paid) == 0 {
			t.Fatalf("paid = %v, %v", paid, err)
		}
		for _, inv := range paid {
			if inv.Status != stripe.InvoiceStatusPaid {
				t.Errorf("%s is %s", inv.ID, inv.Status)
			}
		}
		open, err := c.Invoices(ctx, "cus_paid", "open", 10)
		if err != nil || len(open) != 0 {
			t.Errorf("cus_paid open invoices = %d, %v", len(open), err)
		}
	})
	t.Run("one invoice", func(t *testing.T) {
		inv, err := c.Invoice(ctx, "in_refunded")
		if err != nil || inv.Customer.ID != "cus_refund" || inv.Total != 5000 || inv.HostedInvoiceURL == "" {
			t.Errorf("Invoice(in_refunded) = %+v, %v", inv, err)
		}
		_, err = c.Invoice(ctx, "in_nothing")
		wantMissing(t, err)
	})
}

func TestUpcomingInvoice(t *testing.T) {
	c, _ := fakeClient(t)
	ctx := context.Background()
	inv, err := c.UpcomingInvoice(ctx, "cus_paid")
	if err != nil || inv == nil {
		t.Fatalf("UpcomingInvoice(cus_paid) = %v, %v", inv, err)
	}
	if inv.AmountDue != 1000 || inv.Customer.ID != "cus_paid" {
		t.Errorf("upcoming = %d for %v", inv.AmountDue, inv.Customer)
	}
	// Nothing renews: Stripe's invoice_upcoming_none is "no invoice", not an error.
	for _, id := range []string{"cus_refund", "cus_canceled"} {
		if inv, err := c.UpcomingInvoice(ctx, id); inv != nil || err != nil {
			t.Errorf("UpcomingInvoice(%s) = %v, %v; want nil, nil", id, inv, err)
		}
	}
	_, err = c.UpcomingInvoice(ctx, "cus_nobody")
	wantMissing(t, err)
}
