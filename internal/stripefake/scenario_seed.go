package stripefake

import (
	"errors"
	"fmt"
	"time"
)

// seedCustomer replays one customer's history: created at its age, its
// card attached, then each subscription's periods and each one-off invoice
// at the time they happened.
func (st *state) seedCustomer(c scenarioCustomer, now time.Time) (*customer, error) {
	if _, dup := st.customers.get(c.ID); dup && c.ID != "" {
		return nil, fmt.Errorf("customer %s already exists", c.ID)
	}
	age, err := c.age()
	if err != nil {
		return nil, err
	}
	st.at = now.Add(-age)
	cust := st.newCustomer(c.ID)
	cust.name, cust.email, cust.phone, cust.description = c.Name, c.Email, c.Phone, c.Description
	for k, v := range c.Metadata {
		cust.Metadata[k] = v
	}
	var pm *paymentMethod
	if c.Card != nil {
		brand := c.Card.Brand
		if brand == "" {
			brand = "visa"
		}
		last4 := c.Card.Last4
		if len(last4) != 4 {
			return nil, fmt.Errorf("card last4 %q must be four digits", last4)
		}
		pm = st.newPaymentMethod(brand, last4, c.Card.ExpMonth, c.Card.ExpYear)
		pm.customer, pm.name, pm.email = cust.ID, c.Name, c.Email
		cust.defaultPM = pm.ID
	}
	st.emit("customer.created", st.renderCustomer(cust), nil)
	if pm != nil {
		st.emit("payment_method.attached", st.renderPaymentMethod(pm), nil)
	}
	if c.Balance != 0 {
		st.adjustBalance(cust, c.Balance, st.account.DefaultCurrency, "adjustment", "Seeded balance", "")
	}
	for i, s := range c.Subscriptions {
		if err := st.seedSubscription(cust, s, age, now); err != nil {
			return nil, fmt.Errorf("subscriptions[%d]: %w", i, err)
		}
	}
	for i, inv := range c.Invoices {
		if err := st.seedInvoice(cust, inv, now); err != nil {
			return nil, fmt.Errorf("invoices[%d]: %w", i, err)
		}
	}
	return cust, nil
}

// seedPay is how an outcome's first payment attempt goes.
func (st *state) seedPay(cust *customer, o scenarioInvoice) (payOpts, error) {
	switch o.Status {
	case "", "paid":
		return payOpts{forceSuccess: true}, nil
	case "failed", "uncollectible":
		code := o.DeclineCode
		if code == "" {
			if pm, ok := st.paymentMethods.get(cust.defaultPM); ok {
				code, _ = declineForLast4(pm.last4)
			}
		}
		if code == "" {
			code = "generic_decline"
		}
		return payOpts{forceDecline: code}, nil
	case "open", "void":
		return payOpts{skip: true}, nil
	}
	return payOpts{}, fmt.Errorf("invoice status %q: want paid, failed, open, void or uncollectible", o.Status)
}

