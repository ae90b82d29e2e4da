package stripefake

import (
	"fmt"
	"net/http"
	"strings"
)

// payOpts steer one payment attempt. Scenarios and control methods force
// an outcome; the API path lets the card decide.
type payOpts struct {
	forceDecline  string // fail with this decline code whatever the card
	forceSuccess  bool   // succeed whatever the card (paid on the hosted page)
	paymentMethod string // pay with this one instead of the default
	skip          bool   // leave the invoice open (payment_behavior=default_incomplete)
}

// retryDelay is when Stripe's default retry schedule tries again.
const retryDelay = 3 * 86400

// maxAttempts is where Stripe's default schedule stops retrying.
const maxAttempts = 4

func (st *state) newInvoice(cust *customer, currency, reason, collection string) *invoice {
	inv := &invoice{
		meta: st.newMeta("in_", 24), customer: cust.ID, status: "draft", billingReason: reason,
		collectionMethod: collection, currency: currency, autoAdvance: true,
		customerEmail: cust.email, customerName: cust.name, token: st.token(40),
	}
	inv.periodStart, inv.periodEnd = inv.Created, inv.Created
	return inv
}

// buildSubscriptionInvoice drafts the invoice for one period of a
// subscription (stored, no event). A trialing subscription's first invoice
// is a $0 trial line.
func (st *state) buildSubscriptionInvoice(sub *subscription, reason string, start, end int64) *invoice {
	cust, _ := st.customers.get(sub.customer)
	inv := st.invoiceFor(cust, sub, sub.items, reason, start, end)
	if inv.discount != nil {
		inv.discount.used = true
	}
	st.invoices.add(inv)
	return inv
}

// invoiceFor computes an invoice for items over [start, end) without
// storing it; the upcoming-invoice preview uses it too.
func (st *state) invoiceFor(cust *customer, sub *subscription, items []*subItem, reason string, start, end int64) *invoice {
	inv := st.newInvoice(cust, sub.currency, reason, sub.collectionMethod)
	inv.subscription = sub.ID
	if reason != "subscription_create" {
		inv.periodStart, inv.periodEnd = start, end
	}
	trial := sub.status == "trialing" && reason == "subscription_create"
	for _, it := range items {
		p, ok := st.prices.get(it.price)
		if !ok {
			continue
		}
		l := &invoiceLine{
			meta: st.newMeta("il_", 24), invoice: inv.ID, price: p.ID, quantity: it.quantity,
			periodStart: start, periodEnd: end, subscription: sub.ID, subItem: it.ID,
		}
		if trial {
			l.description = fmt.Sprintf("Trial period for %s", st.productName(p))
		} else {
			l.amount = p.unitAmount * it.quantity
			l.description = fmt.Sprintf("%d × %s (at %s / %s)", it.quantity, st.productName(p),
				formatMoney(p.unitAmount, p.currency), p.interval)
		}
		inv.lines = append(inv.lines, l)
	}
	if st.discountApplies(sub.discount, start) {
		inv.discount = sub.discount
	}
	st.totals(inv)
	return inv
}

// totals fills subtotal, discount and total from the lines.
func (st *state) totals(inv *invoice) {
	inv.subtotal, inv.discountAmount = 0, 0
	for _, l := range inv.lines {
		inv.subtotal += l.amount
	}
	if inv.discount != nil {
		if cp, ok := st.coupons.get(inv.discount.coupon); ok {
			inv.discountAmount = discountOn(cp, inv.subtotal)
			left := inv.discountAmount
			for i, l := range inv.lines {
				share := left
				if i < len(inv.lines)-1 && inv.subtotal > 0 {
					share = min(left, inv.discountAmount*l.amount/inv.subtotal)
				}
				l.discountAmount, l.discountID = share, inv.discount.id
				left -= share
			}
		}
	}
	inv.total = inv.subtotal - inv.discountAmount
	inv.amountDue, inv.amountRemaining = inv.total, inv.total
}

// finalizeInvoice opens a draft: it gets a number, the customer balance is
// applied, a payment intent is made for what is left, and a $0 invoice is
// paid on the spot.
func (st *state) finalizeInvoice(inv *invoice) {
	cust, _ := st.customers.get(inv.customer)
	now := st.unix()
	inv.number = fmt.Sprintf("%s-%04d", cust.invoicePrefix, cust.nextInvoiceSeq)
	cust.nextInvoiceSeq++
	inv.status, inv.finalizedAt = "open", now
	inv.startingBalance = cust.balance
	after := inv.total + cust.balance
	due, ending := after, int64(0)
	if after < 0 {
		due, ending = 0, after
	}
	inv.amountDue, inv.amountRemaining, inv.endingBalance = due, due, ending
	if ending != cust.balance {
		st.adjustBalance(cust, ending-cust.balance, inv.currency, "applied_to_invoice", "", inv.ID)
	}
	if inv.collectionMethod == "send_invoice" {
		if sub, ok := st.subscriptions.get(inv.subscription); ok && sub.daysUntilDue > 0 {
			inv.dueDate = now + sub.daysUntilDue*86400
		}
	} else if due > 0 {
		inv.nextPaymentAttempt = now
	}
	if due > 0 {
		pi := st.newPaymentIntent(cust, inv)
		inv.paymentIntent = pi.ID
		st.emit("payment_intent.created", st.renderPaymentIntent(pi), nil)
	}
	st.emit("invoice.finalized", st.renderInvoice(inv), nil)
	if due == 0 {
		st.markPaid(inv, false)
	}
}

