package stripeapi

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// VoidInvoice voids an open or uncollectible invoice.
func (c *Client) VoidInvoice(ctx context.Context, id, idempotencyKey string) (*stripe.Invoice, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Invoices.VoidInvoice(id, &stripe.InvoiceVoidInvoiceParams{Params: p})
}

// PayInvoice attempts payment of an open invoice now, with the customer's
// default payment method.
func (c *Client) PayInvoice(ctx context.Context, id, idempotencyKey string) (*stripe.Invoice, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Invoices.Pay(id, &stripe.InvoicePayParams{Params: p})
}

// SendInvoice emails an open send_invoice invoice to the customer.
func (c *Client) SendInvoice(ctx context.Context, id, idempotencyKey string) (*stripe.Invoice, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	return c.API.Invoices.SendInvoice(id, &stripe.InvoiceSendInvoiceParams{Params: p})
}
