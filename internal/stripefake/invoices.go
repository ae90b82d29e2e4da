package stripefake

import (
	"strconv"
)

type invoice struct {
	meta
	customer, subscription                         string
	number, status                                 string
	billingReason, collectionMethod, currency      string
	lines                                          []*invoiceLine
	subtotal, discountAmount, total                int64
	discount                                       *discount
	startingBalance, endingBalance                 int64
	amountDue, amountPaid, amountRemaining         int64
	attemptCount                                   int64
	attempted, autoAdvance, paidOutOfBand          bool
	nextPaymentAttempt                             int64
	charge, paymentIntent                          string
	periodStart, periodEnd, dueDate                int64
	finalizedAt, paidAt, voidedAt, uncollectibleAt int64
	token                                          string
	description, customerEmail, customerName       string
	// upcoming marks the preview from /v1/invoices/upcoming: never stored,
	// and without an id, as Stripe renders it.
	upcoming bool
}

type invoiceLine struct {
	meta
	invoice                string
	amount, discountAmount int64
	discountID             string
	description            string
	price                  string
	quantity               int64
	periodStart, periodEnd int64
	subscription, subItem  string
	// oneOff lines come from invoice items, not a subscription.
	oneOff bool
}

func invoiceRoutes() []route {
	return []route{
		{"GET", "/v1/invoices", listInvoices},
		{"GET", "/v1/invoices/upcoming", getUpcomingInvoice},
		{"GET", "/v1/invoices/upcoming/lines", getUpcomingLines},
		{"GET", "/v1/invoices/{id}", getInvoice},
		{"POST", "/v1/invoices/{id}", updateInvoice},
		{"GET", "/v1/invoices/{id}/lines", listInvoiceLines},
		{"POST", "/v1/invoices/{id}/finalize", finalizeInvoiceHandler},
		{"POST", "/v1/invoices/{id}/pay", payInvoiceHandler},
		{"POST", "/v1/invoices/{id}/void", voidInvoiceHandler},
		{"POST", "/v1/invoices/{id}/send", sendInvoiceHandler},
		{"POST", "/v1/invoices/{id}/mark_uncollectible", markUncollectibleHandler},
	}
}

// hostedURL builds Stripe-looking links; test mode links carry test_.
func (st *state) hostedURL(base, token, suffix string) string {
	mode := "test_"
	if st.account.Livemode {
		mode = ""
	}
	return base + st.account.ID + "/" + mode + token + suffix
}

func (st *state) renderLine(l *invoiceLine) obj {
	var priceObj, plan any
	unit := int64(0)
	if p, ok := st.prices.get(l.price); ok {
		priceObj, plan, unit = st.renderPrice(p), st.renderPlan(p), p.unitAmount
	}
	discounts := []any{}
	if l.discountAmount > 0 {
		discounts = append(discounts, obj{"amount": l.discountAmount, "discount": l.discountID})
	}
	return canon(obj{
		"id": l.ID, "object": "line_item", "amount": l.amount, "amount_excluding_tax": l.amount,
		"currency": "", "description": l.description, "discount_amounts": discounts,
		"discountable": true, "discounts": []any{}, "invoice": nullable(l.invoice), "invoice_item": nil,
		"livemode": st.account.Livemode, "metadata": obj{},
		"period": obj{"start": l.periodStart, "end": l.periodEnd}, "plan": plan, "price": priceObj,
		"proration": false, "proration_details": obj{"credited_items": nil}, "quantity": l.quantity,
		"subscription": nullable(l.subscription), "subscription_item": nullable(l.subItem),
		"tax_amounts": []any{}, "tax_rates": []any{}, "type": lineType(l),
		"unit_amount_excluding_tax": strconv.FormatInt(unit, 10),
	})
}

func lineType(l *invoiceLine) string {
	if l.oneOff {
		return "invoiceitem"
	}
	return "subscription"
}

