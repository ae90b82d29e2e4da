package commands

import (
	"context"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// SubscriptionWriter changes subscriptions, balances and discounts (agent
// writes). Every write takes the confirmed action's idempotency key.
type SubscriptionWriter interface {
	// Price and Coupon are account-wide objects a change refers to; they
	// are read to check and describe the change before it is confirmed.
	Price(ctx context.Context, id string) (*stripe.Price, error)
	Coupon(ctx context.Context, id string) (*stripe.Coupon, error)

	CancelSubscriptionNow(ctx context.Context, id, idempotencyKey string) (*stripe.Subscription, error)
	SetCancelAtPeriodEnd(ctx context.Context, id string, cancel bool, idempotencyKey string) (*stripe.Subscription, error)
	ResumeSubscription(ctx context.Context, id, idempotencyKey string) (*stripe.Subscription, error)
	PauseCollection(ctx context.Context, id string, resumesAt int64, idempotencyKey string) (*stripe.Subscription, error)
	UnpauseCollection(ctx context.Context, id, idempotencyKey string) (*stripe.Subscription, error)
	ChangePrice(ctx context.Context, change stripeapi.PriceChange, idempotencyKey string) (*stripe.Subscription, error)
	// PreviewPriceChange is the upcoming invoice as it would be after change.
	PreviewPriceChange(ctx context.Context, customerID string, change stripeapi.PriceChange) (*stripe.Invoice, error)
	ApplyCoupon(ctx context.Context, id, couponID, idempotencyKey string) (*stripe.Subscription, error)
	AdjustBalance(ctx context.Context, adj stripeapi.BalanceAdjustment, idempotencyKey string) (*stripe.CustomerBalanceTransaction, error)
}
