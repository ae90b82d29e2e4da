package stripeapi

import (
	"context"
	"errors"

	"github.com/stripe/stripe-go/v76"
)

// RefundRequest is one refund an agent confirmed.
type RefundRequest struct {
	ChargeID        string // exactly one of ChargeID and PaymentIntentID
	PaymentIntentID string
	Amount          int64 // minor units; 0 refunds what is left
	Reason          string
	// IdempotencyKey makes a repeated request return the first refund: the
	// key comes from the Matrix event that was confirmed, so a redelivered
	// event or a double confirmation can never refund twice.
	IdempotencyKey string
	// Metadata records who asked, for the Stripe dashboard.
	Metadata map[string]string
}

// CreateRefund refunds a charge or a payment intent.
func (c *Client) CreateRefund(ctx context.Context, req RefundRequest) (*stripe.Refund, error) {
	if (req.ChargeID == "") == (req.PaymentIntentID == "") {
		return nil, errors.New("refund needs exactly one of a charge and a payment intent")
	}
	if req.IdempotencyKey == "" {
		return nil, errors.New("refund without an idempotency key refused")
	}
	params := &stripe.RefundParams{Params: params(ctx)}
	params.SetIdempotencyKey(req.IdempotencyKey)
	if req.ChargeID != "" {
		params.Charge = stripe.String(req.ChargeID)
	} else {
		params.PaymentIntent = stripe.String(req.PaymentIntentID)
	}
	if req.Amount > 0 {
		params.Amount = stripe.Int64(req.Amount)
	}
	if req.Reason != "" {
		params.Reason = stripe.String(req.Reason)
	}
	for k, v := range req.Metadata {
		params.AddMetadata(k, v)
	}
	return c.API.Refunds.New(params)
}