func (st *state) renderInvoice(inv *invoice) obj {
	lines := make([]obj, 0, len(inv.lines))
	for _, l := range inv.lines {
		o := st.renderLine(l)
		o["currency"] = inv.currency
		lines = append(lines, o)
	}
	linesURL := "/v1/invoices/" + inv.ID + "/lines"
	if inv.upcoming {
		linesURL = "/v1/invoices/upcoming/lines?customer=" + inv.customer
	}
	var hosted, pdf, endingBalance any
	if inv.status != "draft" {
		hosted = st.hostedURL("https://invoice.stripe.com/i/", inv.token, "?s=ap")
		pdf = st.hostedURL("https://pay.stripe.com/invoice/", inv.token, "/pdf?s=ap")
		endingBalance = inv.endingBalance
	}
	discountAmounts := []any{}
	if inv.discount != nil && inv.discountAmount > 0 {
		discountAmounts = append(discountAmounts, obj{"amount": inv.discountAmount, "discount": inv.discount.id})
	}
	var subDetails any
	if sub, ok := st.subscriptions.get(inv.subscription); ok {
		subDetails = obj{"metadata": sub.Metadata}
	}
	out := obj{
		"id": inv.ID, "object": "invoice", "account_country": st.account.Country,
		"account_name": st.account.Name, "account_tax_ids": nil, "amount_due": inv.amountDue,
		"amount_paid": inv.amountPaid, "amount_remaining": inv.amountRemaining, "amount_shipping": 0,
		"application": nil, "application_fee_amount": nil, "attempt_count": inv.attemptCount,
		"attempted": inv.attempted, "auto_advance": inv.autoAdvance,
		"automatic_tax":  obj{"enabled": false, "liability": nil, "status": nil},
		"billing_reason": inv.billingReason, "charge": nullable(inv.charge),
		"collection_method": inv.collectionMethod, "created": inv.Created, "currency": inv.currency,
		"custom_fields": nil, "customer": inv.customer, "customer_address": nil,
		"customer_email": nullable(inv.customerEmail), "customer_name": nullable(inv.customerName),
		"customer_phone": nil, "customer_shipping": nil, "customer_tax_exempt": "none",
		"customer_tax_ids": []any{}, "default_payment_method": nil, "default_source": nil,
		"default_tax_rates": []any{}, "description": nullable(inv.description),
		"discount": st.renderDiscount(inv.discount), "discounts": []any{},
		"due_date": nullable(inv.dueDate), "effective_at": nullable(inv.finalizedAt),
		"ending_balance": endingBalance, "footer": nil, "from_invoice": nil,
		"hosted_invoice_url": hosted, "invoice_pdf": pdf, "issuer": obj{"type": "self"},
		"last_finalization_error": nil, "latest_revision": nil,
		"lines": obj{
			"object": "list", "data": lines, "has_more": false, "total_count": len(lines), "url": linesURL,
		},
		"livemode": st.account.Livemode, "metadata": inv.Metadata,
		"next_payment_attempt": nullable(inv.nextPaymentAttempt), "number": nullable(inv.number),
		"on_behalf_of": nil, "paid": inv.status == "paid", "paid_out_of_band": inv.paidOutOfBand,
		"payment_intent":   nullable(inv.paymentIntent),
		"payment_settings": obj{"default_mandate": nil, "payment_method_options": nil, "payment_method_types": nil},
		"period_end":       inv.periodEnd, "period_start": inv.periodStart,
		"post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0, "quote": nil,
		"receipt_number": nil, "rendering": nil, "rendering_options": nil, "shipping_cost": nil,
		"shipping_details": nil, "starting_balance": inv.startingBalance, "statement_descriptor": nil,
		"status": inv.status,
		"status_transitions": obj{
			"finalized_at": nullable(inv.finalizedAt), "marked_uncollectible_at": nullable(inv.uncollectibleAt),
			"paid_at": nullable(inv.paidAt), "voided_at": nullable(inv.voidedAt),
		},
		"subscription": nullable(inv.subscription), "subscription_details": subDetails,
		"subtotal": inv.subtotal, "subtotal_excluding_tax": inv.subtotal, "tax": nil, "test_clock": nil,
		"total": inv.total, "total_discount_amounts": discountAmounts,
		"total_excluding_tax": inv.total, "total_tax_amounts": []any{}, "transfer_data": nil,
		"webhooks_delivered_at": inv.Created,
	}
	if inv.upcoming {
		delete(out, "id")
	}
	return canon(out)
}

func (st *state) getInvoiceByID(id string) (*invoice, *Error) {
	inv, ok := st.invoices.get(id)
	if !ok {
		return nil, errMissing("invoice", id, "invoice")
	}
	return inv, nil
}

func getInvoice(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	return st.renderInvoice(inv), nil
}

func listInvoices(st *state, c *call) (any, *Error) {
	customerID, status, subID := c.p.s("customer"), c.p.s("status"), c.p.s("subscription")
	collection := c.p.s("collection_method")
	created := createdFilter(c.p, "created")
	switch status {
	case "", "draft", "open", "paid", "uncollectible", "void":
	default:
		return nil, errInvalidParam("status", "Invalid status: must be one of draft, open, paid, uncollectible, or void")
	}
	items := st.invoices.filter(func(inv *invoice) bool {
		return (customerID == "" || inv.customer == customerID) && (status == "" || inv.status == status) &&
			(subID == "" || inv.subscription == subID) && (collection == "" || inv.collectionMethod == collection) &&
			created(inv.Created)
	})
	return listResponse(c, "/v1/invoices", "invoice", items, st.renderInvoice)
}

