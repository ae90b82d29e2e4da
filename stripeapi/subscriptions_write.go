package stripeapi

import (
	"context"
	"errors"

	"github.com/stripe/stripe-go/v76"
)

// Every write here takes the idempotency key of the confirmed Matrix
// command: a redelivered event or a repeated confirmation then replays
// Stripe's first answer instead of changing the subscription twice.
var errNoIdempotencyKey = errors.New("write without an idempotency key refused")

func writeParams(ctx context.Context, idempotencyKey string) (stripe.Params, error) {
	if idempotencyKey == "" {
		return stripe.Params{}, errNoIdempotencyKey
	}
	p := params(ctx)
	p.SetIdempotencyKey(idempotencyKey)
	return p, nil
}

// Price retrieves a price, for checking a plan change before it is made.
func (c *Client) Price(ctx context.Context, id string) (*stripe.Price, error) {
	return c.API.Prices.Get(id, &stripe.PriceParams{Params: params(ctx)})
}

// Coupon retrieves a coupon, so its terms can be shown before it is applied.
func (c *Client) Coupon(ctx context.Context, id string) (*stripe.Coupon, error) {
	return c.API.Coupons.Get(id, &stripe.CouponParams{Params: params(ctx)})
}

// CancelSubscriptionNow ends a subscription immediately.
func (c *Client) CancelSubscriptionNow(ctx context.Context, id, idempotencyKey string) (*stripe.Subscription, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Subscriptions.Cancel(id, &stripe.SubscriptionCancelParams{Params: p})
}

// SetCancelAtPeriodEnd schedules (true) or withdraws (false) the end of a
// subscription at the end of its current period.
func (c *Client) SetCancelAtPeriodEnd(ctx context.Context, id string, cancel bool, idempotencyKey string) (*stripe.Subscription, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Subscriptions.Update(id, &stripe.SubscriptionParams{Params: p, CancelAtPeriodEnd: stripe.Bool(cancel)})
}

// ResumeSubscription resumes a subscription whose status is paused (a trial
// that ended without a payment method).
func (c *Client) ResumeSubscription(ctx context.Context, id, idempotencyKey string) (*stripe.Subscription, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Subscriptions.Resume(id, &stripe.SubscriptionResumeParams{Params: p})
}

// PauseCollection stops collecting payment: invoices created while paused
// are voided. resumesAt (Unix seconds) of 0 pauses until unpaused.
func (c *Client) PauseCollection(ctx context.Context, id string, resumesAt int64, idempotencyKey string) (*stripe.Subscription, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	pause := &stripe.SubscriptionPauseCollectionParams{Behavior: stripe.String(string(stripe.SubscriptionPauseCollectionBehaviorVoid))}
	if resumesAt > 0 {
		pause.ResumesAt = stripe.Int64(resumesAt)
	}
	return c.API.Subscriptions.Update(id, &stripe.SubscriptionParams{Params: p, PauseCollection: pause})
}

// UnpauseCollection resumes collecting payment. Stripe clears
// pause_collection when it is sent as an empty string.
func (c *Client) UnpauseCollection(ctx context.Context, id, idempotencyKey string) (*stripe.Subscription, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	sp := &stripe.SubscriptionParams{Params: p}
	sp.AddExtra("pause_collection", "")
	return c.API.Subscriptions.Update(id, sp)
}

// PriceChange moves one subscription item to another price.
type PriceChange struct {
	SubscriptionID string
	ItemID         string
	PriceID        string
	// ProrationBehavior is "create_prorations" or "none".
	ProrationBehavior string
	// ProrationDate (Unix seconds) is the moment the proration is computed
	// for; 0 leaves it to Stripe's clock. The preview and the update must
	// carry the same value, or Stripe prorates the update for the later
	// moment it arrives and the amount applied differs from the one shown.
	ProrationDate int64
}

func (change PriceChange) prorationDate() *int64 {
	if change.ProrationDate == 0 {
		return nil
	}
	return stripe.Int64(change.ProrationDate)
}

// ChangePrice applies a price change.
func (c *Client) ChangePrice(ctx context.Context, change PriceChange, idempotencyKey string) (*stripe.Subscription, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Subscriptions.Update(change.SubscriptionID, &stripe.SubscriptionParams{
		Params:            p,
		Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(change.ItemID), Price: stripe.String(change.PriceID)}},
		ProrationBehavior: stripe.String(change.ProrationBehavior),
		ProrationDate:     change.prorationDate(),
	})
}

// PreviewPriceChange is the customer's upcoming invoice as it would be
// after the change; with prorations it carries the proration lines.
func (c *Client) PreviewPriceChange(ctx context.Context, customerID string, change PriceChange) (*stripe.Invoice, error) {
	return c.API.Invoices.Upcoming(&stripe.InvoiceUpcomingParams{
		Params:                        params(ctx),
		Customer:                      stripe.String(customerID),
		Subscription:                  stripe.String(change.SubscriptionID),
		SubscriptionItems:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(change.ItemID), Price: stripe.String(change.PriceID)}},
		SubscriptionProrationBehavior: stripe.String(change.ProrationBehavior),
		SubscriptionProrationDate:     change.prorationDate(),
	})
}

// ApplyCoupon puts a coupon on a subscription, replacing any discount it
// had. It is sent as discounts[] rather than the older coupon parameter,
// which newer API versions no longer accept. discounts[] on subscription
// update postdates the 2023-10-16 OpenAPI spec (Stripe added it in April
// 2024 without a new API version; stripe-go 76.24.0), so stripe-mock
// v0.183.0 refuses it; its stripe-mock test expects exactly that refusal.
func (c *Client) ApplyCoupon(ctx context.Context, id, couponID, idempotencyKey string) (*stripe.Subscription, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Subscriptions.Update(id, &stripe.SubscriptionParams{
		Params: p, Discounts: []*stripe.SubscriptionDiscountParams{{Coupon: stripe.String(couponID)}},
	})
}
