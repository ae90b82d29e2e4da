package stripefake

type charge struct {
	meta
	customer, invoice, paymentIntent, paymentMethod string
	amount, amountRefunded                          int64
	currency, status                                string
	declineCode                                     string
	brand, last4, funding, fingerprint              string
	expMonth, expYear                               int64
	receiptToken, receiptEmail, description         string
	disputed                                        bool
}

type paymentIntent struct {
	meta
	customer, invoice, paymentMethod, latestCharge string
	amount, amountReceived                         int64
	currency, status                               string
	lastError                                      *Error
	canceledAt                                     int64
	cancellationReason                             string
	clientSecret, description                      string
}

func paymentRoutes() []route {
	return []route{
		{"GET", "/v1/charges", listCharges},
		{"GET", "/v1/charges/{id}", getCharge},
		{"POST", "/v1/charges/{id}", updateCharge},
		{"GET", "/v1/payment_intents", listPaymentIntents},
		{"GET", "/v1/payment_intents/{id}", getPaymentIntent},
		{"POST", "/v1/payment_intents/{id}", updatePaymentIntent},
	}
}

// decline is how an issuer refusal shows up in errors and charge outcomes.
type decline struct {
	code, declineCode, message, sellerMessage string
}

// declineByCode builds Stripe's messages for a decline code.
func declineByCode(dc string) decline {
	d := decline{
		code: "card_declined", declineCode: dc, message: "Your card was declined.",
		sellerMessage: "The bank returned the decline code `" + dc + "`.",
	}
	switch dc {
	case "generic_decline":
		d.sellerMessage = "The bank did not return any further details with this decline."
	case "insufficient_funds":
		d.message = "Your card has insufficient funds."
	case "expired_card":
		d.code, d.message = "expired_card", "Your card has expired."
	case "incorrect_cvc":
		d.code, d.message = "incorrect_cvc", "Your card's security code is incorrect."
	case "processing_error":
		d.code, d.message = "processing_error", "An error occurred while processing your card. Try again in a little bit."
	}
	return d
}

// declineForLast4 says which of Stripe's test cards decline, and how.
func declineForLast4(last4 string) (string, bool) {
	switch last4 {
	case "0002", "0341":
		return "generic_decline", true
	case "9995":
		return "insufficient_funds", true
	case "9987":
		return "lost_card", true
	case "9979":
		return "stolen_card", true
	case "0069":
		return "expired_card", true
	case "0127":
		return "incorrect_cvc", true
	case "0119":
		return "processing_error", true
	}
	return "", false
}

func (st *state) newPaymentIntent(cust *customer, inv *invoice) *paymentIntent {
	pi := &paymentIntent{
		meta: st.newMeta("pi_", 24), customer: cust.ID, invoice: inv.ID, amount: inv.amountRemaining,
		currency: inv.currency, status: "requires_payment_method",
	}
	pi.clientSecret = pi.ID + "_secret_" + st.token(25)
	if inv.number != "" {
		pi.description = "Invoice " + inv.number
	}
	st.paymentIntents.add(pi)
	return pi
}

// newCharge records one charge attempt; declineCode "" means it succeeded.
func (st *state) newCharge(cust *customer, pi *paymentIntent, pm *paymentMethod, amount int64, declineCode string) *charge {
	ch := &charge{
		meta: st.newMeta("ch_", 24), customer: cust.ID, invoice: pi.invoice, paymentIntent: pi.ID,
		paymentMethod: pm.ID, amount: amount, currency: pi.currency, status: "succeeded",
		declineCode: declineCode, brand: pm.brand, last4: pm.last4, funding: pm.funding,
		fingerprint: pm.fingerprint, expMonth: pm.expMonth, expYear: pm.expYear,
		receiptToken: st.token(40), receiptEmail: cust.email, description: pi.description,
	}
	if declineCode != "" {
		ch.status = "failed"
	}
	st.charges.add(ch)
	typ := "charge.succeeded"
	if declineCode != "" {
		typ = "charge.failed"
	}
	st.emit(typ, st.renderCharge(ch), nil)
	return ch
}

