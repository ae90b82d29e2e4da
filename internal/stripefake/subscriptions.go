package stripefake

import (
	"net/http"
	"strconv"
	"time"
)

type subscription struct {
	meta
	customer                      string
	status                        string
	items                         []*subItem
	periodStart, periodEnd        int64
	startDate, billingAnchor      int64
	cancelAtPeriodEnd             bool
	cancelAt, canceledAt          int64
	endedAt                       int64
	pauseBehavior                 string
	pauseResumesAt                int64
	trialStart, trialEnd          int64
	latestInvoice                 string
	defaultPM                     string
	discount                      *discount
	collectionMethod              string
	daysUntilDue                  int64
	cancelComment, cancelFeedback string
	cancelReason                  string
	description                   string
	currency                      string
}

type subItem struct {
	meta
	subscription string
	price        string
	quantity     int64
}

type discount struct {
	id, coupon, customer, subscription string
	start, end                         int64
	// used is set once an invoice applied it: a duration=once coupon is
	// then spent.
	used bool
}

// discountApplies says whether a discount still counts for a period
// starting at start.
func (st *state) discountApplies(d *discount, start int64) bool {
	if d == nil || (d.end != 0 && d.end <= start) {
		return false
	}
	cp, ok := st.coupons.get(d.coupon)
	return ok && !(d.used && cp.duration == "once")
}

func (s *subscription) ended() bool {
	return s.status == "canceled" || s.status == "incomplete_expired"
}

func subscriptionRoutes() []route {
	return []route{
		{"POST", "/v1/subscriptions", createSubscriptionHandler},
		{"GET", "/v1/subscriptions", listSubscriptions},
		{"GET", "/v1/subscriptions/{id}", getSubscription},
		{"POST", "/v1/subscriptions/{id}", updateSubscription},
		{"DELETE", "/v1/subscriptions/{id}", cancelSubscriptionHandler},
		{"POST", "/v1/subscriptions/{id}/resume", resumeSubscriptionHandler},
		{"GET", "/v1/subscription_items", listSubscriptionItems},
	}
}

func (st *state) renderPlan(p *price) any {
	if p.interval == "" {
		return nil
	}
	return obj{
		"id": p.ID, "object": "plan", "active": p.active, "aggregate_usage": nil,
		"amount": p.unitAmount, "amount_decimal": strconv.FormatInt(p.unitAmount, 10),
		"billing_scheme": "per_unit", "created": p.Created, "currency": p.currency,
		"interval": p.interval, "interval_count": p.intervalCount, "livemode": st.account.Livemode,
		"metadata": p.Metadata, "nickname": nullable(p.nickname), "product": p.product,
		"tiers_mode": nil, "transform_usage": nil, "trial_period_days": nil, "usage_type": "licensed",
	}
}

func (st *state) renderSubItem(it *subItem) obj {
	out := obj{
		"id": it.ID, "object": "subscription_item", "billing_thresholds": nil, "created": it.Created,
		"discounts": []any{}, "metadata": it.Metadata, "quantity": it.quantity,
		"subscription": it.subscription, "tax_rates": []any{}, "price": nil, "plan": nil,
	}
	if p, ok := st.prices.get(it.price); ok {
		out["price"], out["plan"] = st.renderPrice(p), st.renderPlan(p)
	}
	return canon(out)
}

func (st *state) renderDiscount(d *discount) any {
	if d == nil {
		return nil
	}
	var cp any
	if c, ok := st.coupons.get(d.coupon); ok {
		cp = st.renderCoupon(c)
	}
	return obj{
		"id": d.id, "object": "discount", "checkout_session": nil, "coupon": cp, "customer": d.customer,
		"end": nullable(d.end), "invoice": nil, "invoice_item": nil, "promotion_code": nil,
		"start": d.start, "subscription": nullable(d.subscription),
	}
}

