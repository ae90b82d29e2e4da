package portal

import (
	"github.com/stripe/stripe-go/v76"
)

func (r *renderer) renderCharge() error {
	ch, err := decodeObject[stripe.Charge](r.evt, "charge")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = ch.ID
	method := chargeMethod(ch.PaymentMethodDetails)
	with := ""
	if method != "" {
		with = " with " + method
	}

	switch r.evt.Type {
	case "charge.succeeded":
		if ch.Captured || ch.AmountCaptured > 0 {
			m.lead("💳", "Your payment went through")
			m.text(": ")
			m.bold(money(ch.Amount, ch.Currency))
			m.text(with)
		} else {
			m.lead("💳", "Payment reserved")
			m.text(": ")
			m.bold(money(ch.Amount, ch.Currency))
			m.text(" on " + orDefault(method, "your payment method") + ", not charged yet")
		}
	case "charge.failed":
		m.lead("❌", "Your payment didn't go through")
		m.text(": ")
		m.bold(money(ch.Amount, ch.Currency))
		m.text(with)
	case "charge.refunded":
		to := ""
		if method != "" {
			to = " to " + method
		}
		if ch.Refunded || ch.AmountRefunded >= ch.Amount {
			m.lead("↩️", "Your payment was refunded")
			m.text(": ")
			m.bold(money(ch.AmountRefunded, ch.Currency))
			m.text(to)
		} else {
			m.lead("↩️", "Your payment was partly refunded")
			m.text(": ")
			m.bold(money(ch.AmountRefunded, ch.Currency))
			m.text(" of " + money(ch.Amount, ch.Currency) + to)
		}
	case "charge.captured":
		m.lead("💳", "Your payment was charged")
		m.text(": ")
		m.bold(money(firstNonZero(ch.AmountCaptured, ch.Amount), ch.Currency))
		m.text(with)
	}
	if d := clean(ch.Description); d != "" {
		m.text(" · for " + d)
	}
	switch r.evt.Type {
	case "charge.failed":
		var outcome string
		if ch.Outcome != nil {
			outcome = ch.Outcome.Reason
		}
		reason, code := declineWords(outcome, ch.FailureCode)
		m.sentence("Reason: " + reason + ". " + declineFix(code))
		return nil
	case "charge.refunded":
		m.sentence("Refunds usually reach your account within 5–10 business days.")
	}
	r.links("Receipt", ch.ReceiptURL)
	return nil
}

// chargeMethod is "Visa •••• 4242", or the payment method type.
func chargeMethod(d *stripe.ChargePaymentMethodDetails) string {
	switch {
	case d == nil:
		return ""
	case d.Card != nil:
		return cardLabel(string(d.Card.Brand), d.Card.Last4)
	case d.SEPADebit != nil && d.SEPADebit.Last4 != "":
		return "SEPA Direct Debit •••• " + clean(d.SEPADebit.Last4)
	case d.USBankAccount != nil && d.USBankAccount.Last4 != "":
		return clean(orDefault(d.USBankAccount.BankName, "Bank account")) + " •••• " + clean(d.USBankAccount.Last4)
	case d.Type != "":
		return paymentMethodType(string(d.Type))
	}
	return ""
}

