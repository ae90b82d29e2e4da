package commands

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

func cmdPayments(r *readCtx) {
	n := defaultShown
	switch len(r.ce.Args) {
	case 0:
	case 1:
		var ok bool
		if n, ok = parseCount(r.ce.Args[0]); !ok {
			r.badArgs(fmt.Sprintf("n is a number from 1 to %d.", maxShown))
			return
		}
	default:
		r.badArgs(fmt.Sprintf("n is a number from 1 to %d.", maxShown))
		return
	}
	charges, err := r.api.Charges(r.ctx, r.portal.CustomerID, n)
	if err != nil {
		r.fail(err, "charges")
		return
	}
	charges = ownedOnly(r.portal.CustomerID, charges, chargeOwner)
	if len(charges) == 0 {
		r.reply("No payments yet.")
		return
	}
	var b strings.Builder
	b.WriteString("**Payments**, newest first\n\n")
	for _, ch := range charges {
		fmt.Fprintf(&b, "* %s · %s\n", chargeText(ch), code(ch.ID))
	}
	r.reply(b.String())
}

// chargeText is "$10.00 on 1 May 2024, succeeded (Visa •••• 4242)", or for
// a failure the reason in plain words.
func chargeText(ch *stripe.Charge) string {
	s := money(ch.Amount, string(ch.Currency)) + " on " + day(ch.Created) + ", "
	switch ch.Status {
	case stripe.ChargeStatusFailed:
		s += "**failed**: " + failureReason(ch)
	case stripe.ChargeStatusSucceeded:
		s += "succeeded"
		switch {
		case ch.Refunded:
			s += ", refunded"
		case ch.AmountRefunded > 0:
			s += ", " + money(ch.AmountRefunded, string(ch.Currency)) + " refunded"
		}
		if ch.Disputed {
			s += ", disputed"
		}
	default:
		s += words(string(ch.Status))
	}
	if m := chargeCard(ch); m != "" {
		s += " (" + m + ")"
	}
	return s
}

func chargeCard(ch *stripe.Charge) string {
	if ch.PaymentMethodDetails == nil || ch.PaymentMethodDetails.Card == nil {
		return ""
	}
	c := ch.PaymentMethodDetails.Card
	return card(string(c.Brand), c.Last4)
}

// declineCode is the most specific code Stripe gave for a failed charge:
// the issuer's reason from the outcome, else the failure code.
func declineCode(ch *stripe.Charge) string {
	if ch.Outcome != nil && ch.Outcome.Reason != "" {
		return ch.Outcome.Reason
	}
	return ch.FailureCode
}

func failureReason(ch *stripe.Charge) string {
	return stripeapi.DeclineReason(declineCode(ch))
}

// fixAdvice says what the customer can do about a decline.
func fixAdvice(code string) string {
	switch code {
	case "insufficient_funds", "card_velocity_exceeded", "withdrawal_count_limit_exceeded":
		return "Make sure the card has enough funds or limit left, or pay with another card."
	case "expired_card":
		return "Update the card's expiry date or add a new card."
	case "incorrect_cvc", "incorrect_number":
		return "Enter the card details again, carefully, or use another card."
	case "authentication_required":
		return "Pay on the invoice page, where your bank can ask you to confirm the payment."
	case "lost_card", "stolen_card":
		return "Pay with a different card."
	case "processing_error":
		return "This is usually temporary: try again in a little while."
	}
	return "Try another card, or ask your bank to allow the payment."
}

// whyScan is how many recent payments `why` looks through for a failure.
const whyScan = 20

func cmdWhy(r *readCtx) {
	if !r.noArgs() {
		return
	}
	id := r.portal.CustomerID
	charges, err := r.api.Charges(r.ctx, id, whyScan)
	if err != nil {
		r.fail(err, "charges")
		return
	}
	var failed *stripe.Charge
	var laterSuccess *stripe.Charge
	for _, ch := range ownedOnly(id, charges, chargeOwner) {
		if ch.Status == stripe.ChargeStatusFailed {
			failed = ch
			break
		}
		if ch.Status == stripe.ChargeStatusSucceeded && laterSuccess == nil {
			laterSuccess = ch
		}
	}
	if failed == nil {
		r.reply("No failed payments: every recent payment went through.")
		return
	}
	open, err := r.api.Invoices(r.ctx, id, string(stripe.InvoiceStatusOpen), maxShown)
	if err != nil {
		r.fail(err, "invoices")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The payment of **%s** on %s failed because %s.",
		money(failed.Amount, string(failed.Currency)), day(failed.Created), failureReason(failed))
	if m := chargeCard(failed); m != "" {
		fmt.Fprintf(&b, " It was tried on %s.", m)
	}
	b.WriteString("\n\n")
	b.WriteString(fixAdvice(declineCode(failed)))
	if inv := invoiceToPay(ownedOnly(id, open, invoiceOwner), failed); inv != nil {
		fmt.Fprintf(&b, "\n\n%s is still due on invoice %s.", money(inv.AmountRemaining, string(inv.Currency)), invoiceName(inv))
		if l := link("Pay it online", inv.HostedInvoiceURL); l != "" {
			b.WriteString(" " + l + ".")
		}
	} else if laterSuccess != nil {
		fmt.Fprintf(&b, "\n\nA later payment of %s on %s went through, and no invoice is open now.",
			money(laterSuccess.Amount, string(laterSuccess.Currency)), day(laterSuccess.Created))
	} else {
		b.WriteString("\n\nNo invoice is open now, so nothing is due.")
	}
	r.reply(b.String())
}