func (st *state) renderCharge(ch *charge) obj {
	ok := ch.status == "succeeded"
	outcome := obj{
		"network_status": "approved_by_network", "reason": nil, "risk_level": "normal",
		"risk_score": 32, "seller_message": "Payment complete.", "type": "authorized",
	}
	var failureCode, failureMessage, receiptURL any
	if ok {
		receiptURL = st.hostedURL("https://pay.stripe.com/receipts/payment/", ch.receiptToken, "?s=ap")
	} else {
		d := declineByCode(ch.declineCode)
		failureCode, failureMessage = d.code, d.message
		outcome["network_status"], outcome["reason"] = "declined_by_network", ch.declineCode
		outcome["seller_message"], outcome["type"] = d.sellerMessage, "issuer_declined"
	}
	captured := int64(0)
	if ok {
		captured = ch.amount
	}
	return canon(obj{
		"id": ch.ID, "object": "charge", "amount": ch.amount, "amount_captured": captured,
		"amount_refunded": ch.amountRefunded, "application": nil, "application_fee": nil,
		"application_fee_amount": nil, "balance_transaction": nil,
		"billing_details": obj{
			"address": obj{"city": nil, "country": nil, "line1": nil, "line2": nil, "postal_code": nil, "state": nil},
			"email":   nil, "name": nil, "phone": nil,
		},
		"calculated_statement_descriptor": "FAKE STRIPE", "captured": ok, "created": ch.Created,
		"currency": ch.currency, "customer": nullable(ch.customer), "description": nullable(ch.description),
		"disputed": ch.disputed, "failure_balance_transaction": nil, "failure_code": failureCode,
		"failure_message": failureMessage, "fraud_details": obj{}, "invoice": nullable(ch.invoice),
		"livemode": st.account.Livemode, "metadata": ch.Metadata, "on_behalf_of": nil, "outcome": outcome,
		"paid": ok, "payment_intent": nullable(ch.paymentIntent), "payment_method": ch.paymentMethod,
		"payment_method_details": obj{
			"card": obj{
				"amount_authorized": captured, "brand": ch.brand,
				"checks":  obj{"address_line1_check": nil, "address_postal_code_check": nil, "cvc_check": "pass"},
				"country": "US", "exp_month": ch.expMonth, "exp_year": ch.expYear,
				"fingerprint": ch.fingerprint, "funding": ch.funding, "installments": nil, "last4": ch.last4,
				"mandate": nil, "network": ch.brand, "three_d_secure": nil, "wallet": nil,
			},
			"type": "card",
		},
		"radar_options": obj{}, "receipt_email": nullable(ch.receiptEmail), "receipt_number": nil,
		"receipt_url": receiptURL, "refunded": ch.amountRefunded > 0 && ch.amountRefunded >= ch.amount,
		"review": nil, "shipping": nil, "source": nil, "source_transfer": nil,
		"statement_descriptor": nil, "statement_descriptor_suffix": nil, "status": ch.status,
		"transfer_data": nil, "transfer_group": nil,
	})
}

func (st *state) renderPaymentIntent(pi *paymentIntent) obj {
	var lastErr any
	if pi.lastError != nil {
		lastErr = pi.lastError
	}
	return canon(obj{
		"id": pi.ID, "object": "payment_intent", "amount": pi.amount, "amount_capturable": 0,
		"amount_details": obj{"tip": obj{}}, "amount_received": pi.amountReceived, "application": nil,
		"application_fee_amount": nil, "automatic_payment_methods": nil,
		"canceled_at": nullable(pi.canceledAt), "cancellation_reason": nullable(pi.cancellationReason),
		"capture_method": "automatic", "client_secret": pi.clientSecret,
		"confirmation_method": "automatic", "created": pi.Created, "currency": pi.currency,
		"customer": nullable(pi.customer), "description": nullable(pi.description),
		"invoice": nullable(pi.invoice), "last_payment_error": lastErr,
		"latest_charge": nullable(pi.latestCharge), "livemode": st.account.Livemode,
		"metadata": pi.Metadata, "next_action": nil, "on_behalf_of": nil,
		"payment_method": nullable(pi.paymentMethod), "payment_method_configuration_details": nil,
		"payment_method_options": obj{"card": obj{
			"installments": nil, "mandate_options": nil, "network": nil, "request_three_d_secure": "automatic",
		}},
		"payment_method_types": []string{"card"}, "processing": nil, "receipt_email": nil, "review": nil,
		"setup_future_usage": nil, "shipping": nil, "source": nil, "statement_descriptor": nil,
		"statement_descriptor_suffix": nil, "status": pi.status, "transfer_data": nil,
		"transfer_group": nil,
	})
}

func (st *state) getChargeByID(id, param string) (*charge, *Error) {
	ch, ok := st.charges.get(id)
	if !ok {
		return nil, errMissing("charge", id, param)
	}
	return ch, nil
}

func listCharges(st *state, c *call) (any, *Error) {
	customerID, piID := c.p.s("customer"), c.p.s("payment_intent")
	created := createdFilter(c.p, "created")
	items := st.charges.filter(func(ch *charge) bool {
		return (customerID == "" || ch.customer == customerID) &&
			(piID == "" || ch.paymentIntent == piID) && created(ch.Created)
	})
	return listResponse(c, "/v1/charges", "charge", items, st.renderCharge)
}

func getCharge(st *state, c *call) (any, *Error) {
	ch, e := st.getChargeByID(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	return st.renderCharge(ch), nil
}

func updateCharge(st *state, c *call) (any, *Error) {
	ch, e := st.getChargeByID(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	md := metadataCopy(ch.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	done := st.changed("charge.updated", func() obj { return st.renderCharge(ch) })
	if v, ok := c.p.str("description"); ok {
		ch.description = v
	}
	ch.Metadata = md
	done()
	return st.renderCharge(ch), nil
}

func listPaymentIntents(st *state, c *call) (any, *Error) {
	customerID := c.p.s("customer")
	created := createdFilter(c.p, "created")
	items := st.paymentIntents.filter(func(pi *paymentIntent) bool {
		return (customerID == "" || pi.customer == customerID) && created(pi.Created)
	})
	return listResponse(c, "/v1/payment_intents", "payment_intent", items, st.renderPaymentIntent)
}

func getPaymentIntent(st *state, c *call) (any, *Error) {
	pi, ok := st.paymentIntents.get(c.v("id"))
	if !ok {
		return nil, errMissing("payment_intent", c.v("id"), "intent")
	}
	return st.renderPaymentIntent(pi), nil
}

func updatePaymentIntent(st *state, c *call) (any, *Error) {
	pi, ok := st.paymentIntents.get(c.v("id"))
	if !ok {
		return nil, errMissing("payment_intent", c.v("id"), "intent")
	}
	md := metadataCopy(pi.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if v, ok := c.p.str("description"); ok {
		pi.description = v
	}
	pi.Metadata = md
	return st.renderPaymentIntent(pi), nil
}
