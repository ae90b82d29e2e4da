package stripefake

import (
	"bytes"
)

// Scenario steps a test or demo drives directly. Each is a Go method and
// an HTTP endpoint under /_fake/ (behind the API key like the rest), and
// each produces the same events Stripe would.

func controlRoutes() []route {
	return []route{
		{"POST", "/_fake/invoices/{id}/payment_failure", fakeFailPayment},
		{"POST", "/_fake/invoices/{id}/pay", fakePayInvoice},
		{"POST", "/_fake/charges/{id}/dispute", fakeDispute},
		{"POST", "/_fake/subscriptions/{id}/renew", fakeRenew},
		{"POST", "/_fake/subscriptions/{id}/upcoming", fakeUpcoming},
		{"POST", "/_fake/subscriptions/{id}/trial_will_end", fakeTrialWillEnd},
		{"POST", "/_fake/scenario", fakeLoadScenario},
	}
}

// control runs f with the state locked and turns a Stripe error into a Go
// error without the typed-nil trap.
func (s *Server) control(f func(st *state) *Error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := f(s.st); e != nil {
		return e
	}
	return nil
}

// TriggerPaymentFailure makes a payment attempt on an open (or draft)
// invoice fail with declineCode (default generic_decline), whatever the
// card: charge.failed, payment_intent.payment_failed, invoice.payment_failed
// and the subscription going past_due follow.
func (s *Server) TriggerPaymentFailure(invoiceID, declineCode string) error {
	return s.control(func(st *state) *Error {
		_, e := st.failPayment(invoiceID, declineCode)
		return e
	})
}

// PayInvoice settles an open invoice as if the customer paid it on the
// hosted page: the charge succeeds whatever the default card.
func (s *Server) PayInvoice(invoiceID string) error {
	return s.control(func(st *state) *Error {
		_, e := st.forcePay(invoiceID)
		return e
	})
}

// CreateDispute opens a dispute on a successful charge (reason default
// fraudulent) and returns its id.
func (s *Server) CreateDispute(chargeID, reason string) (string, error) {
	var id string
	err := s.control(func(st *state) *Error {
		ch, e := st.getChargeByID(chargeID, "charge")
		if e != nil {
			return e
		}
		d, e := st.openDispute(ch, reason, 0)
		if e != nil {
			return e
		}
		id = d.ID
		return nil
	})
	return id, err
}

// RenewSubscription starts the subscription's next period now: it bills
// and charges it, or ends the subscription if it was set to cancel. It
// returns the new invoice id ("" when the subscription ended).
func (s *Server) RenewSubscription(subID string) (string, error) {
	var id string
	err := s.control(func(st *state) *Error {
		inv, e := st.renew(subID)
		if inv != nil {
			id = inv.ID
		}
		return e
	})
	return id, err
}

// EmitInvoiceUpcoming sends invoice.upcoming for the subscription's next
// invoice, as Stripe does a few days before a renewal.
func (s *Server) EmitInvoiceUpcoming(subID string) error {
	return s.control(func(st *state) *Error {
		_, e := st.emitUpcoming(subID)
		return e
	})
}

// EmitTrialWillEnd sends customer.subscription.trial_will_end for a
// trialing subscription, as Stripe does three days before the trial ends.
func (s *Server) EmitTrialWillEnd(subID string) error {
	return s.control(func(st *state) *Error {
		_, e := st.emitTrialWillEnd(subID)
		return e
	})
}

func (st *state) failPayment(invoiceID, declineCode string) (*invoice, *Error) {
	inv, e := st.getInvoiceByID(invoiceID)
	if e != nil {
		return nil, e
	}
	if e := st.payable(inv); e != nil {
		return nil, e
	}
	if inv.status == "draft" {
		st.finalizeInvoice(inv)
	}
	if inv.status != "open" {
		return nil, errState("", "Invoice %s is %s, not open.", inv.ID, inv.status)
	}
	if declineCode == "" {
		declineCode = "generic_decline"
	}
	// The decline is the point, so the card error is not an error here.
	_ = st.attemptPayment(inv, payOpts{forceDecline: declineCode})
	return inv, nil
}

