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

	switch r.evt.Type {
	case "charge.succeeded":
		if ch.Captured || ch.AmountCaptured > 0 {
			m.lead("💳", "Payment received")
		} else {
			m.lead("💳", "Payment authorized, not yet captured")
		}
		m.text(": ")
		m.bold(money(ch.Amount, ch.Currency))
	case "charge.failed":
		m.lead("❌", "Payment failed")
		m.text(": ")
		m.bold(money(ch.Amount, ch.Currency))
	case "charge.refunded":
		if ch.Refunded || ch.AmountRefunded >= ch.Amount {
			m.lead("↩️", "Payment fully refunded")
			m.text(": ")
			m.bold(money(ch.AmountRefunded, ch.Currency))
		} else {
			m.lead("↩️", "Payment partly refunded")
			m.text(": ")
			m.bold(money(ch.AmountRefunded, ch.Currency))
			m.text(" of " + money(ch.Amount, ch.Currency))
		}
	case "charge.captured":
		m.lead("💳", "Payment captured")
		m.text(": ")
		m.bold(money(firstNonZero(ch.AmountCaptured, ch.Amount), ch.Currency))
	}
	if method != "" {
		m.text(" · " + method)
	}
	if d := clean(ch.Description); d != "" {
		m.text(" · for " + d)
	}
	if r.evt.Type == "charge.failed" {
		var outcome string
		if ch.Outcome != nil {
			outcome = ch.Outcome.Reason
		}
		reason, code := declineWords(outcome, ch.FailureCode)
		m.sentence("Reason: " + reason + ". " + declineFix(code))
		r.links("Dashboard", r.dashboard("payments", ch.ID))
		return nil
	}
	r.links("Receipt", ch.ReceiptURL, "Dashboard", r.dashboard("payments", ch.ID))
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

func (r *renderer) renderPaymentIntent() error {
	pi, err := decodeObject[stripe.PaymentIntent](r.evt, "payment_intent")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = pi.ID

	switch r.evt.Type {
	case "payment_intent.succeeded":
		m.lead("✅", "Payment succeeded")
		m.text(": ")
		m.bold(money(firstNonZero(pi.AmountReceived, pi.Amount), pi.Currency))
	case "payment_intent.payment_failed":
		m.lead("❌", "Payment failed")
		m.text(": ")
		m.bold(money(pi.Amount, pi.Currency))
		if e := pi.LastPaymentError; e != nil && e.PaymentMethod != nil && e.PaymentMethod.Card != nil {
			m.text(" · " + cardLabel(string(e.PaymentMethod.Card.Brand), e.PaymentMethod.Card.Last4))
		}
	case "payment_intent.requires_action":
		m.lead("🔐", "Payment needs confirmation")
		m.text(": ")
		m.bold(money(pi.Amount, pi.Currency))
	case "payment_intent.canceled":
		m.lead("🚫", "Payment canceled")
		m.text(": ")
		m.bold(money(pi.Amount, pi.Currency))
		if pi.CancellationReason != "" {
			m.text(" · " + words(string(pi.CancellationReason)))
		}
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
	r.links("Dashboard", r.dashboard("payments", pi.ID))
	return nil
}

// nextActionSentence says what the customer has to do. The action's own URL
// is not shown: it is a per-payment link for the customer's browser, and
// Stripe's emails and hosted pages already lead there.
func nextActionSentence(na *stripe.PaymentIntentNextAction) string {
	if na != nil {
		switch na.Type {
		case "verify_with_microdeposits":
			return "The bank account must be verified with the micro-deposits Stripe sent before the payment can go through."
		case "display_bank_transfer_instructions":
			return "Waiting for the customer to send the bank transfer."
		case "oxxo_display_details", "boleto_display_details", "konbini_display_details":
			return "Waiting for the customer to pay the voucher."
		}
	}
	return "The bank asks the customer to confirm this payment (for example with 3D Secure) before it can go through."
}

func (r *renderer) renderRefund() error {
	re, err := decodeObject[stripe.Refund](r.evt, "refund")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = re.ID

	switch r.evt.Type {
	case "refund.created":
		m.lead("↩️", "Refund created")
	case "refund.updated":
		m.lead("↩️", "Refund updated")
	case "refund.failed":
		m.lead("❌", "Refund failed")
	}
	m.text(": ")
	m.bold(money(re.Amount, re.Currency))
	if r.evt.Type != "refund.failed" {
		m.text(" · " + refundStatusWords(re.Status))
	}
	if re.Reason != "" {
		m.text(" · " + refundReasonWords(re.Reason))
	}
	if re.Charge != nil && re.Charge.ID != "" {
		m.text(" · payment ")
		m.code(re.Charge.ID)
	}
	if r.evt.Type == "refund.failed" || re.Status == stripe.RefundStatusFailed {
		m.sentence("Reason: " + refundFailureWords(re.FailureReason) + ". The money is back in the Stripe balance; refund the customer another way.")
	}
	// Refunds are shown on their payment's page in the dashboard.
	target := re.ID
	if re.Charge != nil && re.Charge.ID != "" {
		target = re.Charge.ID
	}
	r.links("Dashboard", r.dashboard("payments", target))
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

func refundReasonWords(s stripe.RefundReason) string {
	switch s {
	case stripe.RefundReasonRequestedByCustomer:
		return "requested by the customer"
	case stripe.RefundReasonDuplicate:
		return "duplicate payment"
	case stripe.RefundReasonFraudulent:
		return "fraudulent payment"
	case stripe.RefundReasonExpiredUncapturedCharge:
		return "authorization expired uncaptured"
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
		return "the Stripe balance was too low"
	case "declined":
		return "the bank declined the refund"
	case "merchant_request":
		return "it was canceled on request"
	case "", stripe.RefundFailureReasonUnknown:
		return "the bank did not say why"
	}
	return words(string(s))
}
