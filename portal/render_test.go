package portal

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
)

const fixtureDir = "testdata/events"

func testDashboard(path string) string { return "https://dashboard.stripe.com/test/" + path }

// loadEvent decodes a fixture the way Deliver decodes an inbox payload.
func loadEvent(tb testing.TB, name string) *stripe.Event {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	var evt stripe.Event
	if err := json.Unmarshal(raw, &evt); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return &evt
}

func fixtureNames(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures in %s: %v", fixtureDir, err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

const (
	hostedInvoice = "https://invoice.stripe.com/i/acct_1OcQk2LkdIwHu7ix/test_YWNjdF8xT2NRazJMa2RJd0h1N2l4LF9QU0RhM2ZHaEpLTG1OcFFyU3RVdld4WXoxMjM0LDk4NzY1NDMy0200vWxYz1Ab?s=ap"
	invoicePDF    = "https://pay.stripe.com/invoice/acct_1OcQk2LkdIwHu7ix/test_YWNjdF8xT2NRazJMa2RJd0h1N2l4LF9QU0RhM2ZHaEpLTG1OcFFyU3RVdld4WXoxMjM0LDk4NzY1NDMy0200vWxYz1Ab/pdf?s=ap"
	receiptCh     = "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xT2NRazJMa2RJd0h1N2l4KL3x2K0GMgYucks00Ojo6LBZ7Zz0mYV2_wCHTo0ykwq4"
	dash          = "https://dashboard.stripe.com/test/"
)

// renderCase is what one fixture must say. customer is checked in the
// customer message's plain body and in the text of its HTML body (nil: no
// customer message); links must be real anchors there and spelled out in
// the plain body. feed is checked in the feed line (nil: no feed line
// beside the customer's message).
type renderCase struct {
	objectID string
	customer []string
	links    []string
	feed     []string
}

func renderCases() map[string]renderCase {
	return map[string]renderCase{
		"invoice.created.json": {},
		"invoice.finalized.json": {"in_1OeXk9LkdIwHu7ixV8bN3mQ2",
			[]string{"🧾 Invoice A1B2C3D4-0007: $20.00 · due 2 Mar 2024", "Pay or view invoice", "Invoice PDF"},
			[]string{hostedInvoice, invoicePDF}, nil},
		"invoice.paid_jpy.json": {"in_1OeZa1LkdIwHu7ixJpY00001",
			[]string{"✅ Invoice A1B2C3D4-0008 paid: ¥1,200 on 1 Feb 2024", "for 1 × Team (at ¥1,200 / month)", "View invoice"},
			[]string{hostedInvoice, invoicePDF}, nil},
		"invoice.paid_acacia.json": {"in_1QkAcaLkdIwHu7ixAcac1a00",
			[]string{"Invoice A1B2C3D4-0042 paid: $20.00 on 1 Feb 2024"},
			[]string{hostedInvoice}, nil},
		"invoice.payment_succeeded.json": {},
		"invoice.payment_failed.json": {"in_1Of0b2LkdIwHu7ixFa1LeD00",
			[]string{"❌ Payment for invoice", "didn't go through: $20.00 still due", "Your bank declined the payment.",
				"Please pay with another card", "We'll try again on 4 Feb 2024.", "Pay or view invoice"},
			[]string{hostedInvoice},
			[]string{"`invoice.payment_failed`", "1 attempt", "charge ch_3Of0b3LkdIwHu7ix1Dc1nEd0", "next retry 4 Feb 2024", dash + "invoices/in_1Of0b2LkdIwHu7ixFa1LeD00"}},
		"invoice.payment_action_required.json": {"in_1Of1c2LkdIwHu7ixAct10nR0",
			[]string{"Please confirm the payment for invoice", "$20.00", "Your bank asks you to confirm this payment", "Confirm payment"},
			[]string{hostedInvoice}, nil},
		"invoice.upcoming.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"📅 Your next invoice: $40.00 on 1 Mar 2024", "for 2 × Pro (at $20.00 / month)"},
			nil, nil},
		"invoice.voided.json": {"in_1Of3e1LkdIwHu7ixV01dEd00",
			[]string{"Invoice A1B2C3D4-0011 canceled", "$10.00", "nothing is owed on it"},
			[]string{hostedInvoice}, nil},
		"invoice.marked_uncollectible.json": {"in_1Of4f1LkdIwHu7ixUnc011ct", nil, nil,
			[]string{"`invoice.marked_uncollectible`", "$20.00", "invoice A1B2C3D4-0012", dash + "invoices/in_1Of4f1LkdIwHu7ixUnc011ct"}},
		"invoice.finalization_failed.json": {"in_1OeXk9LkdIwHu7ixV8bN3mQ2", nil, nil,
			[]string{"`invoice.finalization_failed`", "finalization error customer_tax_location_invalid: The customer's location is not recognized"}},

		"customer.subscription.created.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"🆕 Your subscription has started: Pro ($20.00/month) · free trial until 15 Feb 2024"},
			nil, nil},
		"customer.subscription.updated_plan_cancel.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Your subscription changed", "Plan changed from Basic ($10.00/month) to Pro ($20.00/month)",
				"it will end at the end of the period on 1 Mar 2024"},
			nil, []string{"`customer.subscription.updated`", "cancels at period end"}},
		"customer.subscription.updated_quantity.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Pro ($20.00/month) × 5", "Quantity changed from 2 to 5"},
			nil, nil},
		"customer.subscription.updated_status_uncancel.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Status changed from payment overdue to active", "it will no longer end at the end of the period",
				"renews on 1 Mar 2024"},
			nil, []string{"status past_due → active", "metadata"}},
		"customer.subscription.updated_renewal.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"🔄 Your subscription renewed", "Renewed for 1 Mar 2024 – 30 Mar 2024"},
			nil, nil},
		"customer.subscription.deleted.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"⛔ Your subscription has ended", "ended 1 Mar 2024", "It was canceled on request."},
			nil, []string{"reason cancellation_requested", "feedback too_expensive", "“Too pricey <b>for us</b> right now”"}},
		"customer.subscription.trial_will_end.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Your free trial ends soon", "trial ends 15 Feb 2024", "payment method is on file"},
			nil, nil},
		"customer.subscription.paused.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Your subscription is paused", "You won't be billed until it resumes."},
			nil, nil},
		"customer.subscription.resumed.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Your subscription has resumed", "next renewal 21 Mar 2024"},
			nil, nil},
		"customer.subscription.pending_update_applied.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"✅ Your subscription change is now in effect: Pro ($20.00/month) × 5"},
			nil, nil},
		"customer.subscription.pending_update_expired.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"⌛ Your subscription change was not applied: Pro ($20.00/month) × 5",
				"The payment it needed was not completed in time; you stay on Pro ($20.00/month) × 2."},
			nil, []string{"`customer.subscription.pending_update_expired`", dash + "subscriptions/sub_1OcQoALkdIwHu7ixQ2w3E4r5"}},

		"charge.succeeded.json": {"ch_3OeZb1LkdIwHu7ix1Sucks00",
			[]string{"💳 Your payment went through: $20.00 with Visa •••• 4242 · for Subscription update", "Receipt"},
			[]string{receiptCh}, nil},
		"charge.succeeded_kwd.json": {"ch_3OeZc1LkdIwHu7ix1Kwd000",
			[]string{"Your payment went through: 12.500 KWD with Mastercard •••• 4444"},
			nil, nil},
		"charge.failed_insufficient_funds.json": {"ch_3Of0b3LkdIwHu7ix1Dc1nEd0",
			[]string{"❌ Your payment didn't go through: $20.00 with Visa •••• 9995", "Reason: the card has insufficient funds.",
				"Please pay with another card"},
			nil, []string{"`charge.failed`", "failure code card_declined", dash + "payments/ch_3Of0b3LkdIwHu7ix1Dc1nEd0"}},
		"charge.refunded_partial.json": {"ch_3OeZb1LkdIwHu7ix1Sucks00",
			[]string{"Your payment was partly refunded: $5.00 of $20.00 to Visa •••• 4242", "5–10 business days"},
			[]string{receiptCh}, nil},
		"charge.captured.json": {"ch_3OeZe1LkdIwHu7ix1Capt00",
			[]string{"Your payment was charged: $49.00", "for Onboarding workshop"},
			nil, nil},
		"charge.refund.updated.json": {"re_3OfEp1LkdIwHu7ix1RfFail0",
			[]string{"❌ Your refund could not be completed: $20.00", "Reason: the card has expired or was canceled.",
				"The money will be refunded to you another way."},
			nil, []string{"`charge.refund.updated`", "failure reason expired_or_canceled_card", "charge ch_3OfEp1LkdIwHu7ix1FailCh0",
				dash + "payments/ch_3OfEp1LkdIwHu7ix1FailCh0"}},

		"charge.dispute.created.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00",
			[]string{"⚠️ Your bank opened a dispute about a payment: $20.00",
				"Reason given: the payment was not authorized by the cardholder."},
			nil, []string{"`charge.dispute.created`", "status needs a response", "reason fraudulent", "respond by 17 Feb 2024",
				"charge ch_3OeZb1LkdIwHu7ix1Sucks00", dash + "disputes/dp_1OfBm1LkdIwHu7ixD1spUt00"}},
		"charge.dispute.updated.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00", nil, nil,
			[]string{"`charge.dispute.updated`", "under review", "evidence submitted"}},
		"charge.dispute.closed.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00",
			[]string{"The dispute about your payment is closed: $20.00 · the bank decided the payment stands"},
			nil, []string{"status won"}},
		"charge.dispute.funds_withdrawn.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00", nil, nil,
			[]string{"`charge.dispute.funds_withdrawn`", "$20.00", "fee $15.00"}},
		"charge.dispute.funds_reinstated.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00", nil, nil,
			[]string{"`charge.dispute.funds_reinstated`", "$20.00"}},

		// The failure names its charge: charge.failed says it to the customer.
		"payment_intent.payment_failed.json": {},
		// An invoice's payment: invoice.payment_action_required says it.
		"payment_intent.requires_action.json": {},
		"payment_intent.succeeded.json":       {},
		"payment_intent.canceled.json": {"pi_3OfXi1LkdIwHu7ix0HoldPi0",
			[]string{"🚫 Payment canceled: $20.00 · no money was taken · for Onboarding workshop"},
			nil, nil},

		"refund.created.json": {},
		"refund.updated.json": {"re_3OeZb1LkdIwHu7ix1Rfnd000",
			[]string{"↩️ Your refund went through: $5.00 · requested by you"},
			nil, nil},
		"refund.updated_failed.json": {"re_3OfEp1LkdIwHu7ix1RfFail0",
			[]string{"Your refund could not be completed: $20.00"},
			nil, []string{"`refund.updated`", "status failed", "failure reason expired_or_canceled_card"}},
		"refund.failed.json": {"re_3OfEp1LkdIwHu7ix1RfFail0",
			[]string{"Your refund could not be completed: $20.00", "the card was reported lost or stolen"},
			nil, []string{"`refund.failed`", "failure reason lost_or_stolen_card"}},

		"checkout.session.completed.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"🛒 Checkout complete: $20.00 · paid", "Your subscription has started."},
			nil, nil},
		"checkout.session.completed_payment.json": {"pi_3OeZe1LkdIwHu7ix1CaptPi",
			[]string{"Checkout complete: $49.00 · paid"},
			nil, nil},
		"checkout.session.async_payment_succeeded.json": {"pi_3OfSc1LkdIwHu7ix1SepaPi0",
			[]string{"✅ Your payment went through: €49.00"},
			nil, nil},
		"checkout.session.async_payment_failed.json": {"pi_3OfSc1LkdIwHu7ix1SepaPi0",
			[]string{"❌ Your payment didn't go through: €49.00", "Please pay again with another payment method."},
			nil, []string{"`checkout.session.async_payment_failed`", "€49.00", "customer `cus_PRrPqNXdZ3aB1c`"}},
		"checkout.session.expired.json": {"cs_test_c1D2e3F4g5H6i7J8k9L0mNoPqRsTuVwXyZ0123456789abcdExp",
			[]string{"⌛ Your checkout expired before payment: $20.00", "Resume checkout"},
			[]string{"https://buy.stripe.com/r/live_Y3NfdGVzdF9jMUQyZTNGNGc1SDZpN0o4azlMMG1Ob1BxUnNUdVZ3WHla"},
			[]string{"`checkout.session.expired`", dash + "customers/cus_PRrPqNXdZ3aB1c"}},

		"customer.created.json": {"cus_PRrPqNXdZ3aB1c",
			[]string{"👋 Your billing account is set up: Ada Lovelace <ada@example.com>"},
			nil, nil},
		"customer.created_html_injection.json": {"cus_PRsEv1LN4m3H7m",
			[]string{`<script>alert("pwned")</script><img src=x onerror=alert(1)> <mallory@example.com>`},
			nil, nil},
		"customer.updated.json": {"cus_PRrPqNXdZ3aB1c",
			[]string{"Your billing details changed", "Name changed from “Ada Lovelace” to “Ada King”",
				"email changed from “ada@example.com” to “ada.king@example.com”", "account balance changed from $0.00 to $5.00 credit"},
			nil, nil},
		"customer.updated_metadata_only.json": {},
		"customer.updated_delinquent.json": {"cus_PRrPqNXdZ3aB1c", nil, nil,
			[]string{"`customer.updated`", "marked delinquent (a payment failed)", dash + "customers/cus_PRrPqNXdZ3aB1c"}},
		"customer.deleted.json": {"cus_PRsEv1LN4m3H7m",
			[]string{"Your billing account was closed: Mallory Example <mallory@example.com>", "stays as a record"},
			nil, nil},

		"payment_method.attached.json": {"pm_1OcQnxLkdIwHu7ixVisa4242",
			[]string{"Card added: Visa •••• 4242 · expires 12/2030"},
			nil, nil},
		"payment_method.detached.json": {"pm_1OfJu1LkdIwHu7ixMc444400",
			[]string{"Card removed: Mastercard •••• 4444"},
			nil, nil},
		"payment_method.automatically_updated.json": {"pm_1OcQnxLkdIwHu7ixVisa4242",
			[]string{"💳 Card updated by your bank: Visa •••• 1881 · now expires 8/2031 · was •••• 4242", "Nothing to do"},
			nil, nil},
		"customer.source.expiring.json": {"card_1NzYx2LkdIwHu7ixLegacy42",
			[]string{"Your card expires soon: Visa •••• 4242 · expires 2/2024", "Please update the card"},
			nil, nil},
		"customer.discount.created.json": {"di_1OfLw1LkdIwHu7ixSpr1ng24",
			[]string{"Discount applied: 20% off for 3 months · coupon “Spring sale” · until 18 Apr 2024 · on your subscription"},
			nil, nil},

		"customer.discount.deleted.json": {"di_1OfLw1LkdIwHu7ixSpr1ng24",
			[]string{"🏷️ Discount removed: 20% off for 3 months · coupon “Spring sale” · on your subscription"},
			nil, nil},

		"payout.paid_unknown.json": {"po_1OfMx0LkdIwHu7ixPayOut00", nil, nil,
			[]string{"❔ `payout.paid`", "`po_1OfMx0LkdIwHu7ixPayOut00`", "event `evt_1OfMx1LkdIwHu7ixPayout01`", dash + "payouts/po_1OfMx0LkdIwHu7ixPayOut00"}},
	}
}

