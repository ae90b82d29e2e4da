package stripefake

import (
	"net/http"
	"strconv"
)

// subSpec is a subscription to create, from the API or a scenario.
type subSpec struct {
	id                string
	items             []itemSpec
	trialEnd          int64
	defaultPM         string
	coupon            string
	collectionMethod  string
	paymentBehavior   string
	description       string
	daysUntilDue      int64
	cancelAtPeriodEnd bool
	metadata          map[string]string
	pay               payOpts
}

// createSubscription validates and starts a subscription the way Stripe
// does: it bills the first period (or a $0 trial invoice) right away and
// tries to charge it, so the status depends on the payment.
func (st *state) createSubscription(cust *customer, spec subSpec) (*subscription, *Error) {
	if len(spec.items) == 0 {
		return nil, errParamMissing("items")
	}
	m := st.newMeta("sub_", 24)
	if spec.id != "" {
		if _, dup := st.subscriptions.get(spec.id); dup {
			return nil, errState("resource_already_exists", "Subscription %s already exists.", spec.id)
		}
		m.ID = spec.id
	}
	currency := ""
	items := make([]*subItem, 0, len(spec.items))
	for _, it := range spec.items {
		if it.price == "" {
			return nil, errParamMissing(it.param + "[price]")
		}
		p, e := st.checkPrice(it.price, it.param+"[price]", currency)
		if e != nil {
			return nil, e
		}
		currency = p.currency
		items = append(items, st.newSubItem(m.ID, p.ID, it))
	}
	if cust.currency != "" && cust.currency != currency {
		return nil, errInvalidParam("items[0][price]",
			"You cannot combine currencies on a single customer. This customer has had a subscription or payment in %s, but you are trying to pay in %s.",
			cust.currency, currency)
	}
	if spec.defaultPM != "" {
		if e := st.checkCustomerPM(cust, spec.defaultPM, "default_payment_method"); e != nil {
			return nil, e
		}
	}
	var cp *coupon
	if spec.coupon != "" {
		var e *Error
		if cp, e = st.liveCoupon(spec.coupon, "coupon"); e != nil {
			return nil, e
		}
	}
	collection := spec.collectionMethod
	switch collection {
	case "":
		collection = "charge_automatically"
	case "charge_automatically":
	case "send_invoice":
		if spec.daysUntilDue <= 0 {
			return nil, errParamMissing("days_until_due")
		}
	default:
		return nil, errInvalidParam("collection_method", "Invalid collection_method: must be one of charge_automatically or send_invoice")
	}
	now := st.unix()
	sub := &subscription{
		meta: m, customer: cust.ID, status: "incomplete", items: items,
		periodStart: now, startDate: now, billingAnchor: now, collectionMethod: collection,
		daysUntilDue: spec.daysUntilDue, defaultPM: spec.defaultPM, description: spec.description,
		currency: currency,
	}
	if spec.metadata != nil {
		sub.Metadata = spec.metadata
	}
	interval, count := st.subInterval(sub)
	if spec.trialEnd > now {
		sub.status, sub.trialStart, sub.trialEnd = "trialing", now, spec.trialEnd
		sub.periodEnd, sub.billingAnchor = spec.trialEnd, spec.trialEnd
	} else {
		sub.periodEnd = addInterval(now, interval, count)
	}
	if spec.cancelAtPeriodEnd {
		sub.cancelAtPeriodEnd, sub.cancelAt, sub.canceledAt = true, sub.periodEnd, now
	}
	if cp != nil {
		sub.discount = st.redeemCoupon(cp, sub)
	}
	st.subscriptions.add(sub)
	st.setCustomerCurrency(cust, currency)

	inv := st.buildSubscriptionInvoice(sub, "subscription_create", sub.periodStart, sub.periodEnd)
	sub.latestInvoice = inv.ID
	st.emit("customer.subscription.created", st.renderSubscription(sub), nil)
	st.emit("invoice.created", st.renderInvoice(inv), nil)
	pay := spec.pay
	pay.skip = pay.skip || spec.paymentBehavior == "default_incomplete"
	st.advanceInvoice(inv, sub, pay)
	return sub, nil
}

