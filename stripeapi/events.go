package stripeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// rawEventPage keeps each event's raw JSON: the inbox stores exactly what
// Stripe sent, like a webhook body, not a re-encoding of stripe-go's struct.
type rawEventPage struct {
	stripe.APIResource
	Data    []json.RawMessage `json:"data"`
	HasMore bool              `json:"has_more"`
}

// EventsSince pages through the account's events created at or after since,
// newest first (Stripe keeps 30 days), calling fn with each raw event.
func (c *Client) EventsSince(ctx context.Context, since time.Time, fn func(raw json.RawMessage) error) error {
	params := &stripe.EventListParams{
		ListParams:   stripe.ListParams{Context: ctx, Limit: stripe.Int64(100)},
		CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()},
	}
	for {
		var page rawEventPage
		values := &form.Values{}
		form.AppendTo(values, params)
		if err := c.API.Events.B.CallRaw(http.MethodGet, "/v1/events", c.key, values, params.GetParams(), &page); err != nil {
			return err
		}
		var lastID string
		for _, raw := range page.Data {
			if err := fn(raw); err != nil {
				return err
			}
			var head struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &head); err == nil {
				lastID = head.ID
			}
		}
		if !page.HasMore || lastID == "" {
			return nil
		}
		params.StartingAfter = stripe.String(lastID)
	}
}
