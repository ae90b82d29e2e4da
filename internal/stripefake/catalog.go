package stripefake

import (
	"strconv"
	"strings"
)

type product struct {
	meta
	name, description string
	active            bool
	defaultPrice      string
	updated           int64
}

type price struct {
	meta
	product       string
	unitAmount    int64
	currency      string
	interval      string // empty for one-time prices
	intervalCount int64
	nickname      string
	lookupKey     string
	active        bool
}

type coupon struct {
	meta
	name             string
	percentOff       float64
	amountOff        int64
	currency         string
	duration         string
	durationInMonths int64
	maxRedemptions   int64
	timesRedeemed    int64
	valid            bool
	deleted          bool
}

func catalogRoutes() []route {
	return []route{
		{"POST", "/v1/products", createProduct},
		{"GET", "/v1/products", listProducts},
		{"GET", "/v1/products/{id}", getProduct},
		{"POST", "/v1/products/{id}", updateProduct},
		{"POST", "/v1/prices", createPrice},
		{"GET", "/v1/prices", listPrices},
		{"GET", "/v1/prices/{id}", getPrice},
		{"POST", "/v1/prices/{id}", updatePrice},
		{"POST", "/v1/coupons", createCoupon},
		{"GET", "/v1/coupons", listCoupons},
		{"GET", "/v1/coupons/{id}", getCoupon},
		{"DELETE", "/v1/coupons/{id}", deleteCoupon},
	}
}

func (st *state) renderProduct(p *product) obj {
	return canon(obj{
		"id": p.ID, "object": "product", "active": p.active, "created": p.Created,
		"default_price": nullable(p.defaultPrice), "description": nullable(p.description),
		"features": []any{}, "images": []any{}, "livemode": st.account.Livemode,
		"metadata": p.Metadata, "name": p.name, "package_dimensions": nil, "shippable": nil,
		"statement_descriptor": nil, "tax_code": nil, "type": "service", "unit_label": nil,
		"updated": p.updated, "url": nil,
	})
}

func (st *state) renderPrice(p *price) obj {
	var recurring, typ any = nil, "one_time"
	if p.interval != "" {
		typ = "recurring"
		recurring = obj{
			"aggregate_usage": nil, "interval": p.interval, "interval_count": p.intervalCount,
			"trial_period_days": nil, "usage_type": "licensed",
		}
	}
	return canon(obj{
		"id": p.ID, "object": "price", "active": p.active, "billing_scheme": "per_unit",
		"created": p.Created, "currency": p.currency, "custom_unit_amount": nil,
		"livemode": st.account.Livemode, "lookup_key": nullable(p.lookupKey), "metadata": p.Metadata,
		"nickname": nullable(p.nickname), "product": p.product, "recurring": recurring,
		"tax_behavior": "unspecified", "tiers_mode": nil, "transform_quantity": nil, "type": typ,
		"unit_amount": p.unitAmount, "unit_amount_decimal": strconv.FormatInt(p.unitAmount, 10),
	})
}

func (st *state) renderCoupon(cp *coupon) obj {
	if cp.deleted {
		return canon(obj{"id": cp.ID, "object": "coupon", "deleted": true})
	}
	var percent any
	if cp.percentOff > 0 {
		percent = cp.percentOff
	}
	return canon(obj{
		"id": cp.ID, "object": "coupon", "amount_off": nullable(cp.amountOff), "created": cp.Created,
		"currency": nullable(cp.currency), "duration": cp.duration,
		"duration_in_months": nullable(cp.durationInMonths), "livemode": st.account.Livemode,
		"max_redemptions": nullable(cp.maxRedemptions), "metadata": cp.Metadata,
		"name": nullable(cp.name), "percent_off": percent, "redeem_by": nil,
		"times_redeemed": cp.timesRedeemed, "valid": cp.valid,
	})
}

func (st *state) newProduct(id, name string) *product {
	m := st.newMeta("prod_", 14)
	if id != "" {
		m.ID = id
	}
	p := &product{meta: m, name: name, active: true, updated: m.Created}
	st.products.add(p)
	return p
}

