package stripeapi

import (
	"context"
	"errors"

	"github.com/stripe/stripe-go/v76"
)

// Invoices lists a customer's invoices, newest first, at most limit of them
// (clamped to 1..MaxListLimit). status "" means every status.
func (c *Client) Invoices(ctx context.Context, customerID, status string, limit int) ([]*stripe.Invoice, error) {
	limit = clampLimit(limit)
	p := &stripe.InvoiceListParams{ListParams: listParams(ctx, limit), Customer: stripe.String(customerID)}
	if status != "" {
		p.Status = stripe.String(status)
	}
	return collect[*stripe.Invoice](c.API.Invoices.List(p).Iter, limit)
}

// Invoice retrieves one invoice.
func (c *Client) Invoice(ctx context.Context, id string) (*stripe.Invoice, error) {
	return c.API.Invoices.Get(id, &stripe.InvoiceParams{Params: params(ctx)})
}

// UpcomingInvoice previews the customer's next invoice. A customer with
// nothing that renews is not an error for a room that asks, so Stripe's
// invoice_upcoming_none becomes (nil, nil).
func (c *Client) UpcomingInvoice(ctx context.Context, customerID string) (*stripe.Invoice, error) {
	p := &stripe.InvoiceUpcomingParams{Params: params(ctx), Customer: stripe.String(customerID)}
	inv, err := c.API.Invoices.Upcoming(p)
	var serr *stripe.Error
	if errors.As(err, &serr) && serr.Code == stripe.ErrorCodeInvoiceUpcomingNone {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return inv, nil
}
