package stripeapi

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// MaxListLimit is the most items a list call returns: Stripe's own page size
// cap, and more than any reply in a chat room should show.
const MaxListLimit = 100

// defaultListLimit is Stripe's default page size, used when a caller asks
// for nothing sensible.
const defaultListLimit = 10

// clampLimit keeps a caller's limit inside what one Stripe page can hold, so
// a bounded list never costs more than one request.
func clampLimit(limit int) int {
	switch {
	case limit < 1:
		return defaultListLimit
	case limit > MaxListLimit:
		return MaxListLimit
	}
	return limit
}

func listParams(ctx context.Context, limit int) stripe.ListParams {
	return stripe.ListParams{Context: ctx, Limit: stripe.Int64(int64(limit))}
}

// collect walks a list iterator and stops at limit: the iterator would
// otherwise page on through a customer's whole history.
func collect[T any](it *stripe.Iter, limit int) ([]T, error) {
	var out []T
	for len(out) < limit && it.Next() {
		if v, ok := it.Current().(T); ok {
			out = append(out, v)
		}
	}
	return out, it.Err()
}

// Customer retrieves a customer with invoice_settings.default_payment_method
// expanded, so the card on file comes in the same request. Deleted customers
// come back with Deleted set.
func (c *Client) Customer(ctx context.Context, id string) (*stripe.Customer, error) {
	p := &stripe.CustomerParams{Params: params(ctx)}
	p.AddExpand("invoice_settings.default_payment_method")
	return c.API.Customers.Get(id, p)
}

// Subscriptions lists a customer's subscriptions of every status except
// canceled (Stripe's default filter), at most MaxListLimit of them.
func (c *Client) Subscriptions(ctx context.Context, customerID string) ([]*stripe.Subscription, error) {
	p := &stripe.SubscriptionListParams{ListParams: listParams(ctx, MaxListLimit), Customer: stripe.String(customerID)}
	return collect[*stripe.Subscription](c.API.Subscriptions.List(p).Iter, MaxListLimit)
}

// Subscription retrieves one subscription.
func (c *Client) Subscription(ctx context.Context, id string) (*stripe.Subscription, error) {
	return c.API.Subscriptions.Get(id, &stripe.SubscriptionParams{Params: params(ctx)})
}

// PaymentMethods lists a customer's payment methods of every type, at most
// limit of them (clamped to 1..MaxListLimit).
func (c *Client) PaymentMethods(ctx context.Context, customerID string, limit int) ([]*stripe.PaymentMethod, error) {
	limit = clampLimit(limit)
	p := &stripe.PaymentMethodListParams{ListParams: listParams(ctx, limit), Customer: stripe.String(customerID)}
	return collect[*stripe.PaymentMethod](c.API.PaymentMethods.List(p).Iter, limit)
}
