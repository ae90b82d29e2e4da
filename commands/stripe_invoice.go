package commands

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// InvoiceWriter acts on invoices (agent writes). Every write takes the
// confirmed action's idempotency key.
type InvoiceWriter interface {
	VoidInvoice(ctx context.Context, id, idempotencyKey string) (*stripe.Invoice, error)
	PayInvoice(ctx context.Context, id, idempotencyKey string) (*stripe.Invoice, error)
	SendInvoice(ctx context.Context, id, idempotencyKey string) (*stripe.Invoice, error)
}
