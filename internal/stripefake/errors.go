package stripefake

import (
	"fmt"
	"net/http"
	"strings"
)

// Error is a Stripe API error: the body of `{"error": …}` plus the HTTP
// status it is sent with. Handlers and control methods return it, so a Go
// caller of a control method sees the same error a client would.
type Error struct {
	Status      int    `json:"-"`
	Type        string `json:"type"`
	Code        string `json:"code,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	Message     string `json:"message"`
	Param       string `json:"param,omitempty"`
	DocURL      string `json:"doc_url,omitempty"`
	Charge      string `json:"charge,omitempty"`
	// PaymentIntent and PaymentMethod are set on card errors, as Stripe does.
	PaymentIntent obj `json:"payment_intent,omitempty"`
	PaymentMethod obj `json:"payment_method,omitempty"`
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("stripe %s (%d, %s): %s", e.Type, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("stripe %s (%d): %s", e.Type, e.Status, e.Message)
}

func docURL(code string) string {
	if code == "" {
		return ""
	}
	return "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(code, "_", "-")
}

func invalidRequest(status int, code, param, format string, args ...any) *Error {
	return &Error{
		Status:  status,
		Type:    "invalid_request_error",
		Code:    code,
		Param:   param,
		Message: fmt.Sprintf(format, args...),
		DocURL:  docURL(code),
	}
}

// errMissing is Stripe's 404 for an unknown id; kind is the object name as
// Stripe writes it in the message ("customer", "payment_method"…).
func errMissing(kind, id, param string) *Error {
	return invalidRequest(http.StatusNotFound, "resource_missing", param, "No such %s: '%s'", kind, id)
}

func errParamMissing(param string) *Error {
	return invalidRequest(http.StatusBadRequest, "parameter_missing", param, "Missing required param: %s.", param)
}

func errInvalidParam(param, format string, args ...any) *Error {
	return invalidRequest(http.StatusBadRequest, "", param, format, args...)
}

func errState(code, format string, args ...any) *Error {
	return invalidRequest(http.StatusBadRequest, code, "", format, args...)
}

func errIdempotency(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "idempotency_error", Message: fmt.Sprintf(format, args...)}
}

func errAuth(message string) *Error {
	return &Error{Status: http.StatusUnauthorized, Type: "invalid_request_error", Message: message}
}

func errInternal() *Error {
	return &Error{
		Status:  http.StatusInternalServerError,
		Type:    "api_error",
		Message: "An unknown error occurred while processing your request. Please try again.",
	}
}

func errUnknownRoute(method, path string) *Error {
	return invalidRequest(http.StatusNotFound, "", "",
		"Unrecognized request URL (%s: %s). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.", method, path)
}

// errorBody is what goes on the wire.
func errorBody(e *Error) obj {
	return obj{"error": e}
}
