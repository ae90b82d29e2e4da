package stripefake

import (
	"strings"
)

// maxExpandDepth is Stripe's limit on nested expansion.
const maxExpandDepth = 4

// expand replaces id strings by the objects they name, following each
// dotted path (`data.customer`, `latest_invoice.payment_intent`). Arrays
// along the way are expanded element by element, which is how `data.`
// reaches into lists.
func (st *state) expand(o obj, paths []string) *Error {
	for _, path := range paths {
		segs := strings.Split(path, ".")
		if len(segs) > maxExpandDepth {
			return errInvalidParam("expand", "You cannot expand more than %d levels of a property. Property: %s", maxExpandDepth, path)
		}
		if e := st.expandNode(o, segs, path, o["object"] == "list" || o["object"] == "search_result"); e != nil {
			return e
		}
	}
	return nil
}

func (st *state) expandNode(node any, segs []string, full string, isList bool) *Error {
	switch n := node.(type) {
	case []any:
		for _, el := range n {
			if e := st.expandNode(el, segs, full, false); e != nil {
				return e
			}
		}
	case map[string]any:
		v, ok := n[segs[0]]
		if !ok {
			v, ok = st.includable(n, segs[0])
		}
		if !ok {
			return notExpandable(full, isList)
		}
		if id, isID := v.(string); isID {
			o, found := st.renderID(id)
			if !found {
				return notExpandable(full, isList)
			}
			n[segs[0]] = o
			v = o
		}
		if v != nil && len(segs) > 1 {
			return st.expandNode(v, segs[1:], full, false)
		}
	}
	return nil
}

// includable fills the properties 2023-10-16 leaves out unless expanded:
// charge.refunds and customer.subscriptions.
func (st *state) includable(n map[string]any, key string) (any, bool) {
	id, _ := n["id"].(string)
	var v any
	switch {
	case key == "refunds" && n["object"] == "charge":
		v = st.refundsList(id)
	case key == "subscriptions" && n["object"] == "customer":
		v = st.customerSubscriptions(id)
	default:
		return nil, false
	}
	n[key] = v
	return v, true
}

func notExpandable(path string, isList bool) *Error {
	if isList && !strings.HasPrefix(path, "data.") {
		return errInvalidParam("expand", "This property cannot be expanded (%s). You may want to try expanding 'data.%s' instead.", path, path)
	}
	return errInvalidParam("expand", "This property cannot be expanded (%s).", path)
}

// renderID renders any stored object by id; the id prefix says which kind.
func (st *state) renderID(id string) (obj, bool) {
	prefix, _, ok := strings.Cut(id, "_")
	if !ok {
		return nil, false
	}
	switch prefix {
	case "cus":
		return renderFound(st.customers.get(id))(st.renderCustomer)
	case "pm":
		return renderFound(st.paymentMethods.get(id))(st.renderPaymentMethod)
	case "prod":
		return renderFound(st.products.get(id))(st.renderProduct)
	case "price":
		return renderFound(st.prices.get(id))(st.renderPrice)
	case "sub":
		return renderFound(st.subscriptions.get(id))(st.renderSubscription)
	case "in":
		return renderFound(st.invoices.get(id))(st.renderInvoice)
	case "ch":
		return renderFound(st.charges.get(id))(st.renderCharge)
	case "pi":
		return renderFound(st.paymentIntents.get(id))(st.renderPaymentIntent)
	case "re":
		return renderFound(st.refunds.get(id))(st.renderRefund)
	case "dp":
		return renderFound(st.disputes.get(id))(st.renderDispute)
	case "cbtxn":
		return renderFound(st.balanceTxns.get(id))(st.renderBalanceTxn)
	}
	return nil, false
}

// renderFound adapts a table lookup to a render function.
func renderFound[T any](v T, ok bool) func(func(T) obj) (obj, bool) {
	return func(render func(T) obj) (obj, bool) {
		if !ok {
			return nil, false
		}
		return render(v), true
	}
}
