package stripeapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// WebhookEndpoint is what the catch-up needs to know of an endpoint: where
// it delivers and which event types it selected ("*" is every type).
type WebhookEndpoint struct {
	ID            string
	URL           string
	EnabledEvents []string
	Disabled      bool
}

// WebhookEndpoints lists the account's webhook endpoints. A restricted key
// without the webhook-read permission gets an error for which
// IsPermissionDenied is true.
func (c *Client) WebhookEndpoints(ctx context.Context) ([]WebhookEndpoint, error) {
	params := &stripe.WebhookEndpointListParams{ListParams: stripe.ListParams{Context: ctx, Limit: stripe.Int64(100)}}
	iter := c.API.WebhookEndpoints.List(params)
	var out []WebhookEndpoint
	for iter.Next() {
		we := iter.WebhookEndpoint()
		out = append(out, WebhookEndpoint{
			ID: we.ID, URL: we.URL, EnabledEvents: we.EnabledEvents, Disabled: we.Status == "disabled",
		})
	}
	return out, iter.Err()
}

// IsPermissionDenied reports whether Stripe refused a call because the key
// may not make it (a restricted key without the permission), as opposed to
// a failure that may pass.
func IsPermissionDenied(err error) bool {
	var serr *stripe.Error
	return errors.As(err, &serr) && (serr.HTTPStatusCode == http.StatusForbidden || serr.HTTPStatusCode == http.StatusUnauthorized)
}

// CustomerOfPayment returns the customer of a charge (ch_, py_) or payment
// intent (pi_): the one call that places a refund or dispute, which name
// only their payment, in its customer's queue. "" and no error: the payment
// has no customer (a guest's), does not exist, or is of another kind.
func (c *Client) CustomerOfPayment(ctx context.Context, objectID string) (string, error) {
	var customer *stripe.Customer
	var err error
	switch {
	case strings.HasPrefix(objectID, "ch_"), strings.HasPrefix(objectID, "py_"):
		var ch *stripe.Charge
		if ch, err = c.Charge(ctx, objectID); err == nil {
			customer = ch.Customer
		}
	case strings.HasPrefix(objectID, "pi_"):
		var pi *stripe.PaymentIntent
		if pi, err = c.PaymentIntent(ctx, objectID); err == nil {
			customer = pi.Customer
		}
	default:
		return "", nil
	}
	if err != nil {
		if IsNotFound(err) {
			return "", nil
		}
		return "", err
	}
	if customer == nil {
		return "", nil
	}
	return customer.ID, nil
}