// advanceInvoice is what auto_advance does to a fresh subscription
// invoice, honouring pause_collection.
func (st *state) advanceInvoice(inv *invoice, sub *subscription, pay payOpts) {
	if sub != nil && sub.pauseBehavior == "keep_as_draft" {
		inv.autoAdvance = false
		return
	}
	st.finalizeInvoice(inv)
	if inv.status != "open" {
		return
	}
	if sub != nil {
		switch sub.pauseBehavior {
		case "mark_uncollectible":
			st.markUncollectible(inv)
			return
		case "void":
			st.voidInvoice(inv)
			return
		}
	}
	if inv.collectionMethod == "charge_automatically" && !pay.skip {
		_ = st.attemptPayment(inv, pay) // a decline is recorded on the invoice
	}
}

// paymentMethodFor picks what Stripe charges: the explicit one, else the
// subscription's default, else the customer's invoice default.
func (st *state) paymentMethodFor(inv *invoice, explicit string) *paymentMethod {
	ids := []string{explicit}
	if sub, ok := st.subscriptions.get(inv.subscription); ok {
		ids = append(ids, sub.defaultPM)
	}
	if cust, ok := st.customers.get(inv.customer); ok {
		ids = append(ids, cust.defaultPM)
	}
	for _, id := range ids {
		if pm, ok := st.paymentMethods.get(id); ok && id != "" {
			return pm
		}
	}
	return nil
}

// attemptPayment charges an open invoice once. On a decline it records the
// failed charge and returns the 402 card error Stripe returns from /pay.
func (st *state) attemptPayment(inv *invoice, pay payOpts) *Error {
	cust, _ := st.customers.get(inv.customer)
	pm := st.paymentMethodFor(inv, pay.paymentMethod)
	if pm == nil {
		if !pay.forceSuccess && pay.forceDecline == "" {
			return errState("", "This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.")
		}
		pm = st.newPaymentMethod("visa", "4242", 0, 0)
	}
	code := pay.forceDecline
	if code == "" && !pay.forceSuccess {
		code, _ = declineForLast4(pm.last4)
	}
	pi, ok := st.paymentIntents.get(inv.paymentIntent)
	if !ok {
		pi = st.newPaymentIntent(cust, inv)
		inv.paymentIntent = pi.ID
	}
	ch := st.newCharge(cust, pi, pm, inv.amountRemaining, code)
	inv.attemptCount++
	inv.attempted, inv.charge = true, ch.ID
	pi.latestCharge, pi.paymentMethod = ch.ID, pm.ID
	if code == "" {
		pi.status, pi.amountReceived, pi.lastError = "succeeded", ch.amount, nil
		st.emit("payment_intent.succeeded", st.renderPaymentIntent(pi), nil)
		st.markPaid(inv, false)
		return nil
	}
	d := declineByCode(code)
	pi.status = "requires_payment_method"
	pi.lastError = &Error{
		Status: http.StatusPaymentRequired, Type: "card_error", Code: d.code, DeclineCode: d.declineCode,
		Message: d.message, Charge: ch.ID, DocURL: docURL(d.code), PaymentMethod: st.renderPaymentMethod(pm),
	}
	st.emit("payment_intent.payment_failed", st.renderPaymentIntent(pi), nil)
	inv.nextPaymentAttempt = 0
	if inv.attemptCount < maxAttempts && inv.collectionMethod == "charge_automatically" {
		inv.nextPaymentAttempt = st.unix() + retryDelay
	}
	st.emit("invoice.payment_failed", st.renderInvoice(inv), nil)
	st.syncSubscription(inv)
	st.refreshDelinquent(cust)
	e := *pi.lastError
	e.PaymentIntent = st.renderPaymentIntent(pi)
	return &e
}

