package commands

import (
	"context"

	"github.com/stripe/stripe-go/v76"
)

// AccountSearcher finds customers across an account (management room).
type AccountSearcher interface {
	// FindCustomers matches a customer id, an exact email or a name fragment.
	FindCustomers(ctx context.Context, query string, limit int) ([]*stripe.Customer, error)
	// EachCustomer visits every customer of the account.
	EachCustomer(ctx context.Context, fn func(*stripe.Customer) error) error
}