// checkHas asserts that both bodies of a message say each of want.
func checkHas(t *testing.T, what string, got *Rendered, want []string) {
	t.Helper()
	body, text := got.Content.Body, htmlText(got.Content.FormattedBody)
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s plain body lacks %q:\n%s", what, w, body)
		}
		if !strings.Contains(text, w) {
			t.Errorf("%s HTML body lacks %q:\n%s", what, w, got.Content.FormattedBody)
		}
	}
}

func TestRenderFixtures(t *testing.T) {
	cases := renderCases()
	for _, name := range fixtureNames(t) {
		if _, ok := cases[name]; !ok {
			t.Errorf("fixture %s has no expectations in renderCases", name)
		}
	}
	for name, tc := range cases {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			got, err := Render(loadEvent(t, name), RenderOptions{DashboardLink: testDashboard})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			switch {
			case tc.customer == nil && got.Customer != nil:
				t.Errorf("customer message %q, want none", got.Customer.Content.Body)
			case tc.customer != nil && got.Customer == nil:
				t.Fatalf("no customer message, want one saying %q", tc.customer)
			case got.Customer != nil:
				checkContent(t, got.Customer.Content)
				checkForCustomer(t, got.Customer.Content)
				if got.Customer.ObjectID != tc.objectID {
					t.Errorf("customer ObjectID = %q, want %q", got.Customer.ObjectID, tc.objectID)
				}
				checkHas(t, "customer", got.Customer, tc.customer)
				for _, link := range tc.links {
					if !strings.Contains(got.Customer.Content.Body, link) {
						t.Errorf("plain body lacks link %s:\n%s", link, got.Customer.Content.Body)
					}
					if !strings.Contains(got.Customer.Content.FormattedBody, `<a href="`+html.EscapeString(link)+`">`) {
						t.Errorf("HTML body lacks an anchor to %s:\n%s", link, got.Customer.Content.FormattedBody)
					}
				}
			}
			switch {
			case tc.feed == nil && got.Feed != nil:
				t.Errorf("feed line %q, want none", got.Feed.Content.Body)
			case tc.feed != nil && got.Feed == nil:
				t.Fatalf("no feed line, want one saying %q", tc.feed)
			case got.Feed != nil:
				checkContent(t, got.Feed.Content)
				checkHas(t, "feed", got.Feed, tc.feed)
				if got.Customer == nil && got.Feed.ObjectID != tc.objectID {
					t.Errorf("feed ObjectID = %q, want %q", got.Feed.ObjectID, tc.objectID)
				}
			}
			if got.Customer == nil && got.Feed == nil && got.Why == "" {
				t.Error("an event posted nowhere must say why")
			}
		})
	}
}

