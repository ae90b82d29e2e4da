package portal

import (
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// renderInvoice writes the customer's message about an invoice. Drafts and
// $0 invoices say nothing a customer needs (a trial's first invoice, a
// credit that covered it all); the table lists which types come here.
func (r *renderer) renderInvoice() error {
	inv, err := decodeObject[stripe.Invoice](r.evt, "invoice")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = inv.ID
	label := "Invoice " + invoiceLabel(inv)

	switch r.evt.Type {
	case "invoice.finalized":
		if inv.AmountDue <= 0 {
			r.skip = true
			return nil
		}
		m.lead("🧾", label)
		m.text(": ")
		m.bold(money(inv.AmountDue, inv.Currency))
		if inv.CollectionMethod == stripe.InvoiceCollectionMethodSendInvoice && inv.DueDate > 0 {
			m.text(" · due " + day(inv.DueDate))
		}
	case "invoice.paid":
		if inv.AmountPaid <= 0 && inv.Total <= 0 {
			r.skip = true
			return nil
		}
		m.lead("✅", label+" paid")
		m.text(": ")
		m.bold(money(inv.AmountPaid, inv.Currency))
		if method := chargeMethod(paidWith(r, inv)); method != "" {
			m.text(" with " + method)
		}
		if inv.StatusTransitions != nil && inv.StatusTransitions.PaidAt > 0 {
			m.text(" on " + day(inv.StatusTransitions.PaidAt))
		}
	case "invoice.payment_failed":
		m.lead("❌", "Payment for "+"invoice "+invoiceLabel(inv)+" didn't go through")
		m.text(": ")
		m.bold(money(inv.AmountRemaining, inv.Currency))
		m.text(" still due")
		if method := chargeMethod(paidWith(r, inv)); method != "" {
			m.text(" · tried " + method)
		}
	case "invoice.payment_action_required":
		m.lead("🔐", "Please confirm the payment for "+"invoice "+invoiceLabel(inv))
		m.text(": ")
		m.bold(money(inv.AmountRemaining, inv.Currency))
	case "invoice.upcoming":
		r.objectID = upcomingObjectID(inv)
		m.lead("📅", "Your next invoice")
		m.text(": ")
		m.bold(money(inv.AmountDue, inv.Currency))
		if when := day(firstNonZero(inv.NextPaymentAttempt, inv.DueDate, inv.PeriodEnd)); when != "" {
			m.text(" on " + when)
		}
	case "invoice.voided":
		m.lead("🚫", label+" canceled")
		m.text(": " + money(inv.Total, inv.Currency) + " · nothing is owed on it")
	}

	if what := invoiceLines(inv); what != "" {
		m.text(" · for " + what)
	}
	switch r.evt.Type {
	case "invoice.finalized":
		if inv.CollectionMethod == stripe.InvoiceCollectionMethodChargeAutomatically {
			m.sentence("It will be charged automatically to your payment method on file.")
		}
	case "invoice.payment_failed":
		r.invoiceDecline(inv)
	case "invoice.payment_action_required":
		m.sentence("Your bank asks you to confirm this payment; open the invoice to complete it.")
	}

	payLabel := PayLabel
	switch r.evt.Type {
	case "invoice.paid", "invoice.voided":
		payLabel = "View invoice"
	case "invoice.payment_action_required":
		payLabel = ConfirmPaymentLabel
	}
	receipt := ""
	if ch := invoiceCharge(r, inv); ch != nil && r.evt.Type == "invoice.paid" {
		receipt = ch.ReceiptURL
	}
	r.links("Receipt", receipt, payLabel, inv.HostedInvoiceURL, "Invoice PDF", inv.InvoicePDF)
	return nil
}

// The labels of an invoice link that asks the customer to pay: the web chat
// turns such a link into a Pay button (PayLinkOf).
const (
	PayLabel            = "Pay or view invoice"
	ConfirmPaymentLabel = "Confirm payment"
)

// PayLinkOf returns the hosted invoice page a billing message asks the
// customer to pay on, from its plain body (where links are "label: URL"),
// or "".
func PayLinkOf(body string) string {
	for _, label := range []string{PayLabel, ConfirmPaymentLabel} {
		_, rest, ok := strings.Cut(body, label+": ")
		if !ok {
			continue
		}
		if end := strings.IndexAny(rest, " \n"); end >= 0 {
			rest = rest[:end]
		}
		if safeURL(rest) {
			return rest
		}
	}
	return ""
}

// invoiceCharge is the charge of the invoice's payment among the events of
// its happening, or nil.
func invoiceCharge(r *renderer, inv *stripe.Invoice) *stripe.Charge {
	if inv.Charge != nil && inv.Charge.ID != "" {
		if ch := sibling[stripe.Charge](r, "charge", inv.Charge.ID); ch != nil {
			return ch
		}
	}
	ch := sibling[stripe.Charge](r, "charge", "")
	if ch != nil && ch.Invoice != nil && ch.Invoice.ID != "" && ch.Invoice.ID != inv.ID {
		return nil
	}
	return ch
}

// paidWith is the payment method details of the invoice's charge.
func paidWith(r *renderer, inv *stripe.Invoice) *stripe.ChargePaymentMethodDetails {
	if ch := invoiceCharge(r, inv); ch != nil {
		return ch.PaymentMethodDetails
	}
	return nil
}

// invoiceLabel names an invoice by its number, which the customer also sees
// on the PDF; drafts have no number yet.
func invoiceLabel(inv *stripe.Invoice) string {
	if inv.Number != "" {
		return clean(inv.Number)
	}
	return orDefault(clean(inv.ID), "no number")
}

// invoiceDecline says why the payment failed and what to do next. Webhook
// invoices carry their payment as a bare id, so the bank's reason is only
// here when the payment intent was expanded; otherwise the charge.failed
// message Stripe sends alongside gives it.
func (r *renderer) invoiceDecline(inv *stripe.Invoice) {
	m := &r.msg
	var code string
	ch := invoiceCharge(r, inv)
	switch {
	case inv.PaymentIntent != nil && inv.PaymentIntent.LastPaymentError != nil:
		var reason string
		e := inv.PaymentIntent.LastPaymentError
		reason, code = declineWords(string(e.DeclineCode), string(e.Code))
		m.sentence("Reason: " + reason + ".")
	case ch != nil && (ch.FailureCode != "" || ch.Outcome != nil):
		// The charge.failed of the same attempt, in this happening.
		var outcome, reason string
		if ch.Outcome != nil {
			outcome = ch.Outcome.Reason
		}
		reason, code = declineWords(outcome, ch.FailureCode)
		m.sentence("Reason: " + reason + ".")
	default:
		m.sentence("Your bank declined the payment.")
	}
	m.text(" " + declineFix(code))
	if next := day(inv.NextPaymentAttempt); next != "" {
		m.text(" We'll try again on " + next + ".")
	}
}

// invoiceLines describes what the invoice is for from its first line item.
func invoiceLines(inv *stripe.Invoice) string {
	if inv.Lines == nil || len(inv.Lines.Data) == 0 {
		return clean(inv.Description)
	}
	var first string
	for _, line := range inv.Lines.Data {
		if line != nil && line.Description != "" {
			first = clean(line.Description)
			break
		}
	}
	if first == "" {
		return clean(inv.Description)
	}
	// Stripe sends only the first lines with an event and no longer
	// counts the rest: past the page, "more" is all we know.
	switch n := len(inv.Lines.Data); {
	case inv.Lines.HasMore:
		first += " and more"
	case n > 1:
		first += " and " + strconv.Itoa(n-1) + " more"
	}
	return first
}

// upcomingObjectID: an upcoming invoice does not exist yet and has no id, so
// replies go to its subscription (or its customer).
func upcomingObjectID(inv *stripe.Invoice) string {
	switch {
	case inv.ID != "":
		return inv.ID
	case inv.Subscription != nil && inv.Subscription.ID != "":
		return inv.Subscription.ID
	case inv.Customer != nil:
		return inv.Customer.ID
	}
	return ""
}

func invoiceStatusWords(s stripe.InvoiceStatus) string {
	switch s {
	case stripe.InvoiceStatusDraft:
		return "draft"
	case stripe.InvoiceStatusOpen:
		return "open"
	case stripe.InvoiceStatusPaid:
		return "paid"
	case stripe.InvoiceStatusUncollectible:
		return "uncollectible"
	case stripe.InvoiceStatusVoid:
		return "void"
	case "":
		return "status unknown"
	}
	return words(string(s))
}

func firstNonZero(values ...int64) int64 {
	for _, v := range values {
		if v > 0 {
			return v
		}
	}
	return 0
}
