package stripeapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

func TestCustomerOfPayment(t *testing.T) {
	c, _ := fakeClient(t)
	ctx := context.Background()
	inv, err := c.API.Invoices.Get("in_refunded", nil)
	if err != nil || inv.Charge == nil || inv.PaymentIntent == nil {
		t.Fatalf("invoice: %+v %v", inv, err)
	}
	for _, tc := range []struct{ object, want string }{
		{inv.Charge.ID, "cus_refund"},
		{inv.PaymentIntent.ID, "cus_refund"},
		{"ch_does_not_exist", ""},
		{"re_not_a_payment", ""},
	} {
		got, err := c.CustomerOfPayment(ctx, tc.object)
		if err != nil || got != tc.want {
			t.Errorf("CustomerOfPayment(%s) = %q, %v; want %q", tc.object, got, err, tc.want)
		}
	}
}

func TestWebhookEndpoints(t *testing.T) {
	fake := stripefake.New(stripefake.Options{APIKeys: []string{"sk_test_fake"}})
	fake.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: "https://bridge.example/stripe/webhook/main", EnabledEvents: []string{"invoice.paid", "charge.refunded"}})
	fake.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: "https://other.example/hook"})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	c := New(Options{Alias: "main", Key: "sk_test_fake", URL: srv.URL, Log: zerolog.Nop()})
	got, err := c.WebhookEndpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	events := map[string][]string{}
	for _, ep := range got {
		events[ep.URL] = ep.EnabledEvents
	}
	want := map[string][]string{
		"https://bridge.example/stripe/webhook/main": {"invoice.paid", "charge.refunded"},
		"https://other.example/hook":                 {"*"},
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("endpoints %v, want %v", events, want)
	}
}

func TestWebhookEndpointsPermissionDenied(t *testing.T) {
	// Stripe's answer to a restricted key without webhook read access.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_***abc' does not have the required permissions for this endpoint. Having the 'rak_webhook_read' permission would allow this request to continue."}}`))
	}))
	t.Cleanup(srv.Close)
	zero := int64(0)
	c := New(Options{Alias: "main", Key: "rk_test_abc", URL: srv.URL, MaxNetworkRetries: &zero, Log: zerolog.Nop()})
	_, err := c.WebhookEndpoints(context.Background())
	if err == nil || !IsPermissionDenied(err) {
		t.Errorf("want a permission error, got %v", err)
	}
}

// TestWebhookEndpointRequestsAreWellFormed checks the new calls against the
// 2023-10-16 spec.
func TestWebhookEndpointRequestsAreWellFormed(t *testing.T) {
	if testing.Short() {
		t.Skip("needs stripe-mock")
	}
	mock := testenv.StripeMockServer(t)
	c := New(Options{Alias: "main", Key: testenv.StripeMockKey, URL: mock.URL, Log: zerolog.Nop()})
	ctx := context.Background()
	if eps, err := c.WebhookEndpoints(ctx); err != nil || len(eps) == 0 {
		t.Errorf("webhook endpoints: %v, %v", eps, err)
	}
	for _, object := range []string{"ch_123", "pi_123"} {
		if _, err := c.CustomerOfPayment(ctx, object); err != nil {
			t.Errorf("customer of %s: %v", object, err)
		}
	}
}