// markPaid settles an invoice (after a charge, for $0, or out of band).
func (st *state) markPaid(inv *invoice, outOfBand bool) {
	inv.amountPaid += inv.amountRemaining
	inv.amountRemaining, inv.nextPaymentAttempt = 0, 0
	inv.status, inv.paidAt, inv.paidOutOfBand = "paid", st.unix(), outOfBand
	if outOfBand {
		if pi, ok := st.paymentIntents.get(inv.paymentIntent); ok && pi.status != "succeeded" {
			pi.status, pi.canceledAt = "canceled", st.unix()
		}
	}
	out := st.renderInvoice(inv)
	st.emit("invoice.paid", out, nil)
	st.emit("invoice.payment_succeeded", out, nil)
	st.syncSubscription(inv)
	if cust, ok := st.customers.get(inv.customer); ok {
		st.refreshDelinquent(cust)
	}
}

func (st *state) voidInvoice(inv *invoice) {
	cust, _ := st.customers.get(inv.customer)
	inv.status, inv.voidedAt = "void", st.unix()
	inv.amountRemaining, inv.nextPaymentAttempt = 0, 0
	if pi, ok := st.paymentIntents.get(inv.paymentIntent); ok && pi.status != "succeeded" {
		pi.status, pi.canceledAt, pi.cancellationReason = "canceled", st.unix(), "void_invoice"
		st.emit("payment_intent.canceled", st.renderPaymentIntent(pi), nil)
	}
	// Credit the invoice consumed goes back to the customer.
	if applied := inv.endingBalance - inv.startingBalance; applied != 0 {
		st.adjustBalance(cust, -applied, inv.currency, "unapplied_from_invoice", "", inv.ID)
	}
	st.emit("invoice.voided", st.renderInvoice(inv), nil)
	st.syncSubscription(inv)
	st.refreshDelinquent(cust)
}

func (st *state) markUncollectible(inv *invoice) {
	inv.status, inv.uncollectibleAt, inv.nextPaymentAttempt = "uncollectible", st.unix(), 0
	st.emit("invoice.marked_uncollectible", st.renderInvoice(inv), nil)
	st.syncSubscription(inv)
	if cust, ok := st.customers.get(inv.customer); ok {
		st.refreshDelinquent(cust)
	}
}

// upcomingInvoice previews the next invoice of the customer's subscription
// that renews first (or of subID), with items[] changes applied.
func (st *state) upcomingInvoice(cust *customer, subID string, changes []itemSpec) (*invoice, *Error) {
	none := invalidRequest(http.StatusNotFound, "invoice_upcoming_none", "",
		"No upcoming invoices for customer: %s", cust.ID)
	var next *subscription
	for _, sub := range st.subscriptions.filter(func(s *subscription) bool { return s.customer == cust.ID }) {
		if subID != "" && sub.ID != subID {
			continue
		}
		renews := !sub.ended() && sub.status != "incomplete" && !sub.cancelAtPeriodEnd &&
			(sub.cancelAt == 0 || sub.cancelAt > sub.periodEnd)
		if renews && (next == nil || sub.periodEnd < next.periodEnd) {
			next = sub
		}
	}
	if subID != "" {
		if _, ok := st.subscriptions.get(subID); !ok {
			return nil, errMissing("subscription", subID, "subscription")
		}
	}
	if next == nil {
		return nil, none
	}
	items, e := st.planItems(next, changes)
	if e != nil {
		return nil, e
	}
	interval, count := st.subInterval(next)
	start := next.periodEnd
	preview := *next
	preview.status = "active"
	inv := st.invoiceFor(cust, &preview, items, "upcoming", start, addInterval(start, interval, count))
	inv.ID, inv.upcoming = "", true
	inv.Created, inv.periodStart, inv.periodEnd = start, next.periodStart, next.periodEnd
	inv.nextPaymentAttempt = start + 3600
	inv.startingBalance = cust.balance
	if after := inv.total + cust.balance; after < 0 {
		inv.amountDue, inv.endingBalance = 0, after
	} else {
		inv.amountDue = after
	}
	inv.amountRemaining = inv.amountDue
	for _, l := range inv.lines {
		l.invoice = ""
	}
	return inv, nil
}

// zeroDecimal lists currencies Stripe counts in whole units.
func zeroDecimal(currency string) bool {
	switch strings.ToLower(currency) {
	case "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return true
	}
	return false
}

// formatMoney writes an amount in minor units as Stripe's line
// descriptions do ("$20.00").
func formatMoney(amount int64, currency string) string {
	symbol := strings.ToUpper(currency) + " "
	switch strings.ToLower(currency) {
	case "usd":
		symbol = "$"
	case "eur":
		symbol = "€"
	case "gbp":
		symbol = "£"
	case "jpy":
		symbol = "¥"
	}
	if zeroDecimal(currency) {
		return fmt.Sprintf("%s%d", symbol, amount)
	}
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	return fmt.Sprintf("%s%s%d.%02d", sign, symbol, amount/100, amount%100)
}
