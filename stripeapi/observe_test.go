package stripeapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

func TestEndpoint(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/account":                                     "/v1/account",
		"/v1/customers":                                   "/v1/customers",
		"/v1/customers/cus_NffrFeUfNV2Hib":                "/v1/customers/{id}",
		"/v1/customers/alice":                             "/v1/customers/{id}", // merchant-chosen ids look like words
		"/v1/customers/search":                            "/v1/customers/search",
		"/v1/customers/cus_1/balance_transactions":        "/v1/customers/{id}/balance_transactions",
		"/v1/customers/cus_1/balance_transactions/cbtxn_": "/v1/customers/{id}/balance_transactions/{id}",
		"/v1/invoices/upcoming":                           "/v1/invoices/upcoming",
		"/v1/invoices/upcoming/lines":                     "/v1/invoices/upcoming/lines",
		"/v1/invoices/in_1MtHbELkdIwHu7ix/pay":            "/v1/invoices/{id}/pay",
		"/v1/payment_methods/pm_1/detach":                 "/v1/payment_methods/{id}/detach",
		"/v1/billing_portal/sessions":                     "/v1/billing_portal/sessions",
		"/v1/checkout/sessions/cs_test_1":                 "/v1/checkout/sessions/{id}",
		"/v1/tax_rates/txr_1":                             "/v1/tax_rates/{id}",
		"/v1/Customers/x":                                 "/v1/{id}/{id}",
		"/v2/core/events":                                 "other",
		"/":                                               "other",
		"/v1/a/b/c/d/e/f/g/h":                             "other",
	} {
		if got := Endpoint(path); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestObserverSeesEveryRequest: a client with an observer reports each
// request to Stripe with its normalised endpoint and status, the raw
// account call and a failed look-up included.
func TestObserverSeesEveryRequest(t *testing.T) {
	fake := stripefake.New(stripefake.Options{Seed: 7, APIKeys: []string{"sk_test_fake"}})
	if err := fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(func() {
		srv.Close()
		_ = fake.Close()
	})
	var mu sync.Mutex
	var seen []Request
	zero := int64(0)
	// A caller's own client keeps its transport underneath the observer.
	own := &requestLog{next: http.DefaultTransport}
	c := New(Options{Alias: "main", Key: "sk_test_fake", URL: srv.URL, MaxNetworkRetries: &zero,
		HTTPClient: &http.Client{Transport: own}, Log: zerolog.Nop(),
		Observe: func(r Request) {
			mu.Lock()
			seen = append(seen, r)
			mu.Unlock()
		}})
	ctx := context.Background()
	if _, err := c.Account(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Customer(ctx, "cus_paid"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Customer(ctx, "cus_nobody"); !IsNotFound(err) {
		t.Fatalf("want not found, got %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []struct {
		endpoint string
		status   int
	}{{"/v1/account", 200}, {"/v1/customers/{id}", 200}, {"/v1/customers/{id}", 404}}
	if len(seen) != len(want) {
		t.Fatalf("observed %d requests, want %d: %+v", len(seen), len(want), seen)
	}
	for i, w := range want {
		r := seen[i]
		if r.Method != http.MethodGet || r.Endpoint != w.endpoint || r.Status != w.status || r.Err != nil || r.Duration <= 0 {
			t.Errorf("request %d: %+v, want GET %s %d", i, r, w.endpoint, w.status)
		}
		if strings.Contains(r.Endpoint, "cus_") {
			t.Errorf("request %d: the endpoint %q holds an id", i, r.Endpoint)
		}
	}
	if own.count("GET /v1/") != 3 {
		t.Errorf("the caller's transport saw %d requests, want 3", own.count("GET /v1/"))
	}
}
