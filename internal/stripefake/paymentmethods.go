package stripefake

import (
	"net/http"
	"strings"
)

type paymentMethod struct {
	meta
	customer                           string
	brand, last4, funding, fingerprint string
	expMonth, expYear                  int64
	name, email                        string
}

func paymentMethodRoutes() []route {
	return []route{
		{"POST", "/v1/payment_methods", createPaymentMethod},
		{"GET", "/v1/payment_methods", listPaymentMethods},
		{"GET", "/v1/payment_methods/{id}", getPaymentMethod},
		{"POST", "/v1/payment_methods/{id}", updatePaymentMethod},
		{"POST", "/v1/payment_methods/{id}/attach", attachPaymentMethod},
		{"POST", "/v1/payment_methods/{id}/detach", detachPaymentMethod},
		{"GET", "/v1/customers/{customer}/payment_methods", listCustomerPaymentMethods},
		{"GET", "/v1/customers/{customer}/payment_methods/{id}", getCustomerPaymentMethod},
	}
}

func (st *state) renderPaymentMethod(pm *paymentMethod) obj {
	return canon(obj{
		"id":     pm.ID,
		"object": "payment_method",
		"billing_details": obj{
			"address": obj{"city": nil, "country": nil, "line1": nil, "line2": nil, "postal_code": nil, "state": nil},
			"email":   nullable(pm.email),
			"name":    nullable(pm.name),
			"phone":   nil,
		},
		"card": obj{
			"brand":                pm.brand,
			"checks":               obj{"address_line1_check": nil, "address_postal_code_check": nil, "cvc_check": "pass"},
			"country":              "US",
			"display_brand":        pm.brand,
			"exp_month":            pm.expMonth,
			"exp_year":             pm.expYear,
			"fingerprint":          pm.fingerprint,
			"funding":              pm.funding,
			"generated_from":       nil,
			"last4":                pm.last4,
			"networks":             obj{"available": []string{pm.brand}, "preferred": nil},
			"three_d_secure_usage": obj{"supported": true},
			"wallet":               nil,
		},
		"created":  pm.Created,
		"customer": nullable(pm.customer),
		"livemode": st.account.Livemode,
		"metadata": pm.Metadata,
		"type":     "card",
	})
}

// testCard maps Stripe's magic test ids (pm_card_visa, tok_chargeDeclined…)
// to a card brand and last four digits.
func testCard(id string) (brand, last4 string, ok bool) {
	name, found := strings.CutPrefix(id, "pm_card_")
	if !found {
		name, found = strings.CutPrefix(id, "tok_")
	}
	if !found {
		return "", "", false
	}
	switch name {
	case "visa":
		return "visa", "4242", true
	case "visa_debit":
		return "visa", "5556", true
	case "mastercard":
		return "mastercard", "4444", true
	case "amex":
		return "amex", "0005", true
	case "discover":
		return "discover", "1117", true
	case "chargeDeclined":
		return "visa", "0002", true
	case "chargeDeclinedInsufficientFunds":
		return "visa", "9995", true
	case "chargeDeclinedLostCard":
		return "visa", "9987", true
	case "chargeDeclinedStolenCard":
		return "visa", "9979", true
	case "chargeDeclinedExpiredCard":
		return "visa", "0069", true
	case "chargeDeclinedIncorrectCvc":
		return "visa", "0127", true
	case "chargeDeclinedProcessingError":
		return "visa", "0119", true
	case "chargeCustomerFail":
		return "visa", "0341", true
	}
	return "", "", false
}

// brandOf guesses the brand from a card number's leading digits.
func brandOf(number string) string {
	switch {
	case strings.HasPrefix(number, "4"):
		return "visa"
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return "amex"
	case strings.HasPrefix(number, "5"), strings.HasPrefix(number, "2"):
		return "mastercard"
	case strings.HasPrefix(number, "6"):
		return "discover"
	case strings.HasPrefix(number, "35"):
		return "jcb"
	}
	return "unknown"
}

