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

// Unknown types never reach the customer: by default they are one line in
// the feed room, with bridge.unknown_events: skip nothing at all.
func TestRenderUnknownTypes(t *testing.T) {
	evt := loadEvent(t, "payout.paid_unknown.json")
	skipped, err := Render(evt, RenderOptions{SkipUnknown: true})
	if err != nil || skipped.Customer != nil || skipped.Feed != nil || skipped.Why == "" {
		t.Errorf("SkipUnknown: got %+v, %v; want nothing and a reason", skipped, err)
	}
	// A known family's event we have no words for is unknown too, rather
	// than being described by a neighbour's template.
	evt.Type = "invoice.overdue"
	got, err := Render(evt, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Customer != nil {
		t.Errorf("unknown type in the customer room: %q", got.Customer.Content.Body)
	}
	checkContent(t, got.Feed.Content)
	if want := "❔ `invoice.overdue`: $1,234.56 · `po_1OfMx0LkdIwHu7ixPayOut00` · event `evt_1OfMx1LkdIwHu7ixPayout01`"; got.Feed.Content.Body != want {
		t.Errorf("body = %q, want %q", got.Feed.Content.Body, want)
	}
	// Known types are rendered whatever SkipUnknown says.
	got, err = Render(loadEvent(t, "charge.succeeded.json"), RenderOptions{SkipUnknown: true})
	if err != nil || got.Customer == nil {
		t.Errorf("known type with SkipUnknown: %+v, %v", got, err)
	}
}

// Customers cannot open the dashboard: no customer message links it, even
// when it is configured; feed lines do only when it is.
func TestRenderDashboardLinks(t *testing.T) {
	for _, name := range fixtureNames(t) {
		with, err := Render(loadEvent(t, name), RenderOptions{DashboardLink: testDashboard})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if with.Customer != nil && strings.Contains(with.Customer.Content.Body+with.Customer.Content.FormattedBody, "dashboard.stripe.com") {
			t.Errorf("%s: dashboard link in the customer message:\n%s", name, with.Customer.Content.Body)
		}
		without, err := Render(loadEvent(t, name), RenderOptions{NoCustomerRoom: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if without.Feed != nil {
			checkContent(t, without.Feed.Content)
			if strings.Contains(without.Feed.Content.Body, "dashboard.stripe.com") {
				t.Errorf("%s: dashboard link without DashboardLink:\n%s", name, without.Feed.Content.Body)
			}
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
		rendering, err := Render(evt, RenderOptions{DashboardLink: func(string) string { return bad }, NoCustomerRoom: false})
		if err != nil {
			t.Fatal(err)
		}
		got := rendering.Customer
		checkContent(t, got.Content)
		if strings.Contains(got.Content.Body, "Pay or view invoice") || strings.Contains(got.Content.FormattedBody, "<a ") {
			t.Errorf("%q was linked:\n%s\n%s", bad, got.Content.Body, got.Content.FormattedBody)
		}
		feed, err := Render(evt, RenderOptions{DashboardLink: func(string) string { return bad }, NoCustomerRoom: true})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(feed.Feed.Content.FormattedBody, "<a ") {
			t.Errorf("%q was linked in the feed line: %s", bad, feed.Feed.Content.FormattedBody)
		}
	}
}

func TestRenderEscapesStripeText(t *testing.T) {
	evt := editFixture(t, "charge.failed_insufficient_funds.json", func(obj map[string]any) {
		obj["description"] = "Order <b>#1</b> & \"friends\"\n\u202eevil\u202c @room"
	})
	rendering, err := Render(evt, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := rendering.Customer
	checkContent(t, got.Content)
	if !strings.Contains(got.Content.FormattedBody, "for Order &lt;b&gt;#1&lt;/b&gt; &amp; &#34;friends&#34; evil @room") {
		t.Errorf("description not escaped and cleaned: %s", got.Content.FormattedBody)
	}
	if strings.ContainsRune(got.Content.Body, '\u202e') {
		t.Error("bidi override survived")
	}

	long := strings.Repeat("x", 5000)
	evt = editFixture(t, "customer.created.json", func(obj map[string]any) { obj["name"] = long })
	rendering, err = Render(evt, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got = rendering.Customer
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
		"object is an array": {ID: "evt_1", Type: "refund.failed", Data: &stripe.EventData{Raw: json.RawMessage(`[1,2]`)}},
		"object is null":     {ID: "evt_1", Type: "customer.created", Data: &stripe.EventData{Raw: json.RawMessage(`null`)}},
		"broken JSON":        {ID: "evt_1", Type: "customer.created", Data: &stripe.EventData{Raw: json.RawMessage(`{"id":`)}},
		"wrong object kind":  invoiceAsCharge,
	}
	for name, evt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Render(evt, RenderOptions{})
			if err == nil {
				t.Fatalf("want an error, got %+v", got)
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
	rendering, err := Render(evt, RenderOptions{})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	got := rendering.Customer
	checkContent(t, got.Content)
	if got.ObjectID != "in_1QkAcaLkdIwHu7ixAcac1a00" || !strings.Contains(got.Content.Body, "Invoice A1B2C3D4-0042 paid: $20.00") {
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
			for _, noRoom := range []bool{false, true} {
				got, err := render(evt, RenderOptions{DashboardLink: testDashboard, NoCustomerRoom: noRoom})
				if err != nil && !strings.Contains(err.Error(), "expected") {
					t.Errorf("%s with an empty %s: %v", typ, kind, err)
					continue
				}
				checkRendering(t, got)
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

// Payloads decide too: a type the table posts may have nothing to say for
// one event (a $0 invoice, a failure a charge message already explains), or
// say it only to agents.
func TestRenderDecidesFromPayload(t *testing.T) {
	noCharge := editFixture(t, "payment_intent.payment_failed.json", func(obj map[string]any) {
		obj["last_payment_error"].(map[string]any)["charge"] = nil
	})
	confirm := editFixture(t, "payment_intent.requires_action.json", func(obj map[string]any) { obj["invoice"] = nil })
	freeInvoice := editFixture(t, "invoice.paid_jpy.json", func(obj map[string]any) {
		obj["amount_paid"], obj["total"], obj["amount_due"] = 0, 0, 0
	})
	freeFinalized := editFixture(t, "invoice.finalized.json", func(obj map[string]any) { obj["amount_due"] = 0 })
	noRecovery := editFixture(t, "checkout.session.expired.json", func(obj map[string]any) { obj["after_expiration"] = nil })
	pendingRefund := editFixture(t, "refund.updated.json", func(obj map[string]any) {})
	pendingRefund.Data.PreviousAttributes = map[string]any{"metadata": map[string]any{}}
	riskyCharge := editFixture(t, "charge.succeeded.json", func(obj map[string]any) {
		obj["outcome"] = map[string]any{"network_status": "approved_by_network", "risk_level": "elevated", "risk_score": 67, "type": "authorized"}
	})
	tests := map[string]struct {
		evt      *stripe.Event
		customer string // prefix of the customer message; "" for none
		feed     string // part of the feed line; "" for none
	}{
		"failure before any charge":      {noCharge, "❌ Your payment didn't go through: $35.00 with Visa •••• 0069", ""},
		"confirmation outside invoices":  {confirm, "🔐 Please confirm your payment: $20.00", ""},
		"$0 invoice paid":                {freeInvoice, "", ""},
		"$0 invoice finalized":           {freeFinalized, "", ""},
		"expired checkout, no recovery":  {noRecovery, "", "`checkout.session.expired`"},
		"refund update, same status":     {pendingRefund, "", ""},
		"risky charge":                   {riskyCharge, "💳 Your payment went through: $20.00", "Radar risk elevated (score 67)"},
		"metadata-only customer update":  {loadEvent(t, "customer.updated_metadata_only.json"), "", ""},
		"delinquency is for agents only": {loadEvent(t, "customer.updated_delinquent.json"), "", "marked delinquent"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Render(tt.evt, RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkRendering(t, got)
			switch {
			case tt.customer == "" && got.Customer != nil:
				t.Errorf("customer message %q, want none", got.Customer.Content.Body)
			case tt.customer != "" && got.Customer == nil:
				t.Errorf("no customer message, want %q", tt.customer)
			case got.Customer != nil:
				checkForCustomer(t, got.Customer.Content)
				if !strings.HasPrefix(got.Customer.Content.Body, tt.customer) {
					t.Errorf("customer message %q, want prefix %q", got.Customer.Content.Body, tt.customer)
				}
			}
			switch {
			case tt.feed == "" && got.Feed != nil:
				t.Errorf("feed line %q, want none", got.Feed.Content.Body)
			case tt.feed != "" && got.Feed == nil:
				t.Errorf("no feed line, want one saying %q", tt.feed)
			case got.Feed != nil && !strings.Contains(got.Feed.Content.Body, tt.feed):
				t.Errorf("feed line %q lacks %q", got.Feed.Content.Body, tt.feed)
			}
		})
	}
}

// checkRendering asserts what every rendering must satisfy: well-formed
// messages, customer ones written for the customer, and a reason when
// nothing is posted.
func checkRendering(tb testing.TB, got *Rendering) {
	tb.Helper()
	if got == nil {
		return
	}
	if got.Customer != nil {
		checkContent(tb, got.Customer.Content)
	}
	if got.Feed != nil {
		checkContent(tb, got.Feed.Content)
	}
	if got.Customer == nil && got.Feed == nil && got.Why == "" {
		tb.Error("posted nowhere without a reason")
	}
}
