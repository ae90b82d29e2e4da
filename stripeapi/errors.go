package stripeapi

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// declineReasons turn Stripe's decline codes into words a customer
// understands, with what to do next.
var declineReasons = map[string]string{
	"insufficient_funds":              "the card has insufficient funds",
	"card_declined":                   "the card was declined",
	"generic_decline":                 "the card was declined by the bank",
	"expired_card":                    "the card has expired",
	"incorrect_cvc":                   "the card's security code is incorrect",
	"incorrect_number":                "the card number is incorrect",
	"processing_error":                "the bank had a processing error",
	"lost_card":                       "the card was reported lost",
	"stolen_card":                     "the card was reported stolen",
	"do_not_honor":                    "the bank declined the payment without a reason",
	"card_velocity_exceeded":          "the card's spending limit was reached",
	"authentication_required":         "the bank requires the payment to be authenticated",
	"transaction_not_allowed":         "the bank does not allow this kind of payment on the card",
	"currency_not_supported":          "the card does not support this currency",
	"fraudulent":                      "the payment was flagged as possibly fraudulent",
	"withdrawal_count_limit_exceeded": "the card's withdrawal limit was reached",
}

// DeclineReason explains a decline code in plain words; unknown codes fall
// back to the generic sentence rather than echoing a code at a customer.
func DeclineReason(code string) string {
	if reason, ok := declineReasons[code]; ok {
		return reason
	}
	return "the card was declined"
}

// IsNotFound recognises Stripe's "no such object" (404, resource_missing);
// a deleted object answers it too.
func IsNotFound(err error) bool {
	var serr *stripe.Error
	return errors.As(err, &serr) && (serr.HTTPStatusCode == http.StatusNotFound || serr.Code == stripe.ErrorCodeResourceMissing)
}

// Describe turns any error from a Stripe call into one sentence safe to show
// a user: no request dumps, no keys, no stack traces.
func Describe(err error) string {
	var serr *stripe.Error
	if errors.As(err, &serr) {
		switch {
		case serr.Type == stripe.ErrorTypeCard:
			code := string(serr.DeclineCode)
			if code == "" {
				code = string(serr.Code)
			}
			return "The payment was declined: " + DeclineReason(code) + "."
		case serr.HTTPStatusCode == 401:
			return "Stripe rejected the API key (check the account's api_key)."
		case serr.HTTPStatusCode == 403:
			return "The API key is not allowed to do this (a restricted key may need more permissions)."
		case serr.Code == stripe.ErrorCodeResourceMissing:
			return "Not found."
		case serr.Code == stripe.ErrorCodeChargeAlreadyRefunded:
			return "That payment has already been fully refunded."
		case serr.Type == stripe.ErrorTypeIdempotency:
			return "This request was already made with different details; nothing was changed."
		case serr.HTTPStatusCode == 429:
			return "Stripe is rate-limiting us; try again in a moment."
		case serr.HTTPStatusCode >= 500:
			return "Stripe had a temporary problem; try again in a moment."
		case serr.Msg != "":
			return "Stripe refused the request: " + strings.TrimSuffix(serr.Msg, ".") + "."
		}
		return "Stripe refused the request."
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return "Stripe could not be reached; try again in a moment."
	}
	return "Something went wrong talking to Stripe; try again in a moment."
}
