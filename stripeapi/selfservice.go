package stripeapi

import (
	"context"
	"errors"

	"github.com/stripe/stripe-go/v76"
)

// PortalSession creates a billing-portal session for a customer. The
// session's URL lets whoever holds it manage the customer's billing: callers
// must not log it and should remove it from wherever it was shown.
// returnURL "" uses the default from the account's portal settings.
func (c *Client) PortalSession(ctx context.Context, customerID, returnURL string) (*stripe.BillingPortalSession, error) {
	params := &stripe.BillingPortalSessionParams{Params: params(ctx), Customer: stripe.String(customerID)}
	if returnURL != "" {
		params.ReturnURL = stripe.String(returnURL)
	}
	return c.API.BillingPortalSessions.New(params)
}

// SetCustomerMetadata sets one metadata key on a customer; value "" removes
// it. The idempotency key comes from the confirmed Matrix event, so a
// redelivered confirmation writes once.
func (c *Client) SetCustomerMetadata(ctx context.Context, customerID, key, value, idempotencyKey string) (*stripe.Customer, error) {
	if key == "" {
		return nil, errors.New("empty metadata key")
	}
	if idempotencyKey == "" {
		return nil, errors.New("customer update without an idempotency key refused")
	}
	params := &stripe.CustomerParams{Params: params(ctx)}
	params.SetIdempotencyKey(idempotencyKey)
	// stripe-go sends an empty value as metadata[key]=, which is how Stripe
	// deletes a single key.
	params.AddMetadata(key, value)
	return c.API.Customers.Update(customerID, params)
}

// CancelAtPeriodEnd schedules a subscription to end when its current period
// does, so the customer keeps what they paid for.
func (c *Client) CancelAtPeriodEnd(ctx context.Context, subscriptionID, idempotencyKey string) (*stripe.Subscription, error) {
	if idempotencyKey == "" {
		return nil, errors.New("subscription update without an idempotency key refused")
	}
	params := &stripe.SubscriptionParams{Params: params(ctx), CancelAtPeriodEnd: stripe.Bool(true)}
	params.SetIdempotencyKey(idempotencyKey)
	return c.API.Subscriptions.Update(subscriptionID, params)
}