// stripeIDPattern matches the ids Stripe gives objects and events.
var stripeIDPattern = regexp.MustCompile(`\b(evt|ch|py|in|il|ii|sub|si|pi|pm|re|pyr|dp|du|cus|card|src|ba|po|di|cs|txn|price|plan|prod|seti|acct|req)_[A-Za-z0-9]{6,}`)

// checkForCustomer asserts what the issue asks of every customer message:
// no event type names, no Stripe ids, no dashboard links, no internal flags.
func checkForCustomer(tb testing.TB, c *event.MessageEventContent) {
	tb.Helper()
	// Links are the customer's own (invoice, receipt); their paths hold
	// opaque tokens, not ids shown as text.
	links := regexp.MustCompile(`https?://[^\s"<>]+`)
	for _, text := range []string{c.Body, c.FormattedBody} {
		text = links.ReplaceAllString(text, "URL")
		lower := strings.ToLower(text)
		for typ := range eventTypes() {
			if strings.Contains(text, string(typ)) {
				tb.Errorf("customer message names the event type %s: %s", typ, text)
			}
		}
		if id := stripeIDPattern.FindString(text); id != "" {
			tb.Errorf("customer message shows the Stripe id %s: %s", id, text)
		}
		for _, internal := range []string{"dashboard", "delinquent", "uncollectible", "radar", "risk", "metadata", "stripe event", "<code>"} {
			if strings.Contains(lower, internal) {
				tb.Errorf("customer message says %q: %s", internal, text)
			}
		}
	}
}

