package stripeapi

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

// TestWriteRequestsAreWellFormed checks the agent writes' request shapes
// against stripe-mock. PreviewPriceChange is not here: stripe-mock's spec
// answers /v1/invoices/upcoming with 400 (see DESIGN.md), so it is only
// exercised against stripefake.
func TestWriteRequestsAreWellFormed(t *testing.T) {
	if testing.Short() {
		t.Skip("needs stripe-mock")
	}
	mock := testenv.StripeMockServer(t)
	c := New(Options{Alias: "main", Key: testenv.StripeMockKey, URL: mock.URL, Log: zerolog.Nop()})
	ctx := context.Background()
	const key = "mxstripe_test"
	calls := map[string]func() error{
		"price":         func() error { _, err := c.Price(ctx, "price_123"); return err },
		"coupon":        func() error { _, err := c.Coupon(ctx, "HALF"); return err },
		"cancel now":    func() error { _, err := c.CancelSubscriptionNow(ctx, "sub_123", key); return err },
		"cancel at end": func() error { _, err := c.SetCancelAtPeriodEnd(ctx, "sub_123", true, key+"1"); return err },
		"resume":        func() error { _, err := c.ResumeSubscription(ctx, "sub_123", key); return err },
		"pause":         func() error { _, err := c.PauseCollection(ctx, "sub_123", 4102444800, key+"2"); return err },
		"unpause":       func() error { _, err := c.UnpauseCollection(ctx, "sub_123", key+"3"); return err },
		"change price": func() error {
			_, err := c.ChangePrice(ctx, PriceChange{SubscriptionID: "sub_123", ItemID: "si_123", PriceID: "price_123", ProrationBehavior: "create_prorations"}, key+"4")
			return err
		},
		"coupon apply": func() error { _, err := c.ApplyCoupon(ctx, "sub_123", "HALF", key+"5"); return err },
		"void":         func() error { _, err := c.VoidInvoice(ctx, "in_123", key); return err },
		"pay":          func() error { _, err := c.PayInvoice(ctx, "in_123", key); return err },
		"send":         func() error { _, err := c.SendInvoice(ctx, "in_123", key); return err },
		"balance transact": func() error {
			_, err := c.AdjustBalance(ctx, BalanceAdjustment{CustomerID: "cus_123", Amount: -1250, Currency: "usd", Description: "sorry", Metadata: map[string]string{"matrix_user_id": "@a:b"}}, key)
			return err
		},
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.VoidInvoice(ctx, "in_123", ""); err == nil {
		t.Error("a write without an idempotency key was sent")
	}
}
