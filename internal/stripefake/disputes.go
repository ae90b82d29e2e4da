package stripefake

type dispute struct {
	meta
	charge, paymentIntent    string
	amount                   int64
	currency, reason, status string
	dueBy                    int64
	evidence                 map[string]string
	submissionCount          int64
}

func disputeRoutes() []route {
	return []route{
		{"GET", "/v1/disputes", listDisputes},
		{"GET", "/v1/disputes/{id}", getDispute},
		{"POST", "/v1/disputes/{id}", updateDispute},
		{"POST", "/v1/disputes/{id}/close", closeDispute},
	}
}

// disputeEvidenceFields are the text evidence fields the fake keeps.
func disputeEvidenceFields() []string {
	return []string{
		"access_activity_log", "billing_address", "cancellation_policy_disclosure",
		"cancellation_rebuttal", "customer_communication", "customer_email_address",
		"customer_name", "customer_purchase_ip", "duplicate_charge_explanation", "product_description",
		"refund_policy_disclosure", "refund_refusal_explanation", "service_date", "uncategorized_text",
	}
}

func (st *state) renderDispute(d *dispute) obj {
	evidence := obj{}
	for _, f := range disputeEvidenceFields() {
		evidence[f] = nullable(d.evidence[f])
	}
	open := d.status == "needs_response" || d.status == "warning_needs_response"
	return canon(obj{
		"id": d.ID, "object": "dispute", "amount": d.amount, "balance_transactions": []any{},
		"charge": d.charge, "created": d.Created, "currency": d.currency, "evidence": evidence,
		"evidence_details": obj{
			"due_by": nullable(d.dueBy), "has_evidence": len(d.evidence) > 0,
			"past_due": open && d.dueBy != 0 && d.dueBy < st.unix(), "submission_count": d.submissionCount,
		},
		"is_charge_refundable": false, "livemode": st.account.Livemode, "metadata": d.Metadata,
		"network_reason_code": nil, "payment_intent": nullable(d.paymentIntent),
		"payment_method_details": obj{"card": obj{"brand": "visa", "network_reason_code": nil}, "type": "card"},
		"reason":                 d.reason, "status": d.status,
	})
}

// validDisputeReason accepts the reasons Stripe reports.
func validDisputeReason(r string) bool {
	switch r {
	case "bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
		"debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
		"insufficient_funds", "product_not_received", "product_unacceptable",
		"subscription_canceled", "unrecognized":
		return true
	}
	return false
}

// openDispute is a cardholder disputing a successful charge: the dispute
// starts in needs_response with evidence due in a week, and the charge is
// marked disputed.
func (st *state) openDispute(ch *charge, reason string, amount int64) (*dispute, *Error) {
	if reason == "" {
		reason = "fraudulent"
	}
	switch {
	case !validDisputeReason(reason):
		return nil, errInvalidParam("reason", "Invalid dispute reason: %s", reason)
	case ch.status != "succeeded":
		return nil, errState("", "Charge %s has not succeeded, so it cannot be disputed.", ch.ID)
	case ch.disputed:
		return nil, errState("charge_disputed", "Charge %s is already disputed.", ch.ID)
	}
	if amount <= 0 || amount > ch.amount-ch.amountRefunded {
		amount = ch.amount - ch.amountRefunded
	}
	d := &dispute{
		meta: st.newMeta("dp_", 24), charge: ch.ID, paymentIntent: ch.paymentIntent,
		amount: amount, currency: ch.currency, reason: reason, status: "needs_response",
		evidence: map[string]string{},
	}
	d.dueBy = d.Created + 7*86400
	st.disputes.add(d)
	done := st.changed("charge.updated", func() obj { return st.renderCharge(ch) })
	ch.disputed = true
	done()
	st.emit("charge.dispute.created", st.renderDispute(d), nil)
	return d, nil
}

func (st *state) getDisputeByID(id string) (*dispute, *Error) {
	d, ok := st.disputes.get(id)
	if !ok {
		return nil, errMissing("dispute", id, "dispute")
	}
	return d, nil
}

func listDisputes(st *state, c *call) (any, *Error) {
	chID, piID := c.p.s("charge"), c.p.s("payment_intent")
	created := createdFilter(c.p, "created")
	items := st.disputes.filter(func(d *dispute) bool {
		return (chID == "" || d.charge == chID) && (piID == "" || d.paymentIntent == piID) && created(d.Created)
	})
	return listResponse(c, "/v1/disputes", "dispute", items, st.renderDispute)
}

func getDispute(st *state, c *call) (any, *Error) {
	d, e := st.getDisputeByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	return st.renderDispute(d), nil
}

func updateDispute(st *state, c *call) (any, *Error) {
	d, e := st.getDisputeByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	submit, _ := c.p.boolean("submit")
	md := metadataCopy(d.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if d.status != "needs_response" && d.status != "warning_needs_response" {
		return nil, errState("", "This dispute is already closed or under review and cannot be updated.")
	}
	done := st.changed("charge.dispute.updated", func() obj { return st.renderDispute(d) })
	ev := c.p.sub("evidence")
	for _, f := range disputeEvidenceFields() {
		if v, ok := ev.str(f); ok {
			d.evidence[f] = v
		}
	}
	d.Metadata = md
	if submit {
		d.status = "under_review"
		d.submissionCount++
	}
	done()
	return st.renderDispute(d), nil
}

func closeDispute(st *state, c *call) (any, *Error) {
	d, e := st.getDisputeByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	if d.status != "needs_response" && d.status != "warning_needs_response" {
		return nil, errState("", "This dispute is already closed or under review.")
	}
	d.status = "lost"
	out := st.renderDispute(d)
	st.emit("charge.dispute.closed", out, nil)
	return out, nil
}