func orDefault(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// renderPaymentIntent speaks only when no charge or invoice message says
// the same: a failure before any charge (say, 3D Secure abandoned), a
// confirmation or a cancellation of a payment that is not an invoice's.
func (r *renderer) renderPaymentIntent() error {
	pi, err := decodeObject[stripe.PaymentIntent](r.evt, "payment_intent")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = pi.ID
	if pi.Invoice != nil && pi.Invoice.ID != "" {
		r.skip = true
		return nil
	}

	switch r.evt.Type {
	case "payment_intent.payment_failed":
		if e := pi.LastPaymentError; e != nil && e.ChargeID != "" {
			r.skip = true // charge.failed says it, with the card
			return nil
		}
		m.lead("❌", "Your payment didn't go through")
		m.text(": ")
		m.bold(money(pi.Amount, pi.Currency))
		if e := pi.LastPaymentError; e != nil && e.PaymentMethod != nil && e.PaymentMethod.Card != nil {
			m.text(" with " + cardLabel(string(e.PaymentMethod.Card.Brand), e.PaymentMethod.Card.Last4))
		}
	case "payment_intent.requires_action":
		m.lead("🔐", "Please confirm your payment")
		m.text(": ")
		m.bold(money(pi.Amount, pi.Currency))
	case "payment_intent.canceled":
		m.lead("🚫", "Payment canceled")
		m.text(": ")
		m.bold(money(pi.Amount, pi.Currency))
		m.text(" · no money was taken")
	}
	if d := clean(pi.Description); d != "" {
		m.text(" · for " + d)
	}
	switch r.evt.Type {
	case "payment_intent.payment_failed":
		var codes []string
		if e := pi.LastPaymentError; e != nil {
			codes = append(codes, string(e.DeclineCode), string(e.Code))
		}
		reason, code := declineWords(codes...)
		m.sentence("Reason: " + reason + ". " + declineFix(code))
	case "payment_intent.requires_action":
		m.sentence(nextActionSentence(pi.NextAction))
	}
	return nil
}

// nextActionSentence says what the customer has to do. The action's own URL
// is not shown: it is a per-payment link for the customer's browser, and
// Stripe's emails and hosted pages already lead there.
func nextActionSentence(na *stripe.PaymentIntentNextAction) string {
	if na != nil {
		switch na.Type {
		case "verify_with_microdeposits":
			return "Please verify your bank account with the small deposits sent to it; then the payment goes through."
		case "display_bank_transfer_instructions":
			return "Waiting for your bank transfer."
		case "oxxo_display_details", "boleto_display_details", "konbini_display_details":
			return "Waiting for you to pay the voucher."
		}
	}
	return "Your bank asks you to confirm this payment (for example with 3D Secure) before it can go through."
}

// renderRefund speaks when a refund's status changes: charge.refunded
// already told the customer that the refund was made.
func (r *renderer) renderRefund() error {
	re, err := decodeObject[stripe.Refund](r.evt, "refund")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = re.ID
	failed := r.evt.Type == "refund.failed" || re.Status == stripe.RefundStatusFailed
	if _, changed := previous[string](r.evt, "status"); !changed && !failed {
		r.skip = true
		return nil
	}
	switch {
	case failed:
		m.lead("❌", "Your refund could not be completed")
	case re.Status == stripe.RefundStatusSucceeded:
		m.lead("↩️", "Your refund went through")
	case re.Status == stripe.RefundStatusCanceled:
		m.lead("🚫", "Your refund was canceled")
	default:
		r.skip = true
		return nil
	}
	m.text(": ")
	m.bold(money(re.Amount, re.Currency))
	if re.Reason == stripe.RefundReasonRequestedByCustomer {
		m.text(" · requested by you")
	}
	if failed {
		m.sentence("Reason: " + refundFailureWords(re.FailureReason) + ". The money will be refunded to you another way.")
	}
	return nil
}

func refundStatusWords(s stripe.RefundStatus) string {
	switch s {
	case stripe.RefundStatusPending:
		return "pending"
	case stripe.RefundStatusSucceeded:
		return "succeeded"
	case stripe.RefundStatusFailed:
		return "failed"
	case stripe.RefundStatusCanceled:
		return "canceled"
	case stripe.RefundStatusRequiresAction:
		return "waiting for the customer"
	case "":
		return "status unknown"
	}
	return words(string(s))
}

func refundFailureWords(s stripe.RefundFailureReason) string {
	switch s {
	case stripe.RefundFailureReasonLostOrStolenCard:
		return "the card was reported lost or stolen"
	case stripe.RefundFailureReasonExpiredOrCanceledCard:
		return "the card has expired or was canceled"
	case "charge_for_pending_refund_disputed":
		return "the payment was disputed while the refund was pending"
	case "insufficient_funds":
		return "it could not be processed"
	case "declined":
		return "the bank declined the refund"
	case "merchant_request":
		return "it was canceled"
	case "", stripe.RefundFailureReasonUnknown:
		return "the bank did not say why"
	}
	return words(string(s))
}