func (st *state) newPrice(id, productID string, amount int64, currency, interval string, count int64) *price {
	m := st.newMeta("price_", 24)
	if id != "" {
		m.ID = id
	}
	if interval != "" && count == 0 {
		count = 1
	}
	p := &price{meta: m, product: productID, unitAmount: amount, currency: strings.ToLower(currency),
		interval: interval, intervalCount: count, active: true}
	st.prices.add(p)
	if prod, ok := st.products.get(productID); ok && prod.defaultPrice == "" {
		prod.defaultPrice = p.ID
	}
	return p
}

// productName is what invoice lines and descriptions call a price.
func (st *state) productName(p *price) string {
	if prod, ok := st.products.get(p.product); ok {
		return prod.name
	}
	return p.ID
}

func createProduct(st *state, c *call) (any, *Error) {
	md := map[string]string{}
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	name := c.p.s("name")
	if name == "" {
		return nil, errParamMissing("name")
	}
	p := st.newProduct(c.p.s("id"), name)
	p.description, p.Metadata = c.p.s("description"), md
	out := st.renderProduct(p)
	st.emit("product.created", out, nil)
	return out, nil
}

func listProducts(st *state, c *call) (any, *Error) {
	active, hasActive := c.p.boolean("active")
	items := st.products.filter(func(p *product) bool { return !hasActive || p.active == active })
	return listResponse(c, "/v1/products", "product", items, st.renderProduct)
}

func getProduct(st *state, c *call) (any, *Error) {
	p, ok := st.products.get(c.v("id"))
	if !ok {
		return nil, errMissing("product", c.v("id"), "id")
	}
	return st.renderProduct(p), nil
}

