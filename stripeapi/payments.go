package stripeapi

import (
	"cmp"
	"context"
	"slices"

	"github.com/stripe/stripe-go/v76"
)

// Charges lists a customer's charges, newest first, at most limit of them
// (clamped to 1..MaxListLimit), with their refunds expanded: since API
// version 2022-11-15 a charge leaves them out unless asked.
func (c *Client) Charges(ctx context.Context, customerID string, limit int) ([]*stripe.Charge, error) {
	limit = clampLimit(limit)
	p := &stripe.ChargeListParams{ListParams: listParams(ctx, limit), Customer: stripe.String(customerID)}
	p.AddExpand("data.refunds")
	return collect[*stripe.Charge](c.API.Charges.List(p).Iter, limit)
}

// PaymentIntent retrieves one payment intent.
func (c *Client) PaymentIntent(ctx context.Context, id string) (*stripe.PaymentIntent, error) {
	return c.API.PaymentIntents.Get(id, &stripe.PaymentIntentParams{Params: params(ctx)})
}

// Refund retrieves a refund with its charge expanded: a refund names no
// customer, its charge does.
func (c *Client) Refund(ctx context.Context, id string) (*stripe.Refund, error) {
	p := &stripe.RefundParams{Params: params(ctx)}
	p.AddExpand("charge")
	return c.API.Refunds.Get(id, p)
}

// Dispute retrieves a dispute with its charge expanded, for the same reason.
func (c *Client) Dispute(ctx context.Context, id string) (*stripe.Dispute, error) {
	p := &stripe.DisputeParams{Params: params(ctx)}
	p.AddExpand("charge")
	return c.API.Disputes.Get(id, p)
}

// Disputes lists the disputes on a customer's charges, newest first, at most
// limit of them, each with its charge filled in. Stripe cannot filter
// disputes by customer, so this looks at the customer's MaxListLimit most
// recent charges and asks only about those marked disputed; listing the
// account's disputes instead would read every other customer's too.
func (c *Client) Disputes(ctx context.Context, customerID string, limit int) ([]*stripe.Dispute, error) {
	limit = clampLimit(limit)
	p := &stripe.ChargeListParams{ListParams: listParams(ctx, MaxListLimit), Customer: stripe.String(customerID)}
	charges, err := collect[*stripe.Charge](c.API.Charges.List(p).Iter, MaxListLimit)
	if err != nil {
		return nil, err
	}
	var out []*stripe.Dispute
	for _, ch := range charges {
		if !ch.Disputed {
			continue
		}
		ds, err := c.chargeDisputes(ctx, ch.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			d.Charge = ch
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b *stripe.Dispute) int { return cmp.Compare(b.Created, a.Created) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// chargeDisputes lists the disputes of one charge (a charge is disputed at
// most a handful of times, so one page is all of them).
func (c *Client) chargeDisputes(ctx context.Context, chargeID string) ([]*stripe.Dispute, error) {
	p := &stripe.DisputeListParams{ListParams: listParams(ctx, MaxListLimit), Charge: stripe.String(chargeID)}
	return collect[*stripe.Dispute](c.API.Disputes.List(p).Iter, MaxListLimit)
}
