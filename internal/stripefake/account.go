package stripefake

func accountRoutes() []route {
	return []route{
		{"GET", "/v1/account", getAccount},
	}
}

func getAccount(st *state, _ *call) (any, *Error) {
	a := st.account
	return canon(obj{
		"id":     a.ID,
		"object": "account",
		"business_profile": obj{
			"name": a.Name, "url": nil, "support_email": nullable(a.Email),
			"mcc": nil, "product_description": nil, "support_phone": nil, "support_url": nil,
		},
		"business_type":     "company",
		"capabilities":      obj{"card_payments": "active", "transfers": "active"},
		"charges_enabled":   true,
		"country":           a.Country,
		"created":           int64(1577836800),
		"default_currency":  a.DefaultCurrency,
		"details_submitted": true,
		"email":             nullable(a.Email),
		"metadata":          obj{},
		"payouts_enabled":   true,
		"settings": obj{
			"dashboard": obj{"display_name": a.Name, "timezone": "Etc/UTC"},
		},
		"type": "standard",
	}), nil
}
