package portal

import (
	"github.com/stripe/stripe-go/v76"
)

func (r *renderer) renderDispute() error {
	dp, err := decodeObject[stripe.Dispute](r.evt, "dispute")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = dp.ID
	amount := money(dp.Amount, dp.Currency)
	dashLabel := "Dashboard"

	switch r.evt.Type {
	case "charge.dispute.created":
		m.lead("⚠️", "Payment disputed")
		m.text(": ")
		m.bold(amount)
		m.text(" · " + disputeStatusWords(dp.Status))
	case "charge.dispute.updated":
		m.lead("⚖️", "Dispute updated")
		m.text(": ")
		m.bold(amount)
		m.text(" · " + disputeStatusWords(dp.Status))
		if dp.EvidenceDetails != nil && dp.EvidenceDetails.HasEvidence {
			m.text(" · evidence submitted")
		}
	case "charge.dispute.closed":
		headline, outcome := "Dispute closed", " · "+disputeStatusWords(dp.Status)
		emoji := "⚖️"
		switch dp.Status {
		case stripe.DisputeStatusWon:
			emoji, headline, outcome = "🏆", "Dispute won", " · the money stays with you"
		case stripe.DisputeStatusLost:
			emoji, headline, outcome = "❌", "Dispute lost", " · the customer keeps the money"
		case stripe.DisputeStatusWarningClosed:
			emoji, headline, outcome = "✅", "Inquiry closed", " · it did not become a chargeback"
		}
		m.lead(emoji, headline)
		m.text(": ")
		m.bold(amount)
		m.text(outcome)
	case "charge.dispute.funds_withdrawn":
		m.lead("💸", "Dispute funds withdrawn")
		m.text(": ")
		m.bold(amount)
		if fee := disputeFee(dp); fee != "" {
			m.text(" plus a " + fee + " fee")
		}
		m.text(" taken from the balance while the dispute is open")
	case "charge.dispute.funds_reinstated":
		m.lead("💰", "Dispute funds returned")
		m.text(": ")
		m.bold(amount)
		m.text(" back in the balance")
	}
	if dp.Charge != nil && dp.Charge.ID != "" {
		m.text(" · payment ")
		m.code(dp.Charge.ID)
	}

	if r.evt.Type == "charge.dispute.created" {
		m.sentence("Reason: " + disputeReasonWords(dp.Reason) + ".")
		if dp.EvidenceDetails != nil && dp.EvidenceDetails.DueBy > 0 && disputeNeedsResponse(dp.Status) {
			m.text(" Respond by " + day(dp.EvidenceDetails.DueBy) + ".")
			dashLabel = "Respond in the dashboard"
		}
	}
	r.links(dashLabel, r.dashboard("disputes", dp.ID))
	return nil
}

// disputeFee is the fee Stripe charged for the dispute, in the balance's
// currency (which may differ from the disputed payment's).
func disputeFee(dp *stripe.Dispute) string {
	for _, bt := range dp.BalanceTransactions {
		if bt != nil && bt.Fee > 0 && bt.Amount < 0 {
			return money(bt.Fee, bt.Currency)
		}
	}
	return ""
}

func disputeNeedsResponse(s stripe.DisputeStatus) bool {
	return s == stripe.DisputeStatusNeedsResponse || s == stripe.DisputeStatusWarningNeedsResponse
}

func disputeStatusWords(s stripe.DisputeStatus) string {
	switch s {
	case stripe.DisputeStatusNeedsResponse:
		return "needs a response"
	case stripe.DisputeStatusUnderReview:
		return "under review by the bank"
	case stripe.DisputeStatusWarningNeedsResponse:
		return "inquiry, needs a response"
	case stripe.DisputeStatusWarningUnderReview:
		return "inquiry under review"
	case stripe.DisputeStatusWarningClosed:
		return "inquiry closed"
	case stripe.DisputeStatusWon:
		return "won"
	case stripe.DisputeStatusLost:
		return "lost"
	case "":
		return "status unknown"
	}
	return words(string(s))
}

func disputeReasonWords(s stripe.DisputeReason) string {
	switch s {
	case stripe.DisputeReasonFraudulent:
		return "the cardholder says they did not authorize the payment"
	case stripe.DisputeReasonDuplicate:
		return "the customer says they were charged twice"
	case stripe.DisputeReasonProductNotReceived:
		return "the customer says they did not receive what they paid for"
	case stripe.DisputeReasonProductUnacceptable:
		return "the customer says the product was defective or not as described"
	case stripe.DisputeReasonSubscriptionCanceled:
		return "the customer says they had canceled the subscription"
	case stripe.DisputeReasonCreditNotProcessed:
		return "the customer says a promised refund was not processed"
	case stripe.DisputeReasonUnrecognized:
		return "the customer does not recognize the payment"
	case stripe.DisputeReasonDebitNotAuthorized:
		return "the customer says they did not authorize the debit"
	case stripe.DisputeReasonCustomerInitiated:
		return "the customer asked their bank to reverse it"
	case stripe.DisputeReasonInsufficientFunds:
		return "the customer's account had insufficient funds"
	case stripe.DisputeReasonBankCannotProcess:
		return "the bank could not process the payment"
	case stripe.DisputeReasonIncorrectAccountDetails:
		return "the account details were incorrect"
	case stripe.DisputeReasonCheckReturned:
		return "the check was returned"
	case stripe.DisputeReasonGeneral, "":
		return "no specific reason given"
	}
	return words(string(s))
}