func (st *state) seedSubscription(cust *customer, s scenarioSubscription, custAge time.Duration, now time.Time) error {
	age, err := parseAge(s.Age, custAge)
	if err != nil {
		return err
	}
	start := now.Add(-age)
	end := now
	if s.Status == "canceled" {
		ca, err := parseAge(s.CanceledAge, 0)
		if err != nil {
			return err
		}
		end = now.Add(-ca)
	}
	p, ok := st.prices.get(s.Price)
	if !ok {
		return fmt.Errorf("no such price %q", s.Price)
	}
	outcomes := s.Invoices
	trial := s.TrialDays > 0
	if len(outcomes) == 0 && (s.Status == "past_due" || s.Status == "unpaid" || s.Status == "incomplete") {
		n := billedPeriods(start, trial, s.TrialDays, p, end)
		outcomes = make([]scenarioInvoice, n)
		outcomes[n-1] = scenarioInvoice{Status: "failed"}
		if s.Status == "unpaid" {
			outcomes[n-1].Attempts = maxAttempts
		}
	}
	next := 0
	outcome := func() scenarioInvoice {
		next++
		if next <= len(outcomes) {
			return outcomes[next-1]
		}
		return scenarioInvoice{Status: "paid"}
	}

	st.at = start
	quantity := s.Quantity
	if quantity == 0 {
		quantity = 1
	}
	spec := subSpec{
		id: s.ID, coupon: s.Coupon, metadata: map[string]string{},
		items: []itemSpec{{price: p.ID, quantity: quantity, param: "items[0]"}},
	}
	for k, v := range s.Metadata {
		spec.metadata[k] = v
	}
	var first scenarioInvoice
	if trial {
		spec.trialEnd = start.Unix() + s.TrialDays*86400
	} else {
		first = outcome()
		if spec.pay, err = st.seedPay(cust, first); err != nil {
			return err
		}
	}
	sub, apiErr := st.createSubscription(cust, spec)
	if apiErr != nil {
		return apiErr
	}
	if !trial {
		if err := st.finishSeedInvoice(sub.latestInvoice, first, now); err != nil {
			return err
		}
	}
	for sub.periodEnd <= end.Unix() && sub.status != "incomplete" && !sub.ended() {
		st.at = time.Unix(sub.periodEnd, 0)
		o := outcome()
		pay, err := st.seedPay(cust, o)
		if err != nil {
			return err
		}
		inv, apiErr := st.renewSubscription(sub, pay)
		if apiErr != nil {
			return apiErr
		}
		if inv != nil {
			if err := st.finishSeedInvoice(inv.ID, o, now); err != nil {
				return err
			}
		}
	}
	return st.settleSeedStatus(sub, s, end)
}

// billedPeriods counts the invoices a subscription gets from start to end.
func billedPeriods(start time.Time, trial bool, trialDays int64, p *price, end time.Time) int {
	n, periodEnd := 1, addInterval(start.Unix(), p.interval, p.intervalCount)
	if trial {
		n, periodEnd = 0, start.Unix()+trialDays*86400
	}
	for periodEnd <= end.Unix() {
		n++
		periodEnd = addInterval(periodEnd, p.interval, p.intervalCount)
	}
	return max(n, 1)
}

// settleSeedStatus brings the subscription to the status the scenario
// asked for, or explains why the history does not lead there.
func (st *state) settleSeedStatus(sub *subscription, s scenarioSubscription, end time.Time) error {
	want := s.Status
	if want == "" {
		want = "active"
	}
	switch want {
	case "canceled":
		if !sub.ended() {
			st.at = end
			st.cancelSubscription(sub, "")
		}
	case "paused":
		st.at = end
		done := st.changed("customer.subscription.updated", func() obj { return st.renderSubscription(sub) })
		sub.status = "paused"
		done()
		st.emit("customer.subscription.paused", st.renderSubscription(sub), nil)
	case "unpaid":
		if sub.status != "past_due" {
			return fmt.Errorf("status unpaid needs the latest invoice to fail, but the subscription is %s", sub.status)
		}
		done := st.changed("customer.subscription.updated", func() obj { return st.renderSubscription(sub) })
		sub.status = "unpaid"
		done()
	default:
		if sub.status != want {
			return fmt.Errorf("status %s asked for, but the invoices leave it %s", want, sub.status)
		}
	}
	st.at = end
	if s.CancelAtPeriodEnd || s.PauseCollection != "" {
		done := st.changed("customer.subscription.updated", func() obj { return st.renderSubscription(sub) })
		if s.CancelAtPeriodEnd {
			sub.cancelAtPeriodEnd, sub.cancelAt, sub.canceledAt = true, sub.periodEnd, end.Unix()
		}
		sub.pauseBehavior = s.PauseCollection
		done()
	}
	return nil
}

