package commands

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// SelfServiceAPI is what customer self-service needs (billing portal, customer metadata).
type SelfServiceAPI interface {
	// PortalSession creates a billing-portal session; its URL is a bearer
	// credential and must never be logged.
	PortalSession(ctx context.Context, customerID, returnURL string) (*stripe.BillingPortalSession, error)
	// SetCustomerMetadata sets (or, with value "", removes) one metadata key.
	SetCustomerMetadata(ctx context.Context, customerID, key, value, idempotencyKey string) (*stripe.Customer, error)
	// CancelAtPeriodEnd schedules a subscription to end with its current period.
	CancelAtPeriodEnd(ctx context.Context, subscriptionID, idempotencyKey string) (*stripe.Subscription, error)
}
