package stripefake

type portalSession struct {
	meta
	customer, returnURL, url, locale string
}

func portalRoutes() []route {
	return []route{
		{"POST", "/v1/billing_portal/sessions", createPortalSession},
	}
}

// portalConfiguration is the id of the account's default portal
// configuration; one per fake account is enough.
func (st *state) portalConfiguration() string {
	return "bpc_" + st.account.ID[len("acct_"):]
}

func (st *state) renderPortalSession(s *portalSession) obj {
	return canon(obj{
		"id": s.ID, "object": "billing_portal.session", "configuration": st.portalConfiguration(),
		"created": s.Created, "customer": s.customer, "flow": nil, "livemode": st.account.Livemode,
		"locale": nullable(s.locale), "on_behalf_of": nil, "return_url": nullable(s.returnURL),
		"url": s.url,
	})
}

func createPortalSession(st *state, c *call) (any, *Error) {
	customerID := c.p.s("customer")
	if customerID == "" {
		return nil, errParamMissing("customer")
	}
	cust, e := st.liveCustomer(customerID, "customer")
	if e != nil {
		return nil, e
	}
	s := &portalSession{
		meta: st.newMeta("bps_", 24), customer: cust.ID,
		returnURL: c.p.s("return_url"), locale: c.p.s("locale"),
	}
	prefix := "https://billing.stripe.com/p/session/test_"
	if st.account.Livemode {
		prefix = "https://billing.stripe.com/p/session/live_"
	}
	s.url = prefix + st.token(40)
	st.portalSessions.add(s)
	out := st.renderPortalSession(s)
	st.emit("billing_portal.session.created", out, nil)
	return out, nil
}