// seedInvoice creates a one-off invoice (one line, no subscription).
func (st *state) seedInvoice(cust *customer, o scenarioInvoice, now time.Time) error {
	age, err := parseAge(o.Age, 0)
	if err != nil {
		return err
	}
	if o.Amount <= 0 {
		return errors.New("a one-off invoice needs a positive amount")
	}
	if _, dup := st.invoices.get(o.ID); dup && o.ID != "" {
		return fmt.Errorf("invoice %s already exists", o.ID)
	}
	st.at = now.Add(-age)
	currency := o.Currency
	if currency == "" {
		currency = st.account.DefaultCurrency
	}
	inv := st.newInvoice(cust, currency, "manual", "charge_automatically")
	if o.ID != "" {
		inv.ID = o.ID
	}
	inv.description = o.Description
	for k, v := range o.Metadata {
		inv.Metadata[k] = v
	}
	inv.lines = []*invoiceLine{{
		meta: st.newMeta("il_", 24), invoice: inv.ID, amount: o.Amount, description: o.Description,
		quantity: 1, periodStart: inv.Created, periodEnd: inv.Created, oneOff: true,
	}}
	st.totals(inv)
	st.invoices.add(inv)
	st.setCustomerCurrency(cust, currency)
	st.emit("invoice.created", st.renderInvoice(inv), nil)
	if o.Status == "draft" {
		return nil
	}
	pay, err := st.seedPay(cust, o)
	if err != nil {
		return err
	}
	st.finalizeInvoice(inv)
	if inv.status == "open" && !pay.skip {
		_ = st.attemptPayment(inv, pay) // failures are the scenario's point
	}
	return st.finishSeedInvoice(inv.ID, o, now)
}

// finishSeedInvoice applies what happened after the first attempt: more
// failed attempts, voiding, refunds and a dispute, each at its own time.
func (st *state) finishSeedInvoice(invoiceID string, o scenarioInvoice, now time.Time) error {
	inv, ok := st.invoices.get(invoiceID)
	if !ok {
		return fmt.Errorf("invoice %s vanished", invoiceID)
	}
	cust, _ := st.customers.get(inv.customer)
	base := time.Unix(inv.Created, 0)
	at := func(after string, def time.Duration) (time.Time, error) {
		d, err := parseAge(after, def)
		if err != nil {
			return now, err
		}
		t := base.Add(d)
		if t.After(now) {
			t = now
		}
		return t, nil
	}
	for i := int64(1); i < o.Attempts && inv.status == "open"; i++ {
		st.at = base.Add(time.Duration(i) * retryDelay * time.Second)
		if st.at.After(now) {
			st.at = now
		}
		pay, err := st.seedPay(cust, o)
		if err != nil {
			return err
		}
		_ = st.attemptPayment(inv, pay)
	}
	switch {
	case o.Status == "void" && inv.status == "open":
		st.voidInvoice(inv)
	case o.Status == "uncollectible" && inv.status == "open":
		st.markUncollectible(inv)
	}
	if len(o.Refunds) == 0 && o.Dispute == nil {
		return nil
	}
	ch, ok := st.charges.get(inv.charge)
	if !ok || ch.status != "succeeded" {
		return errors.New("refunds and disputes need a paid invoice")
	}
	for _, r := range o.Refunds {
		t, err := at(r.After, 24*time.Hour)
		if err != nil {
			return err
		}
		st.at = t
		if _, e := st.refundCharge(ch, r.Amount, r.Amount > 0, r.Reason); e != nil {
			return e
		}
	}
	if d := o.Dispute; d != nil {
		return st.seedDispute(ch, *d, at, now)
	}
	return nil
}

func (st *state) seedDispute(ch *charge, sd scenarioDispute, at func(string, time.Duration) (time.Time, error), now time.Time) error {
	t, err := at(sd.After, 5*24*time.Hour)
	if err != nil {
		return err
	}
	st.at = t
	d, e := st.openDispute(ch, sd.Reason, sd.Amount)
	if e != nil {
		return e
	}
	if sd.DueIn != "" {
		due, err := parseAge(sd.DueIn, 0)
		if err != nil {
			return err
		}
		d.dueBy = now.Add(due).Unix()
	}
	switch sd.Status {
	case "", "needs_response":
	case "under_review":
		done := st.changed("charge.dispute.updated", func() obj { return st.renderDispute(d) })
		d.status, d.submissionCount = "under_review", 1
		d.evidence["uncategorized_text"] = "Seeded evidence"
		done()
	case "won", "lost":
		d.status = sd.Status
		st.emit("charge.dispute.closed", st.renderDispute(d), nil)
	default:
		return fmt.Errorf("dispute status %q: want needs_response, under_review, won or lost", sd.Status)
	}
	return nil
}
