package commands

import (
	"context"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// CustomerAPI is what commands read and change in one Stripe account. It is
// implemented by *stripeapi.Client; every method takes ids exactly as the
// user typed them (already prefix-checked) and returns Stripe's own errors,
// which commands turn into sentences with stripeapi.Describe.
type CustomerAPI interface {
	// Customer retrieves a customer with invoice_settings.default_payment_method expanded.
	Customer(ctx context.Context, id string) (*stripe.Customer, error)
	// Invoices lists a customer's invoices, newest first; status "" means all.
	Invoices(ctx context.Context, customerID, status string, limit int) ([]*stripe.Invoice, error)
	Invoice(ctx context.Context, id string) (*stripe.Invoice, error)
	// UpcomingInvoice previews the next invoice; (nil, nil) when there is none.
	UpcomingInvoice(ctx context.Context, customerID string) (*stripe.Invoice, error)
	// Subscriptions lists a customer's subscriptions of every status but canceled.
	Subscriptions(ctx context.Context, customerID string) ([]*stripe.Subscription, error)
	Subscription(ctx context.Context, id string) (*stripe.Subscription, error)
	// Charges lists a customer's charges, newest first, with refunds expanded.
	Charges(ctx context.Context, customerID string, limit int) ([]*stripe.Charge, error)
	Charge(ctx context.Context, id string) (*stripe.Charge, error)
	PaymentIntent(ctx context.Context, id string) (*stripe.PaymentIntent, error)
	// Refund retrieves a refund with its charge expanded (the charge names the customer).
	Refund(ctx context.Context, id string) (*stripe.Refund, error)
	// Dispute retrieves a dispute with its charge expanded.
	Dispute(ctx context.Context, id string) (*stripe.Dispute, error)
	// Disputes lists the disputes on a customer's charges, newest first.
	Disputes(ctx context.Context, customerID string, limit int) ([]*stripe.Dispute, error)

	// CreateRefund refunds a charge or payment intent. idempotencyKey makes a
	// repeated call return the first refund instead of refunding twice.
	CreateRefund(ctx context.Context, req stripeapi.RefundRequest) (*stripe.Refund, error)

	// Further capabilities, each declared beside the commands that use it.
	SubscriptionWriter
	InvoiceWriter
	SelfServiceAPI
	AccountSearcher
}
