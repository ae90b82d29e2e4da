package stripeapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
)

// stripeError answers like Stripe does for a failed request, so the test goes
// through stripe-go's real error decoding.
func stripeError(status int, body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
}

func TestDescribe(t *testing.T) {
	zero := int64(0)
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"decline", 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`, "The payment was declined: the card has insufficient funds."},
		{"unknown decline code", 402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"new_code"}}`, "The payment was declined: the card was declined."},
		{"bad key", 401, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_***"}}`, "Stripe rejected the API key"},
		{"missing", 404, `{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such charge: 'ch_other'"}}`, "Not found."},
		{"already refunded", 400, `{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_1 has already been refunded."}}`, "already been fully refunded"},
		{"server", 500, `{"error":{"type":"api_error","message":"boom"}}`, "temporary problem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := stripeError(tt.status, tt.body)
			defer srv.Close()
			c := New(Options{Alias: "main", Key: "sk_test_123", URL: srv.URL, MaxNetworkRetries: &zero, Log: zerolog.Nop()})
			_, err := c.Account(context.Background())
			var serr *stripe.Error
			if !errors.As(err, &serr) {
				t.Fatalf("want *stripe.Error, got %v", err)
			}
			got := Describe(err)
			if !strings.Contains(got, tt.want) {
				t.Errorf("Describe = %q, want it to contain %q", got, tt.want)
			}
			if strings.Contains(got, "sk_test") || strings.Contains(got, "ch_other") {
				t.Errorf("Describe leaked a key or id: %q", got)
			}
		})
	}
}

func TestCheckModeMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/account" || r.Header.Get("Authorization") != "Bearer sk_test_123" {
			http.Error(w, `{"error":{"type":"invalid_request_error"}}`, 400)
			return
		}
		_, _ = w.Write([]byte(`{"id":"acct_1","object":"account","settings":{"dashboard":{"display_name":"Shop"}}}`))
	}))
	defer srv.Close()
	c := New(Options{Alias: "main", Key: "sk_test_123", URL: srv.URL, Log: zerolog.Nop()})
	acct, err := c.Check(context.Background(), false)
	if err != nil || acct.ID != "acct_1" {
		t.Fatalf("Check = %v, %v", acct, err)
	}
	if _, err = c.Check(context.Background(), true); !errors.Is(err, ErrModeMismatch) {
		t.Fatalf("want ErrModeMismatch, got %v", err)
	}
}

func TestCheckUnreachable(t *testing.T) {
	zero := int64(0)
	c := New(Options{Alias: "main", Key: "sk_test_123", URL: "http://127.0.0.1:1", MaxNetworkRetries: &zero, Log: zerolog.Nop()})
	_, err := c.Check(context.Background(), false)
	if err == nil || !strings.Contains(err.Error(), "account main") {
		t.Fatalf("want a clear error naming the account, got %v", err)
	}
}