// invoiceToPay prefers the failed payment's own invoice when it is still
// open, else the oldest open one (the one most overdue).
func invoiceToPay(open []*stripe.Invoice, failed *stripe.Charge) *stripe.Invoice {
	if len(open) == 0 {
		return nil
	}
	if failed.Invoice != nil {
		for _, inv := range open {
			if inv.ID == failed.Invoice.ID {
				return inv
			}
		}
	}
	return open[len(open)-1]
}

func invoiceName(inv *stripe.Invoice) string {
	if inv.Number != "" {
		return plain(inv.Number)
	}
	return code(inv.ID)
}

// refundScan is how many recent payments `refunds` looks at: refunds are
// listed from the charges they belong to, which only the room's customer
// owns.
const refundScan = stripeapi.MaxListLimit

func cmdRefunds(r *readCtx) {
	if !r.noArgs() {
		return
	}
	charges, err := r.api.Charges(r.ctx, r.portal.CustomerID, refundScan)
	if err != nil {
		r.fail(err, "charges")
		return
	}
	type refundOf struct {
		re *stripe.Refund
		ch *stripe.Charge
	}
	var refunds []refundOf
	for _, ch := range ownedOnly(r.portal.CustomerID, charges, chargeOwner) {
		if ch.Refunds == nil {
			continue
		}
		for _, re := range ch.Refunds.Data {
			refunds = append(refunds, refundOf{re, ch})
		}
	}
	if len(refunds) == 0 {
		r.reply("No refunds.")
		return
	}
	slices.SortStableFunc(refunds, func(a, b refundOf) int { return cmp.Compare(b.re.Created, a.re.Created) })
	var b strings.Builder
	b.WriteString("**Refunds**, newest first\n\n")
	for i, x := range refunds {
		if i == maxShown {
			fmt.Fprintf(&b, "* … and %d older\n", len(refunds)-i)
			break
		}
		fmt.Fprintf(&b, "* %s on %s of the %s payment from %s, %s",
			money(x.re.Amount, string(x.re.Currency)), day(x.re.Created),
			money(x.ch.Amount, string(x.ch.Currency)), day(x.ch.Created), words(string(x.re.Status)))
		if x.re.Reason != "" {
			fmt.Fprintf(&b, " (%s)", words(string(x.re.Reason)))
		}
		fmt.Fprintf(&b, " · %s\n", code(x.re.ID))
	}
	r.reply(b.String())
}

func cmdDisputes(r *readCtx) {
	if !r.noArgs() {
		return
	}
	disputes, err := r.api.Disputes(r.ctx, r.portal.CustomerID, maxShown)
	if err != nil {
		r.fail(err, "disputes")
		return
	}
	disputes = ownedOnly(r.portal.CustomerID, disputes, disputeOwner)
	if len(disputes) == 0 {
		r.reply("No disputes.")
		return
	}
	var b strings.Builder
	b.WriteString("**Disputes**, newest first\n\n")
	for _, d := range disputes {
		fmt.Fprintf(&b, "* %s opened %s, reason: %s, status: %s",
			money(d.Amount, string(d.Currency)), day(d.Created), words(string(d.Reason)), words(string(d.Status)))
		if d.EvidenceDetails != nil && d.EvidenceDetails.DueBy > 0 && disputeOpen(d.Status) {
			fmt.Fprintf(&b, " (response due %s)", day(d.EvidenceDetails.DueBy))
		}
		if d.Charge != nil && d.Charge.ID != "" {
			fmt.Fprintf(&b, " · payment %s", code(d.Charge.ID))
		}
		fmt.Fprintf(&b, " · %s\n", code(d.ID))
	}
	r.reply(b.String())
}

func disputeOpen(s stripe.DisputeStatus) bool {
	return s == stripe.DisputeStatusNeedsResponse || s == stripe.DisputeStatusWarningNeedsResponse
}