func (st *state) renderSubscription(s *subscription) obj {
	items := make([]obj, 0, len(s.items))
	for _, it := range s.items {
		items = append(items, st.renderSubItem(it))
	}
	var pause any
	if s.pauseBehavior != "" {
		pause = obj{"behavior": s.pauseBehavior, "resumes_at": nullable(s.pauseResumesAt)}
	}
	discounts := []any{}
	if s.discount != nil {
		discounts = append(discounts, s.discount.id)
	}
	return canon(obj{
		"id": s.ID, "object": "subscription", "application": nil, "application_fee_percent": nil,
		"automatic_tax":        obj{"enabled": false, "liability": nil},
		"billing_cycle_anchor": s.billingAnchor, "billing_cycle_anchor_config": nil,
		"billing_thresholds": nil, "cancel_at": nullable(s.cancelAt),
		"cancel_at_period_end": s.cancelAtPeriodEnd, "canceled_at": nullable(s.canceledAt),
		"cancellation_details": obj{
			"comment": nullable(s.cancelComment), "feedback": nullable(s.cancelFeedback), "reason": nullable(s.cancelReason),
		},
		"collection_method": s.collectionMethod, "created": s.Created, "currency": s.currency,
		"current_period_end": s.periodEnd, "current_period_start": s.periodStart,
		"customer": s.customer, "days_until_due": nullable(s.daysUntilDue),
		"default_payment_method": nullable(s.defaultPM), "default_source": nil,
		"default_tax_rates": []any{}, "description": nullable(s.description),
		"discount": st.renderDiscount(s.discount), "discounts": discounts,
		"ended_at": nullable(s.endedAt),
		"items": obj{
			"object": "list", "data": items, "has_more": false, "total_count": len(items),
			"url": "/v1/subscription_items?subscription=" + s.ID,
		},
		"latest_invoice": nullable(s.latestInvoice), "livemode": st.account.Livemode,
		"metadata": s.Metadata, "next_pending_invoice_item_invoice": nil, "on_behalf_of": nil,
		"pause_collection": pause,
		"payment_settings": obj{
			"payment_method_options": nil, "payment_method_types": nil, "save_default_payment_method": "off",
		},
		"pending_invoice_item_interval": nil, "pending_setup_intent": nil, "pending_update": nil,
		"schedule": nil, "start_date": s.startDate, "status": s.status, "test_clock": nil,
		"transfer_data": nil, "trial_end": nullable(s.trialEnd),
		"trial_settings": obj{"end_behavior": obj{"missing_payment_method": "create_invoice"}},
		"trial_start":    nullable(s.trialStart),
	})
}

// addInterval moves a timestamp by a price's billing interval, in UTC.
func addInterval(t int64, interval string, count int64) int64 {
	tm := time.Unix(t, 0).UTC()
	n := int(max(count, 1))
	switch interval {
	case "day":
		tm = tm.AddDate(0, 0, n)
	case "week":
		tm = tm.AddDate(0, 0, 7*n)
	case "year":
		tm = tm.AddDate(n, 0, 0)
	default:
		tm = tm.AddDate(0, n, 0)
	}
	return tm.Unix()
}

func (st *state) subInterval(s *subscription) (string, int64) {
	for _, it := range s.items {
		if p, ok := st.prices.get(it.price); ok && p.interval != "" {
			return p.interval, p.intervalCount
		}
	}
	return "month", 1
}

func (st *state) getSub(id, param string) (*subscription, *Error) {
	s, ok := st.subscriptions.get(id)
	if !ok {
		return nil, errMissing("subscription", id, param)
	}
	return s, nil
}

