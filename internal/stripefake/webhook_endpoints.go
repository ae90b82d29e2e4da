package stripefake

func webhookEndpointRoutes() []route {
	return []route{
		{"POST", "/v1/webhook_endpoints", createWebhookEndpoint},
		{"GET", "/v1/webhook_endpoints", listWebhookEndpoints},
		{"GET", "/v1/webhook_endpoints/{id}", getWebhookEndpoint},
		{"POST", "/v1/webhook_endpoints/{id}", updateWebhookEndpoint},
		{"DELETE", "/v1/webhook_endpoints/{id}", deleteWebhookEndpoint},
	}
}

func (st *state) renderEndpoint(ep *endpoint) obj {
	events := ep.enabledEvents
	if len(events) == 0 {
		events = []string{"*"}
	}
	status := "enabled"
	if ep.disabled {
		status = "disabled"
	}
	return canon(obj{
		"id":             ep.ID,
		"object":         "webhook_endpoint",
		"api_version":    ep.apiVersion,
		"application":    nil,
		"created":        ep.Created,
		"description":    nullable(ep.description),
		"enabled_events": events,
		"livemode":       st.account.Livemode,
		"metadata":       ep.Metadata,
		"status":         status,
		"url":            ep.url,
	})
}

func createWebhookEndpoint(st *state, c *call) (any, *Error) {
	url := c.p.s("url")
	events := c.p.strs("enabled_events")
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if url == "" {
		return nil, errParamMissing("url")
	}
	if len(events) == 0 {
		return nil, errParamMissing("enabled_events")
	}
	if len(events) == 1 && events[0] == "*" {
		events = nil
	}
	ep := st.addEndpoint(WebhookEndpoint{URL: url, EnabledEvents: events, APIVersion: c.p.s("api_version")}, c.p.s("description"))
	c.p.applyMetadata(ep.Metadata)
	out := st.renderEndpoint(ep)
	// Stripe shows the secret only in the response that creates it.
	out["secret"] = ep.secret
	return out, nil
}

func listWebhookEndpoints(st *state, c *call) (any, *Error) {
	return listResponse(c, "/v1/webhook_endpoints", "webhook endpoint", st.endpoints.filter(nil), st.renderEndpoint)
}

func getWebhookEndpoint(st *state, c *call) (any, *Error) {
	ep, ok := st.endpoints.get(c.v("id"))
	if !ok {
		return nil, errMissing("webhook endpoint", c.v("id"), "id")
	}
	return st.renderEndpoint(ep), nil
}

func updateWebhookEndpoint(st *state, c *call) (any, *Error) {
	ep, ok := st.endpoints.get(c.v("id"))
	if !ok {
		return nil, errMissing("webhook endpoint", c.v("id"), "id")
	}
	disabled, hasDisabled := c.p.boolean("disabled")
	events := c.p.strs("enabled_events")
	md := metadataCopy(ep.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	if u := c.p.s("url"); u != "" {
		ep.url = u
	}
	if len(events) > 0 {
		if len(events) == 1 && events[0] == "*" {
			events = nil
		}
		ep.enabledEvents = events
	}
	if hasDisabled {
		ep.disabled = disabled
	}
	if d, ok := c.p.str("description"); ok {
		ep.description = d
	}
	ep.Metadata = md
	return st.renderEndpoint(ep), nil
}

func deleteWebhookEndpoint(st *state, c *call) (any, *Error) {
	ep, ok := st.endpoints.get(c.v("id"))
	if !ok {
		return nil, errMissing("webhook endpoint", c.v("id"), "id")
	}
	st.endpoints.remove(ep.ID)
	st.hooks.drop(ep.ID)
	return canon(obj{"id": ep.ID, "object": "webhook_endpoint", "deleted": true}), nil
}
