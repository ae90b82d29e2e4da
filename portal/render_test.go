package portal

import (
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"sort"
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

type renderCase struct {
	objectID string
	want     []string
	links    []string
}

// renderCases is what each fixture must say. want is checked in the plain
// body and in the text of the HTML body; links must be real anchors in the
// HTML and spelled out in the plain body.
func renderCases() map[string]renderCase {
	return map[string]renderCase{
		"invoice.created.json": {"in_1OeXk9LkdIwHu7ixV8bN3mQ2",
			[]string{"Invoice created", "$20.00", "draft", "for 1 × Pro (at $20.00 / month)"},
			[]string{dash + "invoices/in_1OeXk9LkdIwHu7ixV8bN3mQ2"}},
		"invoice.finalized.json": {"in_1OeXk9LkdIwHu7ixV8bN3mQ2",
			[]string{"Invoice finalized", "A1B2C3D4-0007", "$20.00", "due 2 Mar 2024", "Pay or view invoice", "Invoice PDF"},
			[]string{hostedInvoice, invoicePDF}},
		"invoice.paid_jpy.json": {"in_1OeZa1LkdIwHu7ixJpY00001",
			[]string{"Invoice paid", "A1B2C3D4-0008", "¥1,200 on 1 Feb 2024", "for 1 × Team (at ¥1,200 / month)", "View invoice"},
			[]string{hostedInvoice, invoicePDF, dash + "invoices/in_1OeZa1LkdIwHu7ixJpY00001"}},
		"invoice.paid_acacia.json": {"in_1QkAcaLkdIwHu7ixAcac1a00",
			[]string{"Invoice paid", "A1B2C3D4-0042", "$20.00 on 1 Feb 2024"},
			[]string{hostedInvoice}},
		"invoice.payment_failed.json": {"in_1Of0b2LkdIwHu7ixFa1LeD00",
			[]string{"Invoice payment failed", "$20.00 unpaid after 1 attempt", "Reason: the payment was declined",
				"ch_3Of0b3LkdIwHu7ix1Dc1nEd0", "Pay with another card", "Stripe retries on 4 Feb 2024", "Pay or view invoice"},
			[]string{hostedInvoice}},
		"invoice.payment_action_required.json": {"in_1Of1c2LkdIwHu7ixAct10nR0",
			[]string{"needs confirmation", "$20.00", "The bank asks the customer to confirm this payment", "Confirm payment"},
			[]string{hostedInvoice}},
		"invoice.upcoming.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Upcoming invoice", "$40.00 on 1 Mar 2024", "for 2 × Pro (at $20.00 / month)"},
			[]string{dash + "subscriptions/sub_1OcQoALkdIwHu7ixQ2w3E4r5"}},
		"invoice.voided.json": {"in_1Of3e1LkdIwHu7ixV01dEd00",
			[]string{"Invoice voided", "A1B2C3D4-0011", "$10.00", "nothing is owed on it"},
			[]string{hostedInvoice}},
		"invoice.marked_uncollectible.json": {"in_1Of4f1LkdIwHu7ixUnc011ct",
			[]string{"Invoice marked uncollectible", "A1B2C3D4-0012", "$20.00 unpaid"},
			[]string{hostedInvoice}},

		"customer.subscription.created.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Subscription started", "Pro ($20.00/month)", "trialing until 15 Feb 2024"},
			[]string{dash + "subscriptions/sub_1OcQoALkdIwHu7ixQ2w3E4r5"}},
		"customer.subscription.updated_plan_cancel.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Subscription updated", "Plan changed from Basic ($10.00/month) to Pro ($20.00/month)",
				"set to cancel at the end of the period on 1 Mar 2024"},
			nil},
		"customer.subscription.updated_quantity.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Pro ($20.00/month) × 5", "Quantity changed from 2 to 5"},
			nil},
		"customer.subscription.updated_status_uncancel.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Status changed from past due to active", "cancellation at period end withdrawn",
				"renews on 1 Mar 2024", "also changed: metadata"},
			nil},
		"customer.subscription.updated_renewal.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Renewed for 1 Mar 2024 – 30 Mar 2024"},
			nil},
		"customer.subscription.deleted.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Subscription canceled", "ended 1 Mar 2024", "Canceled on request", "too expensive",
				"“Too pricey <b>for us</b> right now”"},
			nil},
		"customer.subscription.trial_will_end.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Trial ending soon", "trial ends 15 Feb 2024", "payment method is on file"},
			nil},
		"customer.subscription.paused.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Subscription paused", "No invoices are created until it is resumed"},
			nil},
		"customer.subscription.resumed.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Subscription resumed", "active", "next renewal 21 Mar 2024"},
			nil},

		"charge.succeeded.json": {"ch_3OeZb1LkdIwHu7ix1Sucks00",
			[]string{"Payment received", "$20.00", "Visa •••• 4242", "for Subscription update", "Receipt"},
			[]string{receiptCh, dash + "payments/ch_3OeZb1LkdIwHu7ix1Sucks00"}},
		"charge.succeeded_kwd.json": {"ch_3OeZc1LkdIwHu7ix1Kwd000",
			[]string{"Payment received", "12.500 KWD", "Mastercard •••• 4444"},
			nil},
		"charge.failed_insufficient_funds.json": {"ch_3Of0b3LkdIwHu7ix1Dc1nEd0",
			[]string{"Payment failed", "$20.00", "Visa •••• 9995", "Reason: the card has insufficient funds.",
				"Pay with another card"},
			[]string{dash + "payments/ch_3Of0b3LkdIwHu7ix1Dc1nEd0"}},
		"charge.refunded_partial.json": {"ch_3OeZb1LkdIwHu7ix1Sucks00",
			[]string{"Payment partly refunded", "$5.00 of $20.00"},
			[]string{receiptCh}},
		"charge.captured.json": {"ch_3OeZe1LkdIwHu7ix1Capt00",
			[]string{"Payment captured", "$49.00", "for Onboarding workshop"},
			nil},

		"charge.dispute.created.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00",
			[]string{"Payment disputed", "$20.00", "needs a response", "ch_3OeZb1LkdIwHu7ix1Sucks00",
				"Reason: the cardholder says they did not authorize the payment.", "Respond by 17 Feb 2024",
				"Respond in the dashboard"},
			[]string{dash + "disputes/dp_1OfBm1LkdIwHu7ixD1spUt00"}},
		"charge.dispute.updated.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00",
			[]string{"Dispute updated", "under review", "evidence submitted"},
			nil},
		"charge.dispute.closed.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00",
			[]string{"Dispute won", "$20.00", "the money stays with you"},
			nil},
		"charge.dispute.funds_withdrawn.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00",
			[]string{"Dispute funds withdrawn", "$20.00 plus a $15.00 fee"},
			nil},
		"charge.dispute.funds_reinstated.json": {"dp_1OfBm1LkdIwHu7ixD1spUt00",
			[]string{"Dispute funds returned", "$20.00 back in the balance"},
			nil},

		"payment_intent.payment_failed.json": {"pi_3OfDo1LkdIwHu7ix0ExpCard",
			[]string{"Payment failed", "$35.00", "Visa •••• 0069", "for Order #1042", "Reason: the card has expired.",
				"Update the card details"},
			[]string{dash + "payments/pi_3OfDo1LkdIwHu7ix0ExpCard"}},
		"payment_intent.requires_action.json": {"pi_3Of1c3LkdIwHu7ix13DsAuth",
			[]string{"Payment needs confirmation", "$20.00", "3D Secure"},
			nil},
		"payment_intent.succeeded.json": {"pi_3OeZb1LkdIwHu7ix1PaInt0",
			[]string{"Payment succeeded", "$20.00"},
			nil},

		"refund.created.json": {"re_3OeZb1LkdIwHu7ix1Rfnd000",
			[]string{"Refund created", "$5.00", "pending", "requested by the customer", "ch_3OeZb1LkdIwHu7ix1Sucks00"},
			nil},
		"refund.updated.json": {"re_3OeZb1LkdIwHu7ix1Rfnd000",
			[]string{"Refund updated", "$5.00", "succeeded"},
			nil},
		"refund.failed.json": {"re_3OfEp1LkdIwHu7ix1RfFail0",
			[]string{"Refund failed", "$20.00", "the card was reported lost or stolen", "refund the customer another way"},
			nil},

		"checkout.session.completed.json": {"sub_1OcQoALkdIwHu7ixQ2w3E4r5",
			[]string{"Checkout completed", "$20.00 · paid", "Started subscription `sub_1OcQoALkdIwHu7ixQ2w3E4r5`"},
			[]string{dash + "subscriptions/sub_1OcQoALkdIwHu7ixQ2w3E4r5"}},
		"checkout.session.completed_payment.json": {"pi_3OeZe1LkdIwHu7ix1CaptPi",
			[]string{"Checkout completed", "$49.00 · paid", "Payment `pi_3OeZe1LkdIwHu7ix1CaptPi`"},
			[]string{dash + "payments/pi_3OeZe1LkdIwHu7ix1CaptPi"}},

		"customer.created.json": {"cus_PRrPqNXdZ3aB1c",
			[]string{"Customer created", "Ada Lovelace <ada@example.com>"},
			[]string{dash + "customers/cus_PRrPqNXdZ3aB1c"}},
		"customer.created_html_injection.json": {"cus_PRsEv1LN4m3H7m",
			[]string{`<script>alert("pwned")</script><img src=x onerror=alert(1)> <mallory@example.com>`},
			nil},
		"customer.updated.json": {"cus_PRrPqNXdZ3aB1c",
			[]string{"Customer updated", "Name changed from “Ada Lovelace” to “Ada King”",
				"email changed from “ada@example.com” to “ada.king@example.com”", "balance changed from $0.00 to $5.00 credit"},
			nil},
		"customer.deleted.json": {"cus_PRsEv1LN4m3H7m",
			[]string{"Customer deleted", "Mallory Example <mallory@example.com>"},
			nil},

		"payment_method.attached.json": {"pm_1OcQnxLkdIwHu7ixVisa4242",
			[]string{"Card added", "Visa •••• 4242 · expires 12/2030"},
			[]string{dash + "customers/cus_PRrPqNXdZ3aB1c"}},
		"payment_method.detached.json": {"pm_1OfJu1LkdIwHu7ixMc444400",
			[]string{"Card removed", "Mastercard •••• 4444"},
			[]string{dash + "customers/cus_PRrPqNXdZ3aB1c"}},
		"customer.source.expiring.json": {"card_1NzYx2LkdIwHu7ixLegacy42",
			[]string{"Card expiring", "Visa •••• 4242 · expires 2/2024", "Update the card"},
			nil},
		"customer.discount.created.json": {"di_1OfLw1LkdIwHu7ixSpr1ng24",
			[]string{"Discount applied", "20% off for 3 months", "coupon “Spring sale”", "until 18 Apr 2024",
				"sub_1OcQoALkdIwHu7ixQ2w3E4r5"},
			nil},

		"payout.paid_unknown.json": {"po_1OfMx0LkdIwHu7ixPayOut00",
			[]string{"Stripe event `payout.paid` (evt_1OfMx1LkdIwHu7ixPayout01)"},
			nil},
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
			evt := loadEvent(t, name)
			got, err := Render(evt, RenderOptions{DashboardLink: testDashboard})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got == nil {
				t.Fatal("Render returned nil for a fixture")
			}
			checkContent(t, got.Content)
			if got.ObjectID != tc.objectID {
				t.Errorf("ObjectID = %q, want %q", got.ObjectID, tc.objectID)
			}
			body, text := got.Content.Body, htmlText(got.Content.FormattedBody)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("plain body lacks %q:\n%s", w, body)
				}
				if !strings.Contains(text, w) {
					t.Errorf("HTML body lacks %q:\n%s", w, got.Content.FormattedBody)
				}
			}
			for _, link := range tc.links {
				if !strings.Contains(body, link) {
					t.Errorf("plain body lacks link %s:\n%s", link, body)
				}
				if !strings.Contains(got.Content.FormattedBody, `<a href="`+html.EscapeString(link)+`">`) {
					t.Errorf("HTML body lacks an anchor to %s:\n%s", link, got.Content.FormattedBody)
				}
			}
		})
	}
}

