package stripefake

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

func TestAuthentication(t *testing.T) {
	f := newFake(t, Options{})
	t.Run("wrong key is Stripe's 401", func(t *testing.T) {
		_, err := NewClient(f.url, "sk_test_wrong_key_9999").Customers.Get("cus_x", nil)
		se := stripeErr(t, err)
		if se.HTTPStatusCode != 401 || se.Type != stripe.ErrorTypeInvalidRequest {
			t.Fatalf("got %d %s", se.HTTPStatusCode, se.Type)
		}
		if !strings.Contains(se.Msg, "Invalid API Key provided: sk_test_****9999") {
			t.Fatalf("message %q should redact the key", se.Msg)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		resp, err := http.Get(f.url + "/v1/customers")
		mustNoErr(t, err)
		defer resp.Body.Close()
		var body struct{ Error Error }
		mustNoErr(t, json.NewDecoder(resp.Body).Decode(&body))
		if resp.StatusCode != 401 || !strings.HasPrefix(body.Error.Message, "You did not provide an API key") {
			t.Fatalf("got %d %q", resp.StatusCode, body.Error.Message)
		}
		if !strings.HasPrefix(resp.Header.Get("Request-Id"), "req_") {
			t.Fatalf("no Request-Id on a 401: %q", resp.Header.Get("Request-Id"))
		}
	})
	t.Run("basic auth as curl -u sends it", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.url+"/v1/account", nil)
		req.SetBasicAuth("sk_test_123", "")
		resp, err := http.DefaultClient.Do(req)
		mustNoErr(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("no configured keys accepts any secret key", func(t *testing.T) {
		open := newFake(t, Options{APIKeys: []string{}})
		if _, err := NewClient(open.url, "sk_test_anything").Accounts.Get(); err != nil {
			t.Fatal(err)
		}
		_, err := NewClient(open.url, "pk_test_publishable").Accounts.Get()
		wantCode(t, err, 401, "")
	})
}

func TestAccount(t *testing.T) {
	f := newFake(t, Options{Account: Account{ID: "acct_123", Name: "Shop", Country: "DE", DefaultCurrency: "eur"}})
	a, err := f.sc.Accounts.Get()
	mustNoErr(t, err)
	if a.ID != "acct_123" || a.Settings.Dashboard.DisplayName != "Shop" || a.BusinessProfile.Name != "Shop" ||
		a.Country != "DE" || a.DefaultCurrency != "eur" || !a.ChargesEnabled {
		t.Fatalf("account = %+v", a)
	}
}

func TestUnknownRoute(t *testing.T) {
	f := newFake(t, Options{})
	req, _ := http.NewRequest("POST", f.url+"/v1/nonsense/x", nil)
	req.Header.Set("Authorization", "Bearer sk_test_123")
	resp, err := http.DefaultClient.Do(req)
	mustNoErr(t, err)
	defer resp.Body.Close()
	var body struct{ Error Error }
	mustNoErr(t, json.NewDecoder(resp.Body).Decode(&body))
	if resp.StatusCode != 404 || !strings.Contains(body.Error.Message, "Unrecognized request URL (POST: /v1/nonsense/x)") {
		t.Fatalf("got %d %q", resp.StatusCode, body.Error.Message)
	}
	if resp.Header.Get("Request-Id") == "" || resp.Header.Get("Stripe-Version") != APIVersion {
		t.Fatalf("headers = %v", resp.Header)
	}
}

func TestPanicBecomesAPIError(t *testing.T) {
	f := newFake(t, Options{})
	f.router = newRouter([]route{{"GET", "/v1/boom", func(*state, *call) (any, *Error) { panic("boom") }}}, accountRoutes())
	req, _ := http.NewRequest("GET", f.url+"/v1/boom", nil)
	req.Header.Set("Authorization", "Bearer sk_test_123")
	resp, err := http.DefaultClient.Do(req)
	mustNoErr(t, err)
	resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	// The lock was released: the server still answers.
	if _, err := f.sc.Accounts.Get(); err != nil {
		t.Fatalf("server stuck after a panic: %v", err)
	}
}

func TestStartAndClose(t *testing.T) {
	s := New(Options{})
	mustNoErr(t, s.Start("127.0.0.1:0"))
	if _, err := s.Client().Accounts.Get(); err != nil {
		t.Fatalf("client against Start()ed server: %v", err)
	}
	mustNoErr(t, s.Close())
	if _, err := s.Client().Accounts.Get(); err == nil {
		t.Fatal("server still answering after Close")
	}
}

func TestNotFoundIsStripeError(t *testing.T) {
	f := newFake(t, Options{})
	_, err := f.sc.Customers.Get("cus_missing", nil)
	se := wantCode(t, err, 404, stripe.ErrorCodeResourceMissing)
	if se.Msg != "No such customer: 'cus_missing'" || se.Param != "id" || se.Type != stripe.ErrorTypeInvalidRequest {
		t.Fatalf("error = %+v", se)
	}
	var ire *stripe.InvalidRequestError
	if !errors.As(err, &ire) {
		t.Fatalf("stripe-go did not type the error: %T", se.Err)
	}
	for name, call := range map[string]func() error{
		"invoice":      func() error { _, err := f.sc.Invoices.Get("in_x", nil); return err },
		"subscription": func() error { _, err := f.sc.Subscriptions.Get("sub_x", nil); return err },
		"charge":       func() error { _, err := f.sc.Charges.Get("ch_x", nil); return err },
		"refund":       func() error { _, err := f.sc.Refunds.Get("re_x", nil); return err },
		"dispute":      func() error { _, err := f.sc.Disputes.Get("dp_x", nil); return err },
		"price":        func() error { _, err := f.sc.Prices.Get("price_x", nil); return err },
		"event":        func() error { _, err := f.sc.Events.Get("evt_x", nil); return err },
	} {
		t.Run(name, func(t *testing.T) {
			se := wantCode(t, call(), 404, stripe.ErrorCodeResourceMissing)
			if !strings.HasPrefix(se.Msg, "No such "+name) {
				t.Fatalf("message %q", se.Msg)
			}
		})
	}
}
