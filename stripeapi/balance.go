package stripeapi

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// BalanceAdjustment is one customer balance transaction. Amount follows
// Stripe's sign: negative is credit the customer can spend on invoices,
// positive is an amount they owe.
type BalanceAdjustment struct {
	CustomerID  string
	Amount      int64
	Currency    string
	Description string
	Metadata    map[string]string
}

// AdjustBalance records a balance transaction on the customer.
func (c *Client) AdjustBalance(ctx context.Context, adj BalanceAdjustment, idempotencyKey string) (*stripe.CustomerBalanceTransaction, error) {
	p, err := writeParams(ctx, idempotencyKey)
	if err != nil {
		return nil, err
	}
	bp := &stripe.CustomerBalanceTransactionParams{
		Params: p, Customer: stripe.String(adj.CustomerID),
		Amount: stripe.Int64(adj.Amount), Currency: stripe.String(adj.Currency),
	}
	if adj.Description != "" {
		bp.Description = stripe.String(adj.Description)
	}
	for k, v := range adj.Metadata {
		bp.AddMetadata(k, v)
	}
	return c.API.CustomerBalanceTransactions.New(bp)
}
