package stripeapi

import (
	"context"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// FindCustomers finds customers by id, exact email, or name fragment, at
// most limit of them. The query is quoted for Stripe's search language, so
// it cannot widen the search.
func (c *Client) FindCustomers(ctx context.Context, query string, limit int) ([]*stripe.Customer, error) {
	query = strings.TrimSpace(query)
	limit = clampLimit(limit)
	switch {
	case strings.HasPrefix(query, "cus_"):
		cus, err := c.API.Customers.Get(query, &stripe.CustomerParams{Params: params(ctx)})
		if err != nil {
			return nil, err
		}
		if cus.Deleted {
			return nil, nil
		}
		return []*stripe.Customer{cus}, nil
	case strings.Contains(query, "@"):
		params := &stripe.CustomerListParams{ListParams: listParams(ctx, limit), Email: stripe.String(query)}
		return collect[*stripe.Customer](c.API.Customers.List(params).Iter, limit)
	default:
		escaped := strings.ReplaceAll(strings.ReplaceAll(query, `\`, `\\`), `"`, `\"`)
		params := &stripe.CustomerSearchParams{SearchParams: stripe.SearchParams{
			Context: ctx, Query: `name~"` + escaped + `"`, Limit: stripe.Int64(int64(limit)),
		}}
		iter := c.API.Customers.Search(params)
		var out []*stripe.Customer
		for len(out) < limit && iter.Next() {
			out = append(out, iter.Customer())
		}
		// The search iterator is not a list iterator, so collect does not fit.
		return out, iter.Err()
	}
}

// EachCustomer calls fn for every customer of the account, newest first.
func (c *Client) EachCustomer(ctx context.Context, fn func(*stripe.Customer) error) error {
	iter := c.API.Customers.List(&stripe.CustomerListParams{ListParams: listParams(ctx, MaxListLimit)})
	for iter.Next() {
		if err := fn(iter.Customer()); err != nil {
			return err
		}
	}
	return iter.Err()
}
