package stripefake

import (
	"strconv"
	"strings"
)

type customer struct {
	meta
	email, name, phone, description string
	balance                         int64
	currency                        string
	delinquent                      bool
	defaultPM                       string
	invoicePrefix                   string
	nextInvoiceSeq                  int64
	deleted                         bool
}

func customerRoutes() []route {
	return []route{
		{"POST", "/v1/customers", createCustomer},
		{"GET", "/v1/customers", listCustomers},
		{"GET", "/v1/customers/search", searchCustomers},
		{"GET", "/v1/customers/{id}", getCustomer},
		{"POST", "/v1/customers/{id}", updateCustomer},
		{"DELETE", "/v1/customers/{id}", deleteCustomer},
	}
}

func (st *state) renderCustomer(c *customer) obj {
	if c.deleted {
		return canon(obj{"id": c.ID, "object": "customer", "deleted": true})
	}
	return canon(obj{
		"id":             c.ID,
		"object":         "customer",
		"address":        nil,
		"balance":        c.balance,
		"created":        c.Created,
		"currency":       nullable(c.currency),
		"default_source": nil,
		"delinquent":     c.delinquent,
		"description":    nullable(c.description),
		"discount":       nil,
		"email":          nullable(c.email),
		"invoice_prefix": c.invoicePrefix,
		"invoice_settings": obj{
			"custom_fields":          nil,
			"default_payment_method": nullable(c.defaultPM),
			"footer":                 nil,
			"rendering_options":      nil,
		},
		"livemode":              st.account.Livemode,
		"metadata":              c.Metadata,
		"name":                  nullable(c.name),
		"next_invoice_sequence": c.nextInvoiceSeq,
		"phone":                 nullable(c.phone),
		"preferred_locales":     []string{},
		"shipping":              nil,
		"tax_exempt":            "none",
		"test_clock":            nil,
	})
}

// newCustomer stores a customer; events are the caller's job.
func (st *state) newCustomer(id string) *customer {
	m := st.newMeta("cus_", 14)
	if id != "" {
		m.ID = id
	}
	c := &customer{meta: m, invoicePrefix: strings.ToUpper(st.token(8)), nextInvoiceSeq: 1}
	st.customers.add(c)
	return c
}

// liveCustomer finds a customer that has not been deleted.
func (st *state) liveCustomer(id, param string) (*customer, *Error) {
	c, ok := st.customers.get(id)
	if !ok || c.deleted {
		return nil, errMissing("customer", id, param)
	}
	return c, nil
}

func createCustomer(st *state, c *call) (any, *Error) {
	p := c.p
	balance, hasBalance := p.int("balance")
	pmID := p.s("payment_method")
	defaultPM, hasDefault := p.sub("invoice_settings").str("default_payment_method")
	md := map[string]string{}
	p.applyMetadata(md)
	if e := p.check(); e != nil {
		return nil, e
	}
	cust := st.newCustomer("")
	cust.email, cust.name, cust.phone, cust.description = p.s("email"), p.s("name"), p.s("phone"), p.s("description")
	cust.Metadata = md
	var attached *paymentMethod
	if pmID != "" {
		pm, e := st.attachPM(pmID, cust, "payment_method")
		if e != nil {
			st.customers.remove(cust.ID)
			return nil, e
		}
		attached = pm
		if defaultPM == pmID {
			defaultPM = pm.ID // a magic test id became a real one
		}
	}
	if hasDefault && defaultPM != "" {
		if e := st.checkCustomerPM(cust, defaultPM, "invoice_settings[default_payment_method]"); e != nil {
			st.customers.remove(cust.ID)
			return nil, e
		}
		cust.defaultPM = defaultPM
	}
	st.emit("customer.created", st.renderCustomer(cust), nil)
	if attached != nil {
		st.emit("payment_method.attached", st.renderPaymentMethod(attached), nil)
	}
	if hasBalance && balance != 0 {
		st.adjustBalance(cust, balance, st.account.DefaultCurrency, "initial", "", "")
	}
	return st.renderCustomer(cust), nil
}

