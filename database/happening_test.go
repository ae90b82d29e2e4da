package database

import "testing"

// Every event Stripe emits for one happening names the same key, and
// events that are happenings of their own name none or another.
func TestHappeningKey(t *testing.T) {
	cases := []struct {
		name, typ, object, previous, want string
	}{
		{"invoice", "invoice.paid", `{"id":"in_1","object":"invoice"}`, ``, "in_1"},
		{"upcoming invoice has no id", "invoice.upcoming", `{"object":"invoice","subscription":"sub_1"}`, ``, ""},
		{"charge of an invoice", "charge.succeeded", `{"id":"ch_1","object":"charge","invoice":"in_1","payment_intent":"pi_1"}`, ``, "in_1"},
		{"charge without invoice", "charge.succeeded", `{"id":"ch_1","object":"charge","invoice":null,"payment_intent":"pi_1"}`, ``, "pi_1"},
		{"bare charge", "charge.failed", `{"id":"ch_1","object":"charge"}`, ``, "ch_1"},
		{"expanded invoice", "payment_intent.succeeded", `{"id":"pi_1","object":"payment_intent","invoice":{"id":"in_1","object":"invoice"}}`, ``, "in_1"},
		{"payment intent alone", "payment_intent.created", `{"id":"pi_1","object":"payment_intent","invoice":null}`, ``, "pi_1"},
		{"refunded charge", "charge.refunded", `{"id":"ch_1","object":"charge","invoice":"in_1"}`, ``, "refund:ch_1"},
		{"refund", "refund.created", `{"id":"re_1","object":"refund","charge":"ch_1"}`, ``, "refund:ch_1"},
		{"dispute", "charge.dispute.created", `{"id":"dp_1","object":"dispute","charge":"ch_1"}`, ``, "dp_1"},
		{"checkout of a subscription", "checkout.session.completed", `{"id":"cs_1","object":"checkout.session","invoice":"in_1","subscription":"sub_1"}`, ``, "in_1"},
		{"checkout of a payment", "checkout.session.completed", `{"id":"cs_1","object":"checkout.session","invoice":null,"payment_intent":"pi_1"}`, ``, "pi_1"},
		{"subscription created", "customer.subscription.created", `{"id":"sub_1","object":"subscription","latest_invoice":"in_1"}`, ``, "in_1"},
		{"subscription renewed", "customer.subscription.updated", `{"id":"sub_1","object":"subscription","latest_invoice":"in_2"}`, `{"latest_invoice":"in_1","current_period_end":1}`, "in_2"},
		{"subscription paid", "customer.subscription.updated", `{"id":"sub_1","object":"subscription","latest_invoice":"in_1"}`, `{"status":"incomplete"}`, "in_1"},
		{"subscription set to cancel", "customer.subscription.updated", `{"id":"sub_1","object":"subscription","latest_invoice":"in_1"}`, `{"cancel_at_period_end":false}`, "sub_1"},
		{"subscription ended", "customer.subscription.deleted", `{"id":"sub_1","object":"subscription","latest_invoice":"in_1"}`, ``, "sub_1"},
		{"customer", "customer.updated", `{"id":"cus_1","object":"customer"}`, `{"name":"A"}`, ""},
		{"payment method", "payment_method.attached", `{"id":"pm_1","object":"payment_method","customer":"cus_1"}`, ``, ""},
	}
	for _, c := range cases {
		prev := ""
		if c.previous != "" {
			prev = `,"previous_attributes":` + c.previous
		}
		payload := `{"id":"evt_1","type":"` + c.typ + `","data":{"object":` + c.object + prev + `}}`
		if got := HappeningKey(c.typ, []byte(payload)); got != c.want {
			t.Errorf("%s: key %q, want %q", c.name, got, c.want)
		}
	}
	if got := HappeningKey("invoice.paid", []byte("not json")); got != "" {
		t.Errorf("undecodable payload: key %q, want none", got)
	}
}
