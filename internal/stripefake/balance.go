package stripefake

import "strings"

type balanceTxn struct {
	meta
	customer              string
	amount, endingBalance int64
	currency, description string
	typ, invoice          string
}

func balanceRoutes() []route {
	return []route{
		{"POST", "/v1/customers/{customer}/balance_transactions", createBalanceTxn},
		{"GET", "/v1/customers/{customer}/balance_transactions", listBalanceTxns},
		{"GET", "/v1/customers/{customer}/balance_transactions/{id}", getBalanceTxn},
		{"POST", "/v1/customers/{customer}/balance_transactions/{id}", updateBalanceTxn},
	}
}

func (st *state) renderBalanceTxn(t *balanceTxn) obj {
	return canon(obj{
		"id": t.ID, "object": "customer_balance_transaction", "amount": t.amount,
		"created": t.Created, "credit_note": nil, "currency": t.currency, "customer": t.customer,
		"description": nullable(t.description), "ending_balance": t.endingBalance,
		"invoice": nullable(t.invoice), "livemode": st.account.Livemode, "metadata": t.Metadata,
		"type": t.typ,
	})
}

// adjustBalance moves a customer's balance (negative is credit) and keeps
// the ledger entry Stripe keeps for it.
func (st *state) adjustBalance(cust *customer, amount int64, currency, typ, description, invoiceID string) *balanceTxn {
	done := st.changed("customer.updated", func() obj { return st.renderCustomer(cust) })
	cust.balance += amount
	if cust.currency == "" {
		cust.currency = currency
	}
	t := &balanceTxn{
		meta: st.newMeta("cbtxn_", 24), customer: cust.ID, amount: amount,
		endingBalance: cust.balance, currency: cust.currency, description: description,
		typ: typ, invoice: invoiceID,
	}
	st.balanceTxns.add(t)
	done()
	return t
}

func createBalanceTxn(st *state, c *call) (any, *Error) {
	cust, e := st.liveCustomer(c.v("customer"), "customer")
	if e != nil {
		return nil, e
	}
	amount, hasAmount := c.p.int("amount")
	md := map[string]string{}
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	currency := strings.ToLower(c.p.s("currency"))
	switch {
	case !hasAmount:
		return nil, errParamMissing("amount")
	case currency == "":
		return nil, errParamMissing("currency")
	case cust.currency != "" && currency != cust.currency:
		return nil, errInvalidParam("currency",
			"The currency %s does not match the customer's currency %s.", currency, cust.currency)
	}
	t := st.adjustBalance(cust, amount, currency, "adjustment", c.p.s("description"), "")
	t.Metadata = md
	return st.renderBalanceTxn(t), nil
}

func listBalanceTxns(st *state, c *call) (any, *Error) {
	cust, e := st.liveCustomer(c.v("customer"), "customer")
	if e != nil {
		return nil, e
	}
	items := st.balanceTxns.filter(func(t *balanceTxn) bool { return t.customer == cust.ID })
	return listResponse(c, "/v1/customers/"+cust.ID+"/balance_transactions", "customer_balance_transaction", items, st.renderBalanceTxn)
}

func (st *state) customerBalanceTxn(c *call) (*balanceTxn, *Error) {
	t, ok := st.balanceTxns.get(c.v("id"))
	if !ok || t.customer != c.v("customer") {
		return nil, errMissing("customer_balance_transaction", c.v("id"), "id")
	}
	return t, nil
}

func getBalanceTxn(st *state, c *call) (any, *Error) {
	t, e := st.customerBalanceTxn(c)
	if e != nil {
		return nil, e
	}
	return st.renderBalanceTxn(t), nil
}

func updateBalanceTxn(st *state, c *call) (any, *Error) {
	t, e := st.customerBalanceTxn(c)
	if e != nil {
		return nil, e
	}
	md := metadataCopy(t.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if v, ok := c.p.str("description"); ok {
		t.description = v
	}
	t.Metadata = md
	return st.renderBalanceTxn(t), nil
}