func (st *state) forcePay(invoiceID string) (*invoice, *Error) {
	inv, e := st.getInvoiceByID(invoiceID)
	if e != nil {
		return nil, e
	}
	if e := st.payable(inv); e != nil {
		return nil, e
	}
	if inv.status == "draft" {
		st.finalizeInvoice(inv)
	}
	if inv.status == "open" {
		if e := st.attemptPayment(inv, payOpts{forceSuccess: true}); e != nil {
			return nil, e
		}
	}
	return inv, nil
}

func (st *state) renew(subID string) (*invoice, *Error) {
	sub, e := st.getSub(subID, "subscription")
	if e != nil {
		return nil, e
	}
	return st.renewSubscription(sub, payOpts{})
}

func (st *state) emitUpcoming(subID string) (obj, *Error) {
	sub, e := st.getSub(subID, "subscription")
	if e != nil {
		return nil, e
	}
	cust, e := st.liveCustomer(sub.customer, "customer")
	if e != nil {
		return nil, e
	}
	inv, e := st.upcomingInvoice(cust, sub.ID, nil)
	if e != nil {
		return nil, e
	}
	out := st.renderInvoice(inv)
	st.emit("invoice.upcoming", out, nil)
	return out, nil
}

func (st *state) emitTrialWillEnd(subID string) (obj, *Error) {
	sub, e := st.getSub(subID, "subscription")
	if e != nil {
		return nil, e
	}
	if sub.status != "trialing" {
		return nil, errState("", "Subscription %s is %s, not trialing.", sub.ID, sub.status)
	}
	out := st.renderSubscription(sub)
	st.emit("customer.subscription.trial_will_end", out, nil)
	return out, nil
}

func fakeFailPayment(st *state, c *call) (any, *Error) {
	inv, e := st.failPayment(c.v("id"), c.p.s("decline_code"))
	if e != nil {
		return nil, e
	}
	return st.renderInvoice(inv), nil
}

func fakePayInvoice(st *state, c *call) (any, *Error) {
	inv, e := st.forcePay(c.v("id"))
	if e != nil {
		return nil, e
	}
	return st.renderInvoice(inv), nil
}

func fakeDispute(st *state, c *call) (any, *Error) {
	amount, _ := c.p.int("amount")
	if e := c.p.check(); e != nil {
		return nil, e
	}
	ch, e := st.getChargeByID(c.v("id"), "charge")
	if e != nil {
		return nil, e
	}
	d, e := st.openDispute(ch, c.p.s("reason"), amount)
	if e != nil {
		return nil, e
	}
	return st.renderDispute(d), nil
}

func fakeRenew(st *state, c *call) (any, *Error) {
	if _, e := st.renew(c.v("id")); e != nil {
		return nil, e
	}
	sub, _ := st.subscriptions.get(c.v("id"))
	return st.renderSubscription(sub), nil
}

func fakeUpcoming(st *state, c *call) (any, *Error) {
	return st.emitUpcoming(c.v("id"))
}

func fakeTrialWillEnd(st *state, c *call) (any, *Error) {
	return st.emitTrialWillEnd(c.v("id"))
}

// fakeLoadScenario seeds more state from a YAML body.
func fakeLoadScenario(st *state, c *call) (any, *Error) {
	sc, err := parseScenario(bytes.NewReader(c.body))
	if err != nil {
		return nil, errInvalidParam("", "Invalid scenario: %v", err)
	}
	ids, err := st.loadScenario(sc)
	if err != nil {
		return nil, errInvalidParam("", "Loading the scenario failed: %v", err)
	}
	return canon(obj{"object": "scenario", "customers": ids}), nil
}