// TestRenderCoversTypes keeps the fixtures honest: every type the issue
// names has at least one realistic payload.
func TestRenderCoversTypes(t *testing.T) {
	required := []string{
		"invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_failed",
		"invoice.payment_action_required", "invoice.upcoming", "invoice.voided", "invoice.marked_uncollectible",
		"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
		"customer.subscription.trial_will_end", "customer.subscription.paused", "customer.subscription.resumed",
		"charge.succeeded", "charge.failed", "charge.refunded", "charge.captured",
		"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
		"charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
		"payment_intent.payment_failed", "payment_intent.requires_action", "payment_intent.succeeded",
		"refund.created", "refund.updated", "refund.failed", "checkout.session.completed",
		"customer.created", "customer.updated", "customer.deleted",
		"payment_method.attached", "payment_method.detached", "customer.source.expiring", "customer.discount.created",
	}
	have := map[string]bool{}
	versions := map[string]bool{}
	for _, name := range fixtureNames(t) {
		evt := loadEvent(t, name)
		have[string(evt.Type)] = true
		versions[evt.APIVersion] = true
		if familyOf(evt.Type) == nil && name != "payout.paid_unknown.json" {
			t.Errorf("%s: type %s has no renderer", name, evt.Type)
		}
	}
	var missing []string
	for _, typ := range required {
		if !have[typ] {
			missing = append(missing, typ)
		}
		if familyOf(stripe.EventType(typ)) == nil {
			t.Errorf("no renderer for %s", typ)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no fixture for: %s", strings.Join(missing, ", "))
	}
	if !versions["2023-10-16"] || !versions["2025-01-27.acacia"] {
		t.Errorf("fixtures should cover the pinned and a newer API version, have %v", versions)
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