func (st *state) newSubItem(subID, priceID string, spec itemSpec) *subItem {
	q := spec.quantity
	if q < 0 {
		q = 1
	}
	it := &subItem{meta: st.newMeta("si_", 14), subscription: subID, price: priceID, quantity: q}
	if spec.metadata != nil {
		it.Metadata = spec.metadata
	}
	return it
}

func (st *state) redeemCoupon(cp *coupon, sub *subscription) *discount {
	cp.timesRedeemed++
	d := &discount{id: "di_" + st.token(24), coupon: cp.ID, customer: sub.customer, subscription: sub.ID, start: st.unix()}
	if cp.duration == "repeating" && cp.durationInMonths > 0 {
		d.end = addInterval(d.start, "month", cp.durationInMonths)
	}
	return d
}

// setCustomerCurrency fixes a customer's currency on first billing; like
// Stripe, without an event of its own.
func (st *state) setCustomerCurrency(cust *customer, currency string) {
	if cust.currency == "" {
		cust.currency = currency
	}
}

// billNewPeriod starts a billing period at start and bills it: renewals,
// trial ends, resumes and billing_cycle_anchor=now all come through here.
func (st *state) billNewPeriod(sub *subscription, start int64, reason string, pay payOpts) *invoice {
	done := st.changed("customer.subscription.updated", func() obj { return st.renderSubscription(sub) })
	if sub.status == "trialing" || sub.status == "paused" {
		sub.status = "active"
	}
	interval, count := st.subInterval(sub)
	sub.periodStart, sub.periodEnd = start, addInterval(start, interval, count)
	if reason != "subscription_cycle" {
		sub.billingAnchor = start
	}
	if sub.cancelAtPeriodEnd {
		sub.cancelAt = sub.periodEnd
	}
	if sub.discount != nil && !st.discountApplies(sub.discount, start) {
		sub.discount = nil
	}
	inv := st.buildSubscriptionInvoice(sub, reason, start, sub.periodEnd)
	sub.latestInvoice = inv.ID
	done()
	st.emit("invoice.created", st.renderInvoice(inv), nil)
	st.advanceInvoice(inv, sub, pay)
	return inv
}

// renewSubscription moves a subscription into its next period, or ends it
// when it was set to cancel then.
func (st *state) renewSubscription(sub *subscription, pay payOpts) (*invoice, *Error) {
	switch {
	case sub.ended():
		return nil, errState("", "Subscription %s has ended and cannot be renewed.", sub.ID)
	case sub.status == "paused":
		return nil, errState("", "Subscription %s is paused; resume it first.", sub.ID)
	case sub.status == "incomplete":
		return nil, errState("", "Subscription %s is incomplete: its first invoice was never paid.", sub.ID)
	}
	if sub.cancelAtPeriodEnd || (sub.cancelAt != 0 && sub.cancelAt <= sub.periodEnd) {
		end := sub.periodEnd
		if sub.cancelAt != 0 {
			end = sub.cancelAt
		}
		st.endSubscription(sub, end, "cancellation_requested")
		return nil, nil
	}
	if sub.pauseResumesAt != 0 && sub.pauseResumesAt <= sub.periodEnd {
		sub.pauseBehavior, sub.pauseResumesAt = "", 0
	}
	return st.billNewPeriod(sub, sub.periodEnd, "subscription_cycle", pay), nil
}

// cancelSubscription ends a subscription now (DELETE /v1/subscriptions).
func (st *state) cancelSubscription(sub *subscription, comment string) {
	if comment != "" {
		sub.cancelComment = comment
	}
	st.endSubscription(sub, st.unix(), "cancellation_requested")
}

func (st *state) endSubscription(sub *subscription, at int64, reason string) {
	sub.status = "canceled"
	if sub.canceledAt == 0 || !sub.cancelAtPeriodEnd {
		sub.canceledAt = at
	}
	sub.endedAt, sub.cancelAt, sub.cancelAtPeriodEnd = at, 0, false
	sub.cancelReason = reason
	st.emit("customer.subscription.deleted", st.renderSubscription(sub), nil)
}