func getCustomer(st *state, c *call) (any, *Error) {
	cust, ok := st.customers.get(c.v("id"))
	if !ok {
		return nil, errMissing("customer", c.v("id"), "id")
	}
	return st.renderCustomer(cust), nil
}

func updateCustomer(st *state, c *call) (any, *Error) {
	cust, e := st.liveCustomer(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	p := c.p
	balance, hasBalance := p.int("balance")
	defaultPM, hasDefault := p.sub("invoice_settings").str("default_payment_method")
	md := metadataCopy(cust.Metadata)
	p.applyMetadata(md)
	if e := p.check(); e != nil {
		return nil, e
	}
	if hasDefault && defaultPM != "" {
		if e := st.checkCustomerPM(cust, defaultPM, "invoice_settings[default_payment_method]"); e != nil {
			return nil, e
		}
	}
	done := st.changed("customer.updated", func() obj { return st.renderCustomer(cust) })
	for key, field := range map[string]*string{
		"email": &cust.email, "name": &cust.name, "phone": &cust.phone, "description": &cust.description,
	} {
		if v, ok := p.str(key); ok {
			*field = v
		}
	}
	cust.Metadata = md
	if hasDefault {
		cust.defaultPM = defaultPM
	}
	done()
	if hasBalance && balance != cust.balance {
		st.adjustBalance(cust, balance-cust.balance, st.account.DefaultCurrency, "adjustment", "", "")
	}
	return st.renderCustomer(cust), nil
}

func deleteCustomer(st *state, c *call) (any, *Error) {
	cust, e := st.liveCustomer(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	for _, sub := range st.subscriptions.filter(func(s *subscription) bool {
		return s.customer == cust.ID && s.status != "canceled" && s.status != "incomplete_expired"
	}) {
		st.cancelSubscription(sub, "")
	}
	full := st.renderCustomer(cust)
	cust.deleted = true
	st.emit("customer.deleted", full, nil)
	return st.renderCustomer(cust), nil
}

func listCustomers(st *state, c *call) (any, *Error) {
	email, hasEmail := c.p.str("email")
	created := createdFilter(c.p, "created")
	items := st.customers.filter(func(cust *customer) bool {
		return !cust.deleted && (!hasEmail || cust.email == email) && created(cust.Created)
	})
	return listResponse(c, "/v1/customers", "customer", items, st.renderCustomer)
}

func searchCustomers(st *state, c *call) (any, *Error) {
	q, ok := c.p.str("query")
	if !ok {
		return nil, errParamMissing("query")
	}
	query, e := parseSearch(q, []string{"email", "name", "phone", "description", "created"})
	if e != nil {
		return nil, e
	}
	items := st.customers.filter(func(cust *customer) bool {
		return !cust.deleted && query.match(func(field, key string) (string, bool) {
			switch field {
			case "email":
				return cust.email, true
			case "name":
				return cust.name, true
			case "phone":
				return cust.phone, true
			case "description":
				return cust.description, true
			case "created":
				return strconv.FormatInt(cust.Created, 10), true
			case "metadata":
				v, ok := cust.Metadata[key]
				return v, ok
			}
			return "", false
		})
	})
	return searchResponse(c, "/v1/customers/search", items, st.renderCustomer)
}

// refreshDelinquent keeps customer.delinquent in step with whether the
// latest payment attempt on an open invoice failed, as Stripe does.
func (st *state) refreshDelinquent(cust *customer) {
	delinquent := false
	for _, inv := range st.invoices.filter(func(i *invoice) bool { return i.customer == cust.ID }) {
		if inv.status == "open" && inv.attemptCount > 0 {
			delinquent = true
			break
		}
	}
	if delinquent == cust.delinquent {
		return
	}
	done := st.changed("customer.updated", func() obj { return st.renderCustomer(cust) })
	cust.delinquent = delinquent
	done()
}