func (st *state) newPaymentMethod(brand, last4 string, expMonth, expYear int64) *paymentMethod {
	if expMonth == 0 {
		expMonth = 12
	}
	if expYear == 0 {
		expYear = int64(st.now().Year() + 3)
	}
	funding := "credit"
	if last4 == "5556" {
		funding = "debit"
	}
	pm := &paymentMethod{
		meta: st.newMeta("pm_", 24), brand: brand, last4: last4, funding: funding,
		expMonth: expMonth, expYear: expYear, fingerprint: st.token(16),
	}
	st.paymentMethods.add(pm)
	return pm
}

// attachPM attaches a payment method (or one of Stripe's magic test ids,
// which mint a new one) to a customer. Like Stripe, a card that declines
// is refused here, except 0341 which only fails when charged.
func (st *state) attachPM(id string, cust *customer, param string) (*paymentMethod, *Error) {
	var pm *paymentMethod
	if brand, last4, ok := testCard(id); ok {
		pm = st.newPaymentMethod(brand, last4, 0, 0)
	} else {
		found, ok := st.paymentMethods.get(id)
		if !ok {
			return nil, errMissing("payment_method", id, param)
		}
		pm = found
	}
	if pm.customer == cust.ID {
		return pm, nil
	}
	if pm.customer != "" {
		return nil, errState("", "The payment method you provided has already been attached to a customer.")
	}
	if code, declines := declineForLast4(pm.last4); declines && pm.last4 != "0341" {
		d := declineByCode(code)
		return nil, &Error{
			Status: http.StatusPaymentRequired, Type: "card_error", Code: d.code,
			DeclineCode: d.declineCode, Message: d.message, Param: "", DocURL: docURL(d.code),
		}
	}
	pm.customer = cust.ID
	return pm, nil
}

// checkCustomerPM is Stripe's check that a default payment method belongs
// to the customer it is set on.
func (st *state) checkCustomerPM(cust *customer, id, param string) *Error {
	pm, ok := st.paymentMethods.get(id)
	if !ok || pm.customer != cust.ID {
		return invalidRequest(http.StatusBadRequest, "resource_missing", param,
			"The customer does not have a payment method with the ID %s. The payment method must be attached to the customer.", id)
	}
	return nil
}

func createPaymentMethod(st *state, c *call) (any, *Error) {
	p := c.p
	card := p.sub("card")
	expMonth, _ := card.int("exp_month")
	expYear, _ := card.int("exp_year")
	md := map[string]string{}
	p.applyMetadata(md)
	if e := p.check(); e != nil {
		return nil, e
	}
	if t := p.s("type"); t != "card" {
		if t == "" {
			return nil, errParamMissing("type")
		}
		return nil, errInvalidParam("type", "The fake only supports card payment methods, not %s.", t)
	}
	var brand, last4 string
	if tok := card.s("token"); tok != "" {
		b, l, ok := testCard(tok)
		if !ok {
			return nil, errMissing("token", tok, "card[token]")
		}
		brand, last4 = b, l
	} else {
		number := strings.ReplaceAll(card.s("number"), " ", "")
		if len(number) < 12 {
			return nil, invalidRequest(http.StatusPaymentRequired, "incorrect_number", "card[number]", "Your card number is incorrect.")
		}
		brand, last4 = brandOf(number), number[len(number)-4:]
	}
	pm := st.newPaymentMethod(brand, last4, expMonth, expYear)
	pm.Metadata = md
	billing := p.sub("billing_details")
	pm.name, pm.email = billing.s("name"), billing.s("email")
	return st.renderPaymentMethod(pm), nil
}

func getPaymentMethod(st *state, c *call) (any, *Error) {
	pm, ok := st.paymentMethods.get(c.v("id"))
	if !ok {
		return nil, errMissing("payment_method", c.v("id"), "id")
	}
	return st.renderPaymentMethod(pm), nil
}