func (st *state) resumeSubscription(sub *subscription) {
	sub.pauseBehavior, sub.pauseResumesAt = "", 0
	st.billNewPeriod(sub, st.unix(), "subscription_update", payOpts{})
	st.emit("customer.subscription.resumed", st.renderSubscription(sub), nil)
}

// syncSubscription moves a subscription's status after its latest invoice
// was paid, failed, or was voided, as Stripe's billing engine does.
func (st *state) syncSubscription(inv *invoice) {
	sub, ok := st.subscriptions.get(inv.subscription)
	if !ok || sub.ended() || sub.latestInvoice != inv.ID {
		return
	}
	done := st.changed("customer.subscription.updated", func() obj { return st.renderSubscription(sub) })
	switch {
	case inv.status == "paid" || inv.status == "void" || inv.status == "uncollectible":
		if sub.status == "incomplete" || sub.status == "past_due" || sub.status == "unpaid" {
			sub.status = "active"
		}
	case inv.status == "open" && inv.attemptCount > 0:
		if sub.status == "active" {
			sub.status = "past_due"
		}
	}
	done()
}

// updatableWhenCanceled lists what Stripe still lets you change on a
// canceled subscription.
func updatableWhenCanceled(param string) bool {
	switch param {
	case "metadata", "cancellation_details", "expand", "proration_behavior":
		return true
	}
	return false
}