// TestEventTable iterates the one table: every type that posts anything has
// a realistic fixture; the types are in it; each type's fixture
// renders to the audiences the table names.
func TestEventTable(t *testing.T) {
	fixtures := map[stripe.EventType][]string{}
	versions := map[string]bool{}
	for _, name := range fixtureNames(t) {
		evt := loadEvent(t, name)
		fixtures[evt.Type] = append(fixtures[evt.Type], name)
		versions[evt.APIVersion] = true
	}
	table := eventTypes()
	for typ, spec := range table {
		t.Run(string(typ), func(t *testing.T) {
			if spec.customer == nil && spec.agent == nil {
				// Posted nowhere: a payload of the type renders to nothing,
				// with or without a customer room.
				for _, noRoom := range []bool{false, true} {
					evt := &stripe.Event{ID: "evt_x", Type: typ, Data: &stripe.EventData{Raw: []byte(`{"id":"x_1"}`)}}
					got, err := Render(evt, RenderOptions{NoCustomerRoom: noRoom})
					if err != nil || got.Customer != nil || got.Feed != nil || got.Why == "" {
						t.Errorf("NoCustomerRoom=%t: %+v, %v; want nothing and a reason", noRoom, got, err)
					}
				}
				return
			}
			if len(fixtures[typ]) == 0 {
				t.Fatalf("no fixture for %s", typ)
			}
			for _, name := range fixtures[typ] {
				got, err := Render(loadEvent(t, name), RenderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if spec.customer == nil && got.Customer != nil {
					t.Errorf("%s: customer message for a type the table keeps out of customer rooms", name)
				}
				if spec.agent == nil && got.Feed != nil {
					t.Errorf("%s: feed line beside the customer message for a type without agent facts", name)
				}
			}
		})
	}
	for _, typ := range []stripe.EventType{
		"invoice.finalization_failed", "payment_method.automatically_updated", "charge.refund.updated", "refund.updated",
		"checkout.session.async_payment_failed", "checkout.session.expired",
		"customer.subscription.pending_update_applied", "customer.subscription.pending_update_expired",
		"payment_intent.created", "invoice.payment_succeeded", "billing_portal.session.created",
	} {
		if _, ok := table[typ]; !ok {
			t.Errorf("%s is not in the table", typ)
		}
	}
	for typ, names := range fixtures {
		if _, ok := table[typ]; !ok && typ != "payout.paid" {
			t.Errorf("fixtures %v: type %s is not in the table", names, typ)
		}
	}
	if !versions["2023-10-16"] || !versions["2025-01-27.acacia"] {
		t.Errorf("fixtures should cover the pinned and a newer API version, have %v", versions)
	}
}

// TestFeedWithoutCustomerRoom: an event whose customer is unknown (a guest
// payment) still reaches agents, whatever its type, as its feed line.
func TestFeedWithoutCustomerRoom(t *testing.T) {
	for _, name := range fixtureNames(t) {
		evt := loadEvent(t, name)
		spec, known := lookupType(evt.Type)
		got, err := Render(evt, RenderOptions{DashboardLink: testDashboard, NoCustomerRoom: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Customer != nil {
			t.Errorf("%s: a customer message without a customer room", name)
		}
		if known && spec.customer == nil && spec.agent == nil {
			continue
		}
		if got.Feed == nil {
			t.Errorf("%s: no feed line for an event without a customer room", name)
			continue
		}
		checkContent(t, got.Feed.Content)
		if !strings.Contains(got.Feed.Content.Body, "`"+string(evt.Type)+"`") || !strings.Contains(got.Feed.Content.Body, evt.ID) {
			t.Errorf("%s: feed line does not name the type and the event: %s", name, got.Feed.Content.Body)
		}
	}
}

// htmlText turns a FormattedBody back into the plain body it should match:
// anchors become "label: url", <br> a line break, <code> backticks, and
// entities are decoded.
func htmlText(formatted string) string {
	anchor := regexp.MustCompile(`<a href="([^"]*)">([^<]*)</a>`)
	s := anchor.ReplaceAllString(formatted, "$2: $1")
	s = strings.NewReplacer("<br>", "\n", "<code>", "`", "</code>", "`", "<strong>", "", "</strong>", "").Replace(s)
	return html.UnescapeString(s)
}

// checkContent asserts what every rendered message must satisfy.
func checkContent(tb testing.TB, c *event.MessageEventContent) {
	tb.Helper()
	if c == nil {
		tb.Fatal("nil content")
	}
	if c.MsgType != event.MsgNotice || c.Format != event.FormatHTML {
		tb.Errorf("msgtype %q format %q, want m.notice and HTML", c.MsgType, c.Format)
	}
	if strings.TrimSpace(c.Body) == "" || strings.TrimSpace(c.FormattedBody) == "" {
		tb.Errorf("empty body: %q / %q", c.Body, c.FormattedBody)
	}
	if c.Mentions == nil || c.Mentions.Room || len(c.Mentions.UserIDs) > 0 {
		tb.Errorf("a billing notice must mention nobody, got %+v", c.Mentions)
	}
	if lines := strings.Count(c.Body, "\n") + 1; lines > 3 {
		tb.Errorf("%d lines, want at most 3:\n%s", lines, c.Body)
	}
	if strings.Contains(strings.ToLower(c.FormattedBody), "<script") {
		tb.Errorf("unescaped <script in HTML: %s", c.FormattedBody)
	}
	// Nothing but our own tags may remain once they are removed: every
	// other "<" must have been escaped.
	tags := regexp.MustCompile(`<a href="https?://[^"<>]*">|</a>|<br>|</?strong>|</?code>`)
	if rest := tags.ReplaceAllString(c.FormattedBody, ""); strings.ContainsAny(rest, "<>\"") {
		tb.Errorf("HTML has markup or quotes we did not write: %s", c.FormattedBody)
	}
	if got := htmlText(c.FormattedBody); got != c.Body {
		tb.Errorf("plain and HTML bodies differ:\nplain: %q\nhtml:  %q", c.Body, got)
	}
}
