package portal

import (
	"github.com/stripe/stripe-go/v76"
)

// renderDispute tells the customer that their bank disputes a payment and
// how it ended. The merchant's side (evidence, deadlines, withdrawn funds,
// fees) is for the feed room.
func (r *renderer) renderDispute() error {
	dp, err := decodeObject[stripe.Dispute](r.evt, "dispute")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = dp.ID
	amount := money(dp.Amount, dp.Currency)
	inquiry := dp.Status == stripe.DisputeStatusWarningNeedsResponse || dp.Status == stripe.DisputeStatusWarningUnderReview ||
		dp.Status == stripe.DisputeStatusWarningClosed

	switch r.evt.Type {
	case "charge.dispute.created":
		if inquiry {
			m.lead("⚠️", "Your bank asked about a payment")
		} else {
			m.lead("⚠️", "Your bank opened a dispute about a payment")
		}
		m.text(": ")
		m.bold(amount)
		m.sentence("Reason given: " + disputeReasonWords(dp.Reason) + ". We'll work it out with your bank; nothing to do for now.")
	case "charge.dispute.closed":
		m.lead("⚖️", "The dispute about your payment is closed")
		m.text(": ")
		m.bold(amount)
		switch dp.Status {
		case stripe.DisputeStatusWon:
			m.text(" · the bank decided the payment stands")
		case stripe.DisputeStatusLost:
			m.text(" · the bank decided in your favour; the money stays with you")
		case stripe.DisputeStatusWarningClosed:
			m.text(" · your bank's inquiry did not become a dispute")
		}
	}
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

// disputeReasonWords says, for the customer, what their bank gave as the
// reason.
func disputeReasonWords(s stripe.DisputeReason) string {
	switch s {
	case stripe.DisputeReasonFraudulent:
		return "the payment was not authorized by the cardholder"
	case stripe.DisputeReasonDuplicate:
		return "you were charged twice"
	case stripe.DisputeReasonProductNotReceived:
		return "what you paid for was not received"
	case stripe.DisputeReasonProductUnacceptable:
		return "what you received was defective or not as described"
	case stripe.DisputeReasonSubscriptionCanceled:
		return "the subscription had been canceled"
	case stripe.DisputeReasonCreditNotProcessed:
		return "a promised refund was not processed"
	case stripe.DisputeReasonUnrecognized:
		return "the payment was not recognized"
	case stripe.DisputeReasonDebitNotAuthorized:
		return "the debit was not authorized"
	case stripe.DisputeReasonCustomerInitiated:
		return "you asked your bank to reverse it"
	case stripe.DisputeReasonInsufficientFunds:
		return "the account had insufficient funds"
	case stripe.DisputeReasonBankCannotProcess:
		return "the bank could not process the payment"
	case stripe.DisputeReasonIncorrectAccountDetails:
		return "the account details were incorrect"
	case stripe.DisputeReasonCheckReturned:
		return "the check was returned"
	case stripe.DisputeReasonGeneral, "":
		return "none given"
	}
	return words(string(s))
}
