package stripeapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/internal/testenv"
)

// requestLog counts the requests a client makes per path, so tests can
// check that a bounded list stops paging.
type requestLog struct {
	mu    sync.Mutex
	paths []string
	next  http.RoundTripper
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.paths = append(l.paths, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	l.mu.Unlock()
	return l.next.RoundTrip(r)
}

func (l *requestLog) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.paths {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

// fakeClient is a Client against stripefake seeded with basic.yaml.
func fakeClient(t *testing.T) (*Client, *requestLog) {
	t.Helper()
	fake := stripefake.New(stripefake.Options{Seed: 7, APIKeys: []string{"sk_test_fake"}})
	if err := fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(func() {
		srv.Close()
		_ = fake.Close()
	})
	log := &requestLog{next: http.DefaultTransport}
	zero := int64(0)
	return New(Options{
		Alias: "main", Key: "sk_test_fake", URL: srv.URL, MaxNetworkRetries: &zero,
		HTTPClient: &http.Client{Transport: log}, Log: zerolog.Nop(),
	}), log
}

func wantMissing(t *testing.T, err error) {
	t.Helper()
	var serr *stripe.Error
	if !errors.As(err, &serr) || serr.HTTPStatusCode != http.StatusNotFound || serr.Code != stripe.ErrorCodeResourceMissing {
		t.Errorf("want Stripe's 404 resource_missing, got %v", err)
	}
}

func TestCustomerExpandsDefaultCard(t *testing.T) {
	c, _ := fakeClient(t)
	ctx := context.Background()
	cus, err := c.Customer(ctx, "cus_refund")
	if err != nil {
		t.Fatal(err)
	}
	if cus.Name != "Rita Refund" || cus.Email != "rita@example.com" {
		t.Errorf("customer = %q %q", cus.Name, cus.Email)
	}
	pm := cus.InvoiceSettings.DefaultPaymentMethod
	if pm == nil || pm.Card == nil || pm.Card.Last4 != "4444" || pm.Card.Brand != "mastercard" || pm.Card.ExpYear == 0 {
		t.Errorf("default payment method not expanded: %+v", pm)
	}
	credit, err := c.Customer(ctx, "cus_credit")
	if err != nil || credit.Balance >= 0 { // credit, partly spent on renewals
		t.Errorf("cus_credit balance = %v, %v", credit, err)
	}
	_, err = c.Customer(ctx, "cus_nobody")
	wantMissing(t, err)
}

func TestSubscriptions(t *testing.T) {
	c, _ := fakeClient(t)
	ctx := context.Background()
	tests := []struct {
		customer string
		want     []string // id:status
	}{
		{"cus_paid", []string{"sub_paid:active"}},
		{"cus_failed", []string{"sub_failed:past_due"}},
		{"cus_trial", []string{"sub_trial:trialing"}},
		{"cus_canceled", nil}, // canceled subscriptions are left out
		{"cus_refund", nil},
	}
	for _, tt := range tests {
		t.Run(tt.customer, func(t *testing.T) {
			subs, err := c.Subscriptions(ctx, tt.customer)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range subs {
				got = append(got, s.ID+":"+string(s.Status))
				if s.Customer == nil || s.Customer.ID != tt.customer {
					t.Errorf("%s belongs to %v", s.ID, s.Customer)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("subscriptions = %v, want %v", got, tt.want)
			}
		})
	}
	sub, err := c.Subscription(ctx, "sub_canceled")
	if err != nil || sub.Status != stripe.SubscriptionStatusCanceled || sub.Customer.ID != "cus_canceled" {
		t.Errorf("Subscription(sub_canceled) = %+v, %v", sub, err)
	}
	_, err = c.Subscription(ctx, "sub_nothing")
	wantMissing(t, err)
}

// TestRequestsAreWellFormedForCommands sends every call of commands'
// CustomerAPI (but CreateRefund, which has its own test) to stripe-mock,
// which checks parameters and expansions against Stripe's OpenAPI spec.
func TestRequestsAreWellFormedForCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("needs stripe-mock")
	}
	mock := testenv.StripeMockServer(t)
	c := New(Options{Alias: "main", Key: testenv.StripeMockKey, URL: mock.URL, Log: zerolog.Nop()})
	ctx := context.Background()
	calls := map[string]func() error{
		"Customer":       func() error { _, err := c.Customer(ctx, "cus_123"); return err },
		"Invoices":       func() error { _, err := c.Invoices(ctx, "cus_123", "open", 5); return err },
		"Invoices(all)":  func() error { _, err := c.Invoices(ctx, "cus_123", "", 200); return err },
		"Invoice":        func() error { _, err := c.Invoice(ctx, "in_123"); return err },
		"Subscriptions":  func() error { _, err := c.Subscriptions(ctx, "cus_123"); return err },
		"Subscription":   func() error { _, err := c.Subscription(ctx, "sub_123"); return err },
		"Charges":        func() error { _, err := c.Charges(ctx, "cus_123", 20); return err },
		"Charge":         func() error { _, err := c.Charge(ctx, "ch_123"); return err },
		"PaymentIntent":  func() error { _, err := c.PaymentIntent(ctx, "pi_123"); return err },
		"Refund":         func() error { _, err := c.Refund(ctx, "re_123"); return err },
		"Dispute":        func() error { _, err := c.Dispute(ctx, "dp_123"); return err },
		"Disputes":       func() error { _, err := c.Disputes(ctx, "cus_123", 20); return err },
		"chargeDisputes": func() error { _, err := c.chargeDisputes(ctx, "ch_123"); return err },
		// GET /v1/invoices/upcoming is in the 2023-10-16 spec stripe-mock
		// v0.183.0 embeds (later specs replaced it by create_preview).
		"UpcomingInvoice": func() error {
			inv, err := c.UpcomingInvoice(ctx, "cus_123")
			if err == nil && inv == nil {
				return errors.New("no invoice in stripe-mock's answer")
			}
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); err != nil {
				t.Errorf("stripe-mock rejected the request: %v", err)
			}
		})
	}
}
