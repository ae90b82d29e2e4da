package portal

import (
	"strconv"

	"github.com/stripe/stripe-go/v76"
)

func (r *renderer) renderInvoice() error {
	inv, err := decodeObject[stripe.Invoice](r.evt, "invoice")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = inv.ID
	label := invoiceLabel(inv)

	switch r.evt.Type {
	case "invoice.created":
		m.lead("🧾", "Invoice created")
		m.text(": " + label + " · ")
		m.bold(money(inv.AmountDue, inv.Currency))
		if inv.CollectionMethod == stripe.InvoiceCollectionMethodSendInvoice && inv.DueDate > 0 {
			m.text(" · due " + day(inv.DueDate))
		}
		m.text(" · " + invoiceStatusWords(inv.Status))
	case "invoice.finalized":
		m.lead("🧾", "Invoice finalized")
		m.text(": " + label + " · ")
		m.bold(money(inv.AmountDue, inv.Currency))
		switch {
		case inv.CollectionMethod == stripe.InvoiceCollectionMethodSendInvoice && inv.DueDate > 0:
			m.text(" · due " + day(inv.DueDate))
		case inv.CollectionMethod == stripe.InvoiceCollectionMethodChargeAutomatically && inv.AmountDue > 0:
			m.text(" · charged automatically")
		}
	case "invoice.paid":
		m.lead("✅", "Invoice paid")
		m.text(": " + label + " · ")
		m.bold(money(inv.AmountPaid, inv.Currency))
		if inv.PaidOutOfBand {
			m.text(" · marked paid outside Stripe")
		}
		if inv.StatusTransitions != nil && inv.StatusTransitions.PaidAt > 0 {
			m.text(" on " + day(inv.StatusTransitions.PaidAt))
		}
	case "invoice.payment_failed":
		m.lead("❌", "Invoice payment failed")
		m.text(": " + label + " · ")
		m.bold(money(inv.AmountRemaining, inv.Currency))
		m.text(" unpaid")
		if inv.AttemptCount > 0 {
			m.text(" after " + plural(inv.AttemptCount, "attempt"))
		}
	case "invoice.payment_action_required":
		m.lead("🔐", "Invoice payment needs confirmation")
		m.text(": " + label + " · ")
		m.bold(money(inv.AmountRemaining, inv.Currency))
	case "invoice.upcoming":
		r.objectID = upcomingObjectID(inv)
		m.lead("📅", "Upcoming invoice")
		m.text(": ")
		m.bold(money(inv.AmountDue, inv.Currency))
		if when := day(firstNonZero(inv.NextPaymentAttempt, inv.DueDate, inv.PeriodEnd)); when != "" {
			m.text(" on " + when)
		}
	case "invoice.voided":
		m.lead("🚫", "Invoice voided")
		m.text(": " + label + " · " + money(inv.Total, inv.Currency) + " · nothing is owed on it")
	case "invoice.marked_uncollectible":
		m.lead("⚠️", "Invoice marked uncollectible")
		m.text(": " + label + " · ")
		m.bold(money(inv.AmountRemaining, inv.Currency))
		m.text(" unpaid")
	}

	if what := invoiceLines(inv); what != "" {
		m.text(" · for " + what)
	}
	switch r.evt.Type {
	case "invoice.payment_failed":
		r.invoiceDecline(inv)
	case "invoice.payment_action_required":
		m.sentence("The bank asks the customer to confirm this payment; open the invoice to complete it.")
	}

	payLabel := "Pay or view invoice"
	switch r.evt.Type {
	case "invoice.paid", "invoice.voided", "invoice.marked_uncollectible":
		payLabel = "View invoice"
	case "invoice.payment_action_required":
		payLabel = "Confirm payment"
	}
	dash := r.dashboard("invoices", inv.ID)
	if inv.ID == "" && inv.Subscription != nil {
		dash = r.dashboard("subscriptions", inv.Subscription.ID)
	}
	r.links(payLabel, inv.HostedInvoiceURL,
		"Invoice PDF", inv.InvoicePDF,
		"Dashboard", dash)
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
// here when the payment intent was expanded; otherwise it is in the
// charge.failed message Stripe sends alongside.
func (r *renderer) invoiceDecline(inv *stripe.Invoice) {
	m := &r.msg
	var code string
	switch {
	case inv.PaymentIntent != nil && inv.PaymentIntent.LastPaymentError != nil:
		var reason string
		e := inv.PaymentIntent.LastPaymentError
		reason, code = declineWords(string(e.DeclineCode), string(e.Code))
		m.sentence("Reason: " + reason + ".")
	case inv.Charge != nil && inv.Charge.ID != "":
		m.sentence("Reason: the payment was declined (the bank's reason is on payment ")
		m.code(inv.Charge.ID)
		m.text(").")
	default:
		m.sentence("Reason: no payment method could be charged.")
	}
	m.text(" " + declineFix(code))
	if next := day(inv.NextPaymentAttempt); next != "" {
		m.text(" Stripe retries on " + next + ".")
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
	total := int64(len(inv.Lines.Data))
	if int64(inv.Lines.TotalCount) > total {
		total = int64(inv.Lines.TotalCount)
	}
	if total > 1 {
		first += " and " + strconv.FormatInt(total-1, 10) + " more"
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