func updateProduct(st *state, c *call) (any, *Error) {
	p, ok := st.products.get(c.v("id"))
	if !ok {
		return nil, errMissing("product", c.v("id"), "id")
	}
	active, hasActive := c.p.boolean("active")
	md := metadataCopy(p.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	done := st.changed("product.updated", func() obj { return st.renderProduct(p) })
	if v, ok := c.p.str("name"); ok && v != "" {
		p.name = v
	}
	if v, ok := c.p.str("description"); ok {
		p.description = v
	}
	if hasActive {
		p.active = active
	}
	p.Metadata, p.updated = md, st.unix()
	done()
	return st.renderProduct(p), nil
}

func createPrice(st *state, c *call) (any, *Error) {
	p := c.p
	amount, hasAmount := p.int("unit_amount")
	rec := p.sub("recurring")
	count, _ := rec.int("interval_count")
	md := map[string]string{}
	p.applyMetadata(md)
	if e := p.check(); e != nil {
		return nil, e
	}
	currency := p.s("currency")
	switch {
	case currency == "":
		return nil, errParamMissing("currency")
	case !hasAmount:
		return nil, errParamMissing("unit_amount")
	}
	interval := rec.s("interval")
	switch interval {
	case "", "day", "week", "month", "year":
	default:
		return nil, errInvalidParam("recurring[interval]", "Invalid recurring[interval]: must be one of day, week, month, or year")
	}
	productID := p.s("product")
	if productID == "" {
		name := p.sub("product_data").s("name")
		if name == "" {
			return nil, errParamMissing("product")
		}
		prod := st.newProduct("", name)
		st.emit("product.created", st.renderProduct(prod), nil)
		productID = prod.ID
	} else if _, ok := st.products.get(productID); !ok {
		return nil, errMissing("product", productID, "product")
	}
	pr := st.newPrice("", productID, amount, currency, interval, count)
	pr.nickname, pr.lookupKey, pr.Metadata = p.s("nickname"), p.s("lookup_key"), md
	out := st.renderPrice(pr)
	st.emit("price.created", out, nil)
	return out, nil
}

func listPrices(st *state, c *call) (any, *Error) {
	active, hasActive := c.p.boolean("active")
	productID, currency, typ := c.p.s("product"), c.p.s("currency"), c.p.s("type")
	interval := c.p.sub("recurring").s("interval")
	lookup := c.p.strs("lookup_keys")
	items := st.prices.filter(func(p *price) bool {
		isRecurring := p.interval != ""
		switch {
		case hasActive && p.active != active,
			productID != "" && p.product != productID,
			currency != "" && p.currency != currency,
			typ == "recurring" && !isRecurring, typ == "one_time" && isRecurring,
			interval != "" && p.interval != interval:
			return false
		}
		if len(lookup) == 0 {
			return true
		}
		for _, k := range lookup {
			if k == p.lookupKey {
				return true
			}
		}
		return false
	})
	return listResponse(c, "/v1/prices", "price", items, st.renderPrice)
}

func getPrice(st *state, c *call) (any, *Error) {
	p, ok := st.prices.get(c.v("id"))
	if !ok {
		return nil, errMissing("price", c.v("id"), "price")
	}
	return st.renderPrice(p), nil
}

func updatePrice(st *state, c *call) (any, *Error) {
	p, ok := st.prices.get(c.v("id"))
	if !ok {
		return nil, errMissing("price", c.v("id"), "price")
	}
	active, hasActive := c.p.boolean("active")
	md := metadataCopy(p.Metadata)
	c.p.applyMetadata(md)
	if e := c.p.check(); e != nil {
		return nil, e
	}
	done := st.changed("price.updated", func() obj { return st.renderPrice(p) })
	if hasActive {
		p.active = active
	}
	if v, ok := c.p.str("nickname"); ok {
		p.nickname = v
	}
	if v, ok := c.p.str("lookup_key"); ok {
		p.lookupKey = v
	}
	p.Metadata = md
	done()
	return st.renderPrice(p), nil
}

func (st *state) newCoupon(id string) *coupon {
	m := st.newMeta("", 8)
	if id != "" {
		m.ID = id
	}
	cp := &coupon{meta: m, duration: "once", valid: true}
	st.coupons.add(cp)
	return cp
}

func createCoupon(st *state, c *call) (any, *Error) {
	p := c.p
	amountOff, _ := p.int("amount_off")
	months, _ := p.int("duration_in_months")
	maxRed, _ := p.int("max_redemptions")
	percent := 0.0
	if v := p.s("percent_off"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || f > 100 {
			return nil, errInvalidParam("percent_off", "Invalid percent_off: must be a number between 0 and 100")
		}
		percent = f
	}
	md := map[string]string{}
	p.applyMetadata(md)
	if e := p.check(); e != nil {
		return nil, e
	}
	if (percent == 0) == (amountOff == 0) {
		return nil, errInvalidParam("percent_off", "Exactly one of amount_off or percent_off is required.")
	}
	if amountOff > 0 && p.s("currency") == "" {
		return nil, errParamMissing("currency")
	}
	if id := p.s("id"); id != "" {
		if _, exists := st.coupons.get(id); exists {
			return nil, errState("resource_already_exists", "Coupon already exists.")
		}
	}
	cp := st.newCoupon(p.s("id"))
	cp.name, cp.percentOff, cp.amountOff, cp.currency = p.s("name"), percent, amountOff, strings.ToLower(p.s("currency"))
	if d := p.s("duration"); d != "" {
		cp.duration = d
	}
	cp.durationInMonths, cp.maxRedemptions, cp.Metadata = months, maxRed, md
	out := st.renderCoupon(cp)
	st.emit("coupon.created", out, nil)
	return out, nil
}

func listCoupons(st *state, c *call) (any, *Error) {
	items := st.coupons.filter(func(cp *coupon) bool { return !cp.deleted })
	return listResponse(c, "/v1/coupons", "coupon", items, st.renderCoupon)
}

func (st *state) liveCoupon(id, param string) (*coupon, *Error) {
	cp, ok := st.coupons.get(id)
	if !ok || cp.deleted {
		return nil, errMissing("coupon", id, param)
	}
	return cp, nil
}

func getCoupon(st *state, c *call) (any, *Error) {
	cp, e := st.liveCoupon(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	return st.renderCoupon(cp), nil
}

func deleteCoupon(st *state, c *call) (any, *Error) {
	cp, e := st.liveCoupon(c.v("id"), "id")
	if e != nil {
		return nil, e
	}
	full := st.renderCoupon(cp)
	cp.deleted, cp.valid = true, false
	st.emit("coupon.deleted", full, nil)
	return st.renderCoupon(cp), nil
}

// discountOn is what a coupon takes off an amount, never more than it.
func discountOn(cp *coupon, amount int64) int64 {
	off := cp.amountOff
	if cp.percentOff > 0 {
		off = int64(float64(amount)*cp.percentOff/100 + 0.5)
	}
	return min(off, amount)
}