func getCustomerPaymentMethod(st *state, c *call) (any, *Error) {
	if _, e := st.liveCustomer(c.v("customer"), "customer"); e != nil {
		return nil, e
	}
	pm, ok := st.paymentMethods.get(c.v("id"))
	if !ok || pm.customer != c.v("customer") {
		return nil, errMissing("payment_method", c.v("id"), "payment_method")
	}
	return st.renderPaymentMethod(pm), nil
}

func updatePaymentMethod(st *state, c *call) (any, *Error) {
	pm, ok := st.paymentMethods.get(c.v("id"))
	if !ok {
		return nil, errMissing("payment_method", c.v("id"), "id")
	}
	card := c.p.sub("card")
	expMonth, hasMonth := card.int("exp_month")
	expYear, hasYear := card.int("exp_year")
	md := metadataCopy(pm.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	done := st.changed("payment_method.updated", func() obj { return st.renderPaymentMethod(pm) })
	if hasMonth {
		pm.expMonth = expMonth
	}
	if hasYear {
		pm.expYear = expYear
	}
	billing := c.p.sub("billing_details")
	if v, ok := billing.str("name"); ok {
		pm.name = v
	}
	if v, ok := billing.str("email"); ok {
		pm.email = v
	}
	pm.Metadata = md
	done()
	return st.renderPaymentMethod(pm), nil
}

func listPaymentMethods(st *state, c *call) (any, *Error) {
	customerID := c.p.s("customer")
	typ := c.p.s("type")
	if customerID != "" {
		if _, e := st.liveCustomer(customerID, "customer"); e != nil {
			return nil, e
		}
	}
	items := st.paymentMethods.filter(func(pm *paymentMethod) bool {
		return (customerID == "" || pm.customer == customerID) && (typ == "" || typ == "card")
	})
	return listResponse(c, "/v1/payment_methods", "payment_method", items, st.renderPaymentMethod)
}

func listCustomerPaymentMethods(st *state, c *call) (any, *Error) {
	cust, e := st.liveCustomer(c.v("customer"), "customer")
	if e != nil {
		return nil, e
	}
	typ := c.p.s("type")
	items := st.paymentMethods.filter(func(pm *paymentMethod) bool {
		return pm.customer == cust.ID && (typ == "" || typ == "card")
	})
	return listResponse(c, "/v1/customers/"+cust.ID+"/payment_methods", "payment_method", items, st.renderPaymentMethod)
}

func attachPaymentMethod(st *state, c *call) (any, *Error) {
	customerID := c.p.s("customer")
	if customerID == "" {
		return nil, errParamMissing("customer")
	}
	cust, e := st.liveCustomer(customerID, "customer")
	if e != nil {
		return nil, e
	}
	pm, e := st.attachPM(c.v("id"), cust, "payment_method")
	if e != nil {
		return nil, e
	}
	out := st.renderPaymentMethod(pm)
	st.emit("payment_method.attached", out, nil)
	return out, nil
}

func detachPaymentMethod(st *state, c *call) (any, *Error) {
	pm, ok := st.paymentMethods.get(c.v("id"))
	if !ok {
		return nil, errMissing("payment_method", c.v("id"), "payment_method")
	}
	if pm.customer == "" {
		return nil, errState("", "The payment method you provided is not attached to a customer so detachment is impossible.")
	}
	cust, _ := st.customers.get(pm.customer)
	before := st.renderPaymentMethod(pm)
	pm.customer = ""
	after := st.renderPaymentMethod(pm)
	st.emit("payment_method.detached", after, diff(before, after))
	if cust != nil && cust.defaultPM == pm.ID {
		done := st.changed("customer.updated", func() obj { return st.renderCustomer(cust) })
		cust.defaultPM = ""
		done()
	}
	return after, nil
}
