package stripeapi

import (
	"context"
	"testing"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

// TestSelfServiceRequestsAreWellFormed checks the self-service requests'
// shapes against stripe-mock (Stripe's OpenAPI spec); behaviour is tested
// against stripefake in the commands package.
func TestSelfServiceRequestsAreWellFormed(t *testing.T) {
	if testing.Short() {
		t.Skip("needs stripe-mock")
	}
	mock := testenv.StripeMockServer(t)
	c := New(Options{Alias: "main", Key: testenv.StripeMockKey, URL: mock.URL, Log: zerolog.Nop()})
	ctx := context.Background()
	if s, err := c.PortalSession(ctx, "cus_123", "https://example.com/billing"); err != nil || s.URL == "" {
		t.Errorf("portal session with return url: %v", err)
	}
	if _, err := c.PortalSession(ctx, "cus_123", ""); err != nil {
		t.Errorf("portal session: %v", err)
	}
	if _, err := c.SetCustomerMetadata(ctx, "cus_123", "matrix_user_id", "@alice:example.com", "key-1"); err != nil {
		t.Errorf("set metadata: %v", err)
	}
	if _, err := c.SetCustomerMetadata(ctx, "cus_123", "matrix_user_id", "", "key-2"); err != nil {
		t.Errorf("clear metadata: %v", err)
	}
	if _, err := c.CancelAtPeriodEnd(ctx, "sub_123", "key-3"); err != nil {
		t.Errorf("cancel at period end: %v", err)
	}
	if _, err := c.SetCustomerMetadata(ctx, "cus_123", "matrix_user_id", "x", ""); err == nil {
		t.Error("metadata write without idempotency key was sent")
	}
}
