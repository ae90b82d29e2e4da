package portal

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"
)

// editFixture loads a fixture, lets the test change its data.object as
// plain JSON, and decodes it again like Deliver would.
func editFixture(t *testing.T, name string, edit func(obj map[string]any)) *stripe.Event {
	t.Helper()
	evt := loadEvent(t, name)
	var obj map[string]any
	if err := json.Unmarshal(evt.Data.Raw, &obj); err != nil {
		t.Fatal(err)
	}
	edit(obj)
	raw, err := json.Marshal(map[string]any{
		"id": evt.ID, "object": "event", "type": evt.Type, "api_version": evt.APIVersion, "created": evt.Created,
		"data": map[string]any{"object": obj, "previous_attributes": evt.Data.PreviousAttributes},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out stripe.Event
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestRenderUnknownTypes(t *testing.T) {
	evt := loadEvent(t, "payout.paid_unknown.json")
	skipped, err := Render(evt, RenderOptions{SkipUnknown: true})
	if err != nil || skipped != nil {
		t.Errorf("SkipUnknown: got %+v, %v; want nil, nil", skipped, err)
	}
	// A known family's event we have no words for is unknown too, rather
	// than being described by a neighbour's template.
	evt.Type = "invoice.overdue"
	got, err := Render(evt, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, got.Content)
	if want := "Stripe event `invoice.overdue` (evt_1OfMx1LkdIwHu7ixPayout01)"; got.Content.Body != want {
		t.Errorf("body = %q, want %q", got.Content.Body, want)
	}
	// Known types are rendered whatever SkipUnknown says.
	got, err = Render(loadEvent(t, "charge.succeeded.json"), RenderOptions{SkipUnknown: true})
	if err != nil || got == nil {
		t.Errorf("known type with SkipUnknown: %+v, %v", got, err)
	}
}

func TestRenderWithoutDashboard(t *testing.T) {
	for _, name := range fixtureNames(t) {
		got, err := Render(loadEvent(t, name), RenderOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkContent(t, got.Content)
		if strings.Contains(got.Content.Body, "dashboard.stripe.com") {
			t.Errorf("%s: dashboard link without DashboardLink:\n%s", name, got.Content.Body)
		}
	}
}

// Stripe text is never trusted as a link target: only absolute http(s)
// URLs become anchors, anything else disappears from both bodies.
func TestRenderUnsafeURLs(t *testing.T) {
	for _, bad := range []string{
		"javascript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		`https://evil.example/" onmouseover="alert(1)`,
		"https://user:pass@invoice.stripe.com/i/x",
		"//invoice.stripe.com/i/x",
		"https://invoice.stripe.com/i/\nx",
	} {
		evt := editFixture(t, "invoice.finalized.json", func(obj map[string]any) {
			obj["hosted_invoice_url"] = bad
			obj["invoice_pdf"] = bad
		})
		got, err := Render(evt, RenderOptions{DashboardLink: func(string) string { return bad }})
		if err != nil {
			t.Fatal(err)
		}
		checkContent(t, got.Content)
		if strings.Contains(got.Content.Body, "Pay or view invoice") || strings.Contains(got.Content.FormattedBody, "<a ") {
			t.Errorf("%q was linked:\n%s\n%s", bad, got.Content.Body, got.Content.FormattedBody)
		}
	}
}

func TestRenderEscapesStripeText(t *testing.T) {
	evt := editFixture(t, "charge.failed_insufficient_funds.json", func(obj map[string]any) {
		obj["description"] = "Order <b>#1</b> & \"friends\"\n\u202eevil\u202c @room"
	})
	got, err := Render(evt, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkContent(t, got.Content)
	if !strings.Contains(got.Content.FormattedBody, "for Order &lt;b&gt;#1&lt;/b&gt; &amp; &#34;friends&#34; evil @room") {
		t.Errorf("description not escaped and cleaned: %s", got.Content.FormattedBody)
	}
	if strings.ContainsRune(got.Content.Body, '\u202e') {
		t.Error("bidi override survived")
	}

	long := strings.Repeat("x", 5000)
	evt = editFixture(t, "customer.created.json", func(obj map[string]any) { obj["name"] = long })
	got, err = Render(evt, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Content.Body) > 1000 {
		t.Errorf("a 5000-character name made a %d-byte body", len(got.Content.Body))
	}
}

func TestRenderUndecodable(t *testing.T) {
	invoiceAsCharge := loadEvent(t, "charge.succeeded.json")
	invoiceAsCharge.Type = "invoice.paid"
	tests := map[string]*stripe.Event{
		"nil event":          nil,
		"no data":            {ID: "evt_1", Type: "invoice.paid"},
		"empty object":       {ID: "evt_1", Type: "invoice.paid", Data: &stripe.EventData{}},
		"object is a string": {ID: "evt_1", Type: "charge.succeeded", Data: &stripe.EventData{Raw: json.RawMessage(`"ch_1"`)}},
		"object is an array": {ID: "evt_1", Type: "refund.created", Data: &stripe.EventData{Raw: json.RawMessage(`[1,2]`)}},
		"object is null":     {ID: "evt_1", Type: "customer.created", Data: &stripe.EventData{Raw: json.RawMessage(`null`)}},
		"broken JSON":        {ID: "evt_1", Type: "customer.created", Data: &stripe.EventData{Raw: json.RawMessage(`{"id":`)}},
		"wrong object kind":  invoiceAsCharge,
	}
	for name, evt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Render(evt, RenderOptions{})
			if err == nil {
				t.Fatalf("want an error, got %+v", got.Content)
			}
			if !errors.Is(err, errUndecodable) {
				t.Errorf("error %v does not wrap errUndecodable", err)
			}
		})
	}
}

// A field whose shape changed in a newer API version (here: the customer
// and the line items are not what v76 expects) costs that field, not the
// message.
func TestRenderLenientDecoding(t *testing.T) {
	evt := editFixture(t, "invoice.paid_acacia.json", func(obj map[string]any) {
		obj["customer"] = map[string]any{"id": 42}
		obj["lines"] = "moved to /v1/invoices/in_1/line_items"
		obj["status_transitions"] = []any{"paid"}
	})
	strict := json.Unmarshal(evt.Data.Raw, new(stripe.Invoice))
	if strict == nil {
		t.Fatal("the edited invoice should not decode strictly; the test would prove nothing")
	}
	got, err := Render(evt, RenderOptions{})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	checkContent(t, got.Content)
	if got.ObjectID != "in_1QkAcaLkdIwHu7ixAcac1a00" || !strings.Contains(got.Content.Body, "Invoice paid: A1B2C3D4-0042 · $20.00") {
		t.Errorf("lenient decode lost the invoice: %s %q", got.ObjectID, got.Content.Body)
	}
}

func TestRenderEmptyObjects(t *testing.T) {
	// Every renderer copes with an object that has nothing but its kind.
	kinds := map[string]string{
		"invoice": "invoice.", "subscription": "customer.subscription.", "charge": "charge.",
		"dispute": "charge.dispute.", "payment_intent": "payment_intent.", "refund": "refund.",
		"checkout.session": "checkout.session.", "customer": "customer.", "payment_method": "payment_method.",
		"card": "customer.source.", "discount": "customer.discount.",
	}
	for _, name := range fixtureNames(t) {
		typ := loadEvent(t, name).Type
		for kind, prefix := range kinds {
			if !strings.HasPrefix(string(typ), prefix) {
				continue
			}
			evt := &stripe.Event{ID: "evt_x", Type: typ, Data: &stripe.EventData{
				Raw:                json.RawMessage(`{"object":"` + kind + `"}`),
				PreviousAttributes: map[string]any{"items": nil, "status": 7, "plan": "x", "name": nil, "balance": "x"},
			}}
			got, err := render(evt, RenderOptions{DashboardLink: testDashboard})
			if err != nil && !strings.Contains(err.Error(), "expected") {
				t.Errorf("%s with an empty %s: %v", typ, kind, err)
				continue
			}
			if got != nil {
				checkContent(t, got.Content)
			}
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := map[string]string{
		"":                       "",
		"  Ada \n\t Lovelace  ":  "Ada Lovelace",
		"a\u202eb\u2066c":        "abc",
		"bad \xff utf8":          "bad \uFFFD utf8",
		"tab\tand\rreturn\x00":   "tab and return",
		"emoji 👩‍💻 stays intact": "emoji 👩‍💻 stays intact",
	}
	for in, want := range tests {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := clean(strings.Repeat("é", 500)); len([]rune(got)) != maxTextRunes+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("clip: %d runes", len([]rune(got)))
	}
}

// Two types beyond the list reuse their family's decoding; they
// have no fixture of their own, so check them from a neighbour's payload.
func TestRenderExtraTypes(t *testing.T) {
	canceled := editFixture(t, "payment_intent.requires_action.json", func(obj map[string]any) {
		obj["status"], obj["cancellation_reason"] = "canceled", "abandoned"
	})
	canceled.Type = "payment_intent.canceled"
	removed := loadEvent(t, "customer.discount.created.json")
	removed.Type = "customer.discount.deleted"
	for evt, want := range map[*stripe.Event]string{
		canceled: "🚫 Payment canceled: $20.00 · abandoned",
		removed:  "🏷️ Discount removed: 20% off for 3 months · coupon “Spring sale”",
	} {
		got, err := Render(evt, RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkContent(t, got.Content)
		if !strings.HasPrefix(got.Content.Body, want) {
			t.Errorf("%s: body %q, want prefix %q", evt.Type, got.Content.Body, want)
		}
	}
}