func (st *state) renderLineIn(inv *invoice) func(*invoiceLine) obj {
	return func(l *invoiceLine) obj {
		o := st.renderLine(l)
		o["currency"] = inv.currency
		return o
	}
}

func listInvoiceLines(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	return listResponse(c, "/v1/invoices/"+inv.ID+"/lines", "line item", inv.lines, st.renderLineIn(inv))
}

func updateInvoice(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	autoAdvance, hasAuto := c.p.boolean("auto_advance")
	md := metadataCopy(inv.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	done := st.changed("invoice.updated", func() obj { return st.renderInvoice(inv) })
	if v, ok := c.p.str("description"); ok {
		inv.description = v
	}
	if hasAuto {
		inv.autoAdvance = autoAdvance
	}
	inv.Metadata = md
	done()
	return st.renderInvoice(inv), nil
}

func finalizeInvoiceHandler(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	autoAdvance, hasAuto := c.p.boolean("auto_advance")
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if inv.status != "draft" {
		return nil, errState("invoice_not_editable", "This invoice is already finalized, you can't re-finalize a non-draft invoice.")
	}
	if hasAuto {
		inv.autoAdvance = autoAdvance
	}
	st.finalizeInvoice(inv)
	return st.renderInvoice(inv), nil
}

func payInvoiceHandler(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	outOfBand, _ := c.p.boolean("paid_out_of_band")
	pmID := c.p.s("payment_method")
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if e := st.payable(inv); e != nil {
		return nil, e
	}
	if pmID != "" {
		cust, _ := st.customers.get(inv.customer)
		if pm, ok := st.paymentMethods.get(pmID); !ok || (pm.customer != "" && cust != nil && pm.customer != cust.ID) {
			return nil, errMissing("payment_method", pmID, "payment_method")
		}
	}
	if inv.status == "draft" {
		st.finalizeInvoice(inv)
		if inv.status == "paid" {
			return st.renderInvoice(inv), nil
		}
	}
	if outOfBand {
		st.markPaid(inv, true)
		return st.renderInvoice(inv), nil
	}
	if e := st.attemptPayment(inv, payOpts{paymentMethod: pmID}); e != nil {
		return nil, e
	}
	return st.renderInvoice(inv), nil
}

// payable is Stripe's check before POST /pay.
func (st *state) payable(inv *invoice) *Error {
	switch inv.status {
	case "paid":
		return errState("invoice_not_editable", "Invoice is already paid")
	case "void":
		return errState("invoice_not_editable", "This invoice has been voided and can no longer be paid.")
	}
	return nil
}

func voidInvoiceHandler(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	if inv.status != "open" && inv.status != "uncollectible" {
		return nil, errState("invoice_not_editable", "You can only void an invoice that is open or uncollectible; this one is %s.", inv.status)
	}
	st.voidInvoice(inv)
	return st.renderInvoice(inv), nil
}

func markUncollectibleHandler(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	if inv.status != "open" {
		return nil, errState("invoice_not_editable", "You can only mark an open invoice as uncollectible; this one is %s.", inv.status)
	}
	st.markUncollectible(inv)
	return st.renderInvoice(inv), nil
}

func sendInvoiceHandler(st *state, c *call) (any, *Error) {
	inv, e := st.getInvoiceByID(c.v("id"))
	if e != nil {
		return nil, e
	}
	if inv.collectionMethod != "send_invoice" {
		return nil, errState("", "You can only manually send an invoice if its collection method is 'send_invoice'.")
	}
	if inv.status != "open" {
		return nil, errState("invoice_not_editable", "You can only send an invoice that is open; this one is %s.", inv.status)
	}
	out := st.renderInvoice(inv)
	st.emit("invoice.sent", out, nil)
	return out, nil
}

func getUpcomingInvoice(st *state, c *call) (any, *Error) {
	inv, e := st.upcomingFromCall(c)
	if e != nil {
		return nil, e
	}
	return st.renderInvoice(inv), nil
}

func getUpcomingLines(st *state, c *call) (any, *Error) {
	inv, e := st.upcomingFromCall(c)
	if e != nil {
		return nil, e
	}
	return listResponse(c, "/v1/invoices/upcoming/lines", "line item", inv.lines, st.renderLineIn(inv))
}

func (st *state) upcomingFromCall(c *call) (*invoice, *Error) {
	customerID, subID := c.p.s("customer"), c.p.s("subscription")
	changes := readItems(c.p, "subscription_items")
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if customerID == "" && subID == "" {
		return nil, errParamMissing("customer")
	}
	if customerID == "" {
		sub, e := st.getSub(subID, "subscription")
		if e != nil {
			return nil, e
		}
		customerID = sub.customer
	}
	cust, e := st.liveCustomer(customerID, "customer")
	if e != nil {
		return nil, e
	}
	return st.upcomingInvoice(cust, subID, changes)
}
