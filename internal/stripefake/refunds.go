package stripefake

import (
	"net/http"
)

type refund struct {
	meta
	charge, paymentIntent string
	amount                int64
	currency, reason      string
	status, description   string
}

func refundRoutes() []route {
	return []route{
		{"POST", "/v1/refunds", createRefund},
		{"GET", "/v1/refunds", listRefunds},
		{"GET", "/v1/refunds/{id}", getRefund},
		{"POST", "/v1/refunds/{id}", updateRefund},
	}
}

func (st *state) renderRefund(r *refund) obj {
	return canon(obj{
		"id": r.ID, "object": "refund", "amount": r.amount, "balance_transaction": nil,
		"charge": r.charge, "created": r.Created, "currency": r.currency,
		"description": nullable(r.description), "destination_details": nil,
		"metadata": r.Metadata, "payment_intent": nullable(r.paymentIntent),
		"reason": nullable(r.reason), "receipt_number": nil, "source_transfer_reversal": nil,
		"status": r.status, "transfer_reversal": nil,
	})
}

// refundCharge applies Stripe's refund rules and records the refund.
func (st *state) refundCharge(ch *charge, amount int64, hasAmount bool, reason string) (*refund, *Error) {
	left := ch.amount - ch.amountRefunded
	switch {
	case ch.status != "succeeded":
		return nil, errState("charge_not_refundable", "Charge %s has not succeeded and cannot be refunded.", ch.ID)
	case ch.disputed:
		return nil, errState("charge_disputed", "Charge %s has been charged back; cannot issue a refund.", ch.ID)
	case left <= 0:
		return nil, errState("charge_already_refunded", "Charge %s has already been refunded.", ch.ID)
	case hasAmount && amount <= 0:
		return nil, invalidRequest(http.StatusBadRequest, "parameter_invalid_integer", "amount",
			"This value must be greater than or equal to 1.")
	case hasAmount && amount > left:
		return nil, invalidRequest(http.StatusBadRequest, "amount_too_large", "amount",
			"Refund amount (%s) is greater than unrefunded amount on charge (%s)",
			formatMoney(amount, ch.currency), formatMoney(left, ch.currency))
	}
	switch reason {
	case "", "duplicate", "fraudulent", "requested_by_customer":
	default:
		return nil, errInvalidParam("reason", "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer")
	}
	if !hasAmount {
		amount = left
	}
	r := &refund{
		meta: st.newMeta("re_", 24), charge: ch.ID, paymentIntent: ch.paymentIntent,
		amount: amount, currency: ch.currency, reason: reason, status: "succeeded",
	}
	st.refunds.add(r)
	done := st.changed("charge.refunded", func() obj { return st.renderCharge(ch) })
	ch.amountRefunded += amount
	done()
	st.emit("refund.created", st.renderRefund(r), nil)
	return r, nil
}

func createRefund(st *state, c *call) (any, *Error) {
	amount, hasAmount := c.p.int("amount")
	md := map[string]string{}
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	chID, piID := c.p.s("charge"), c.p.s("payment_intent")
	var ch *charge
	switch {
	case chID != "":
		var e *Error
		if ch, e = st.getChargeByID(chID, "charge"); e != nil {
			return nil, e
		}
		if piID != "" && ch.paymentIntent != piID {
			return nil, errInvalidParam("payment_intent", "Charge %s does not belong to PaymentIntent %s.", chID, piID)
		}
	case piID != "":
		pi, ok := st.paymentIntents.get(piID)
		if !ok {
			return nil, errMissing("payment_intent", piID, "payment_intent")
		}
		if ch, ok = st.charges.get(pi.latestCharge); !ok || pi.status != "succeeded" {
			return nil, errState("charge_not_refundable", "This PaymentIntent (%s) does not have a successful charge to refund.", piID)
		}
	default:
		return nil, errInvalidParam("charge", "One of the following params should be provided for this request: payment_intent or charge.")
	}
	r, e := st.refundCharge(ch, amount, hasAmount, c.p.s("reason"))
	if e != nil {
		return nil, e
	}
	r.Metadata = md
	return st.renderRefund(r), nil
}

func listRefunds(st *state, c *call) (any, *Error) {
	chID, piID := c.p.s("charge"), c.p.s("payment_intent")
	created := createdFilter(c.p, "created")
	items := st.refunds.filter(func(r *refund) bool {
		return (chID == "" || r.charge == chID) && (piID == "" || r.paymentIntent == piID) && created(r.Created)
	})
	return listResponse(c, "/v1/refunds", "refund", items, st.renderRefund)
}

func getRefund(st *state, c *call) (any, *Error) {
	r, ok := st.refunds.get(c.v("id"))
	if !ok {
		return nil, errMissing("refund", c.v("id"), "id")
	}
	return st.renderRefund(r), nil
}

func updateRefund(st *state, c *call) (any, *Error) {
	r, ok := st.refunds.get(c.v("id"))
	if !ok {
		return nil, errMissing("refund", c.v("id"), "id")
	}
	md := metadataCopy(r.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	done := st.changed("refund.updated", func() obj { return st.renderRefund(r) })
	r.Metadata = md
	done()
	return st.renderRefund(r), nil
}

// refundsList is the charge's `refunds` list, which 2023-10-16 only
// includes when expanded.
func (st *state) refundsList(chargeID string) obj {
	items := st.refunds.filter(func(r *refund) bool { return r.charge == chargeID })
	data := make([]obj, 0, len(items))
	for _, r := range items {
		data = append(data, st.renderRefund(r))
	}
	return listObj("/v1/charges/"+chargeID+"/refunds", data, false)
}