func updateSubscription(st *state, c *call) (any, *Error) {
	sub, e := st.getSub(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	p := c.p
	items := readItems(p, "items")
	cape, hasCape := p.boolean("cancel_at_period_end")
	cancelAt, hasCancelAt := p.str("cancel_at")
	pause := p.sub("pause_collection")
	hasPause := p.has("pause_collection")
	resumesAt, _ := pause.int("resumes_at")
	couponID, hasCoupon := p.str("coupon")
	if ds, cleared := p.list("discounts"); len(ds) > 0 || cleared {
		couponID, hasCoupon = "", true
		if len(ds) > 0 {
			couponID = ds[0].s("coupon")
		}
	}
	defaultPM, hasDefaultPM := p.str("default_payment_method")
	trialEnd, hasTrialEnd := p.str("trial_end")
	details := p.sub("cancellation_details")
	comment, hasComment := details.str("comment")
	feedback, hasFeedback := details.str("feedback")
	md := metadataCopy(sub.Metadata)
	p.applyMetadata(md)
	if e := p.check(); e != nil {
		return nil, e
	}
	if sub.ended() {
		for _, k := range p.n.order {
			if !updatableWhenCanceled(k) {
				return nil, errState("", "A canceled subscription can only update its cancellation_details and metadata.")
			}
		}
	}
	cust, _ := st.customers.get(sub.customer)
	newItems, e := st.planItems(sub, items)
	if e != nil {
		return nil, e
	}
	if hasDefaultPM && defaultPM != "" && cust != nil {
		if e := st.checkCustomerPM(cust, defaultPM, "default_payment_method"); e != nil {
			return nil, e
		}
	}
	var cp *coupon
	if hasCoupon && couponID != "" {
		if cp, e = st.liveCoupon(couponID, "coupon"); e != nil {
			return nil, e
		}
	}
	behavior := pause.s("behavior")
	if hasPause && len(pause.n.kids) > 0 {
		switch behavior {
		case "keep_as_draft", "mark_uncollectible", "void":
		default:
			return nil, errInvalidParam("pause_collection[behavior]", "Invalid pause_collection[behavior]: must be one of keep_as_draft, mark_uncollectible, or void")
		}
	}
	now := st.unix()
	var cancelAtTS, trialEndTS int64
	if hasCancelAt && cancelAt != "" {
		t, err := strconv.ParseInt(cancelAt, 10, 64)
		if err != nil || t <= now {
			return nil, errInvalidParam("cancel_at", "Invalid timestamp: must be an integer Unix timestamp in the future.")
		}
		cancelAtTS = t
	}
	endTrialNow := hasTrialEnd && trialEnd == "now"
	if hasTrialEnd && !endTrialNow {
		t, err := strconv.ParseInt(trialEnd, 10, 64)
		if err != nil || t <= now {
			return nil, errInvalidParam("trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future.")
		}
		trialEndTS = t
	}

	done := st.changed("customer.subscription.updated", func() obj { return st.renderSubscription(sub) })
	sub.items, sub.Metadata = newItems, md
	if hasCape {
		sub.cancelAtPeriodEnd = cape
		if cape {
			sub.cancelAt, sub.canceledAt = sub.periodEnd, now
		} else {
			sub.cancelAt, sub.canceledAt = 0, 0
		}
	}
	if hasCancelAt {
		sub.cancelAt, sub.cancelAtPeriodEnd, sub.canceledAt = cancelAtTS, false, 0
		if cancelAtTS != 0 {
			sub.canceledAt = now
		}
	}
	if hasPause {
		sub.pauseBehavior, sub.pauseResumesAt = behavior, resumesAt
	}
	if hasCoupon {
		sub.discount = nil
		if cp != nil {
			sub.discount = st.redeemCoupon(cp, sub)
		}
	}
	if hasDefaultPM {
		sub.defaultPM = defaultPM
	}
	if v, ok := p.str("description"); ok {
		sub.description = v
	}
	if hasComment {
		sub.cancelComment = comment
	}
	if hasFeedback {
		sub.cancelFeedback = feedback
	}
	if trialEndTS != 0 && sub.status == "trialing" {
		sub.trialEnd, sub.periodEnd = trialEndTS, trialEndTS
	}
	done()
	switch {
	case endTrialNow && sub.status == "trialing":
		sub.trialEnd = now
		st.billNewPeriod(sub, now, "subscription_update", payOpts{})
	case p.s("billing_cycle_anchor") == "now" && !sub.ended():
		st.billNewPeriod(sub, now, "subscription_update", payOpts{})
	}
	return st.renderSubscription(sub), nil
}

// planItems applies items[] changes to a copy of the subscription's items:
// with an id an item changes price or quantity or is deleted, without one
// it is added.
func (st *state) planItems(sub *subscription, specs []itemSpec) ([]*subItem, *Error) {
	if len(specs) == 0 {
		return sub.items, nil
	}
	out := make([]*subItem, 0, len(sub.items)+len(specs))
	changed := map[string]itemSpec{}
	for _, sp := range specs {
		if sp.id == "" {
			continue
		}
		found := false
		for _, it := range sub.items {
			found = found || it.ID == sp.id
		}
		if !found {
			return nil, errMissing("subscription_item", sp.id, sp.param+"[id]")
		}
		changed[sp.id] = sp
	}
	for _, it := range sub.items {
		sp, ok := changed[it.ID]
		if !ok {
			out = append(out, it)
			continue
		}
		if sp.deleted {
			continue
		}
		next := *it
		if sp.price != "" {
			p, e := st.checkPrice(sp.price, sp.param+"[price]", sub.currency)
			if e != nil {
				return nil, e
			}
			next.price = p.ID
		}
		if sp.quantity >= 0 {
			next.quantity = sp.quantity
		}
		if sp.metadata != nil {
			next.Metadata = sp.metadata
		}
		out = append(out, &next)
	}
	for _, sp := range specs {
		if sp.id != "" {
			continue
		}
		if sp.price == "" {
			return nil, errParamMissing(sp.param + "[price]")
		}
		p, e := st.checkPrice(sp.price, sp.param+"[price]", sub.currency)
		if e != nil {
			return nil, e
		}
		out = append(out, st.newSubItem(sub.ID, p.ID, sp))
	}
	if len(out) == 0 {
		return nil, invalidRequest(http.StatusBadRequest, "", "items", "A subscription must have at least one item.")
	}
	return out, nil
}
