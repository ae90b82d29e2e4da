package webchat

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// identity is what the merchant's token says about the customer.
type identity struct {
	Account string `json:"acct"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
	Locale  string `json:"locale,omitempty"`
	jwt.RegisteredClaims
}

// tokenLeeway allows for the clocks of the merchant's backend and the
// bridge disagreeing a little.
const tokenLeeway = time.Minute

var customerIDPattern = regexp.MustCompile(`^cus_[A-Za-z0-9]{1,64}$`)

// apiError is an answer the widget shows: a code for programs and a
// sentence for the customer.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

var (
	errTokenInvalid    = &apiError{401, "token_invalid", "This chat could not sign you in. Please reload the page."}
	errTokenAlgorithm  = &apiError{401, "token_algorithm", "This chat could not sign you in (the sign-in token is not signed the way the chat expects)."}
	errTokenExpired    = &apiError{401, "token_expired", "Your chat sign-in has expired. Please reload the page."}
	errWrongAccount    = &apiError{401, "wrong_account", "This chat could not sign you in (the sign-in token is for another account)."}
	errUnknownCustomer = &apiError{401, "unknown_customer", "This chat could not find your billing account."}
	errDisabled        = &apiError{404, "web_chat_disabled", "Chat is not available here."}
	errSessionEnded    = &apiError{401, "session_ended", "Your chat session has ended. Please reload the page."}
	errRateLimited     = &apiError{429, "rate_limited", "You are sending messages too quickly. Please wait a moment."}
	errTooLong         = &apiError{413, "too_long", "That message is too long."}
	errBadRequest      = &apiError{400, "bad_request", "The chat sent a request the bridge did not understand."}
	errOrigin          = &apiError{403, "origin_not_allowed", "This page may not use this chat."}
	errUnavailable     = &apiError{503, "unavailable", "Chat is having trouble right now. Please try again in a moment."}
)

// verifyToken checks a merchant's token for the account: HS256 and nothing
// else (none included), signed with the account's secret, not expired
// (with leeway), issued in the past, for this account, about a Stripe
// customer id.
func verifyToken(raw, account string, secret []byte, now time.Time) (*identity, error) {
	raw = strings.TrimSpace(raw)
	// The algorithm is judged before the signature, so that a token signed
	// some other way gets a message that says so.
	if head, _, err := jwt.NewParser().ParseUnverified(raw, &identity{}); err != nil {
		return nil, errTokenInvalid
	} else if alg, _ := head.Header["alg"].(string); alg != jwt.SigningMethodHS256.Alg() {
		return nil, errTokenAlgorithm
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	claims := &identity{}
	_, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, errTokenExpired
	case err != nil:
		return nil, errTokenInvalid
	case claims.Account != account:
		return nil, errWrongAccount
	case claims.IssuedAt == nil || !customerIDPattern.MatchString(claims.Subject):
		return nil, errTokenInvalid
	}
	return claims, nil
}