func getSubscription(st *state, c *call) (any, *Error) {
	s, e := st.getSub(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	return st.renderSubscription(s), nil
}

func listSubscriptions(st *state, c *call) (any, *Error) {
	customerID, priceID, status := c.p.s("customer"), c.p.s("price"), c.p.s("status")
	collection := c.p.s("collection_method")
	created := createdFilter(c.p, "created")
	switch status {
	case "", "all", "ended", "active", "past_due", "unpaid", "canceled", "incomplete",
		"incomplete_expired", "trialing", "paused":
	default:
		return nil, errInvalidParam("status", "Invalid status: must be one of active, all, canceled, ended, incomplete, incomplete_expired, past_due, paused, trialing, or unpaid")
	}
	items := st.subscriptions.filter(func(s *subscription) bool {
		switch {
		case customerID != "" && s.customer != customerID,
			collection != "" && s.collectionMethod != collection,
			!created(s.Created):
			return false
		case status == "" && s.ended(), status == "ended" && !s.ended(),
			status != "" && status != "all" && status != "ended" && s.status != status:
			return false
		}
		if priceID == "" {
			return true
		}
		for _, it := range s.items {
			if it.price == priceID {
				return true
			}
		}
		return false
	})
	return listResponse(c, "/v1/subscriptions", "subscription", items, st.renderSubscription)
}

// customerSubscriptions is customer.subscriptions: the ones not ended.
func (st *state) customerSubscriptions(customerID string) obj {
	items := st.subscriptions.filter(func(s *subscription) bool { return s.customer == customerID && !s.ended() })
	data := make([]obj, 0, len(items))
	for _, s := range items {
		data = append(data, st.renderSubscription(s))
	}
	return listObj("/v1/customers/"+customerID+"/subscriptions", data, false)
}

func listSubscriptionItems(st *state, c *call) (any, *Error) {
	id := c.p.s("subscription")
	if id == "" {
		return nil, errParamMissing("subscription")
	}
	s, e := st.getSub(id, "subscription")
	if e != nil {
		return nil, e
	}
	items := append([]*subItem(nil), s.items...)
	sortNewestFirst(items)
	return listResponse(c, "/v1/subscription_items", "subscription_item", items, st.renderSubItem)
}

// itemSpec is one requested subscription item.
type itemSpec struct {
	id       string
	price    string
	quantity int64
	deleted  bool
	metadata map[string]string
	param    string
}

func readItems(p params, key string) []itemSpec {
	list, _ := p.list(key)
	out := make([]itemSpec, 0, len(list))
	for _, it := range list {
		q, hasQ := it.int("quantity")
		del, _ := it.boolean("deleted")
		spec := itemSpec{id: it.s("id"), price: it.s("price"), deleted: del, param: it.prefix}
		if hasQ {
			spec.quantity = q
		} else {
			spec.quantity = -1
		}
		if it.has("metadata") {
			spec.metadata = map[string]string{}
			it.applyMetadata(spec.metadata)
		}
		out = append(out, spec)
	}
	return out
}

// checkPrice makes sure a price can go on a subscription.
func (st *state) checkPrice(id, param, currency string) (*price, *Error) {
	p, ok := st.prices.get(id)
	if !ok {
		return nil, errMissing("price", id, param)
	}
	if p.interval == "" {
		return nil, errInvalidParam(param, "The price specified is set to `type=one_time` but this field only accepts prices with `type=recurring`.")
	}
	if !p.active {
		return nil, errInvalidParam(param, "The price specified is inactive. This field only accepts active prices.")
	}
	if currency != "" && p.currency != currency {
		return nil, errInvalidParam(param, "Currency %s of price %s does not match the subscription currency %s.", p.currency, p.ID, currency)
	}
	return p, nil
}

func createSubscriptionHandler(st *state, c *call) (any, *Error) {
	p := c.p
	spec := subSpec{
		items: readItems(p, "items"), defaultPM: p.s("default_payment_method"), coupon: p.s("coupon"),
		collectionMethod: p.s("collection_method"), paymentBehavior: p.s("payment_behavior"),
		description: p.s("description"), metadata: map[string]string{},
	}
	spec.daysUntilDue, _ = p.int("days_until_due")
	spec.cancelAtPeriodEnd, _ = p.boolean("cancel_at_period_end")
	trialDays, hasTrialDays := p.int("trial_period_days")
	trialEnd := p.s("trial_end")
	if ds, _ := p.list("discounts"); len(ds) > 0 && spec.coupon == "" {
		spec.coupon = ds[0].s("coupon")
	}
	p.applyMetadata(spec.metadata)
	if e := p.check(); e != nil {
		return nil, e
	}
	customerID := p.s("customer")
	if customerID == "" {
		return nil, errParamMissing("customer")
	}
	cust, e := st.liveCustomer(customerID, "customer")
	if e != nil {
		return nil, e
	}
	now := st.unix()
	switch {
	case hasTrialDays && trialDays > 0:
		spec.trialEnd = now + trialDays*86400
	case trialEnd != "" && trialEnd != "now":
		t, err := strconv.ParseInt(trialEnd, 10, 64)
		if err != nil || t <= now {
			return nil, errInvalidParam("trial_end", "Invalid timestamp: must be an integer Unix timestamp in the future.")
		}
		spec.trialEnd = t
	}
	sub, e := st.createSubscription(cust, spec)
	if e != nil {
		return nil, e
	}
	return st.renderSubscription(sub), nil
}

func cancelSubscriptionHandler(st *state, c *call) (any, *Error) {
	s, e := st.getSub(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	details := c.p.sub("cancellation_details")
	comment, feedback := details.s("comment"), details.s("feedback")
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if s.ended() {
		return nil, errMissing("subscription", s.ID, "id")
	}
	s.cancelFeedback = feedback
	st.cancelSubscription(s, comment)
	return st.renderSubscription(s), nil
}

func resumeSubscriptionHandler(st *state, c *call) (any, *Error) {
	s, e := st.getSub(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	if s.status != "paused" {
		return nil, invalidRequest(http.StatusBadRequest, "", "",
			"Subscription %s cannot be resumed because its status is %s; only paused subscriptions can be resumed.", s.ID, s.status)
	}
	st.resumeSubscription(s)
	return st.renderSubscription(s), nil
}
