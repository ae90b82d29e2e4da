package portal

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
)

func TestTxnID(t *testing.T) {
	a := TxnID("@stripe_main:example.com", "evt_1")
	if a != TxnID("@stripe_main:example.com", "evt_1") {
		t.Error("transaction id is not deterministic")
	}
	if a == TxnID("@stripe_other:example.com", "evt_1") {
		t.Error("two senders share a transaction id (Dendrite scopes ids per access token, which ghosts share)")
	}
	if a == TxnID("@stripe_main:example.com", "evt_2") {
		t.Error("two events share a transaction id")
	}
}

func TestTransientClassification(t *testing.T) {
	httpErr := func(code int) error {
		return mautrix.HTTPError{Response: &http.Response{StatusCode: code}}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"server error", httpErr(502), true},
		{"rate limited", httpErr(429), true},
		{"forbidden", httpErr(403), false},
		{"network", errors.New("dial tcp: connection refused"), true},
	}
	for _, c := range cases {
		if got := errors.Is(transient(c.err), ErrTransient); got != c.want {
			t.Errorf("%s: transient=%t, want %t", c.name, got, c.want)
		}
	}
}

func TestCustomerFromEvent(t *testing.T) {
	evt := &stripe.Event{Data: &stripe.EventData{
		Raw:    []byte(`{"id":"cus_1","object":"customer","name":"A","metadata":{"matrix_user_id":"@a:b"}}`),
		Object: map[string]any{"id": "cus_1", "object": "customer"},
	}}
	cus := customerFromEvent(evt)
	if cus == nil || cus.ID != "cus_1" || cus.Metadata["matrix_user_id"] != "@a:b" {
		t.Fatalf("got %+v", cus)
	}
	evt.Data.Object["object"] = "invoice"
	if customerFromEvent(evt) != nil {
		t.Error("an invoice event was taken for a customer")
	}
}
