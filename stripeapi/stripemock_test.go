package stripeapi

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

// TestRequestsAreWellFormed sends every request this package makes to
// stripe-mock, which validates them against Stripe's OpenAPI spec: a
// malformed parameter is a 400 there. Behaviour is tested against stripefake.
func TestRequestsAreWellFormed(t *testing.T) {
	if testing.Short() {
		t.Skip("needs stripe-mock")
	}
	mock := testenv.StripeMockServer(t)
	c := New(Options{Alias: "main", Key: testenv.StripeMockKey, URL: mock.URL, Log: zerolog.Nop()})
	ctx := context.Background()
	if _, err := c.Check(ctx, false); err != nil {
		t.Errorf("account: %v", err)
	}
	if _, err := c.Customer(ctx, "cus_123"); err != nil {
		t.Errorf("customer: %v", err)
	}
	if _, err := c.Charge(ctx, "ch_123"); err != nil {
		t.Errorf("charge: %v", err)
	}
	pages := 0
	err := c.EventsSince(ctx, time.Now().Add(-time.Hour), func(raw json.RawMessage) error {
		pages++
		var head struct{ Object string }
		if err := json.Unmarshal(raw, &head); err != nil || head.Object != "event" {
			t.Errorf("events list item is not an event: %s", raw)
		}
		return nil
	})
	if err != nil {
		t.Errorf("events: %v", err)
	}
	if pages == 0 {
		t.Error("events list returned nothing")
	}
}
