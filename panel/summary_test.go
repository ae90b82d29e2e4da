package panel

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// scriptedBilling is one customer's Stripe, as the panel reads it.
type scriptedBilling struct {
	cus      *stripe.Customer
	subs     []*stripe.Subscription
	invoices []*stripe.Invoice
	charges  []*stripe.Charge
	disputes []*stripe.Dispute
	methods  []*stripe.PaymentMethod
	fail     error
}

func (b *scriptedBilling) Customer(context.Context, string) (*stripe.Customer, error) {
	return b.cus, b.fail
}
func (b *scriptedBilling) Subscriptions(context.Context, string) ([]*stripe.Subscription, error) {
	return b.subs, nil
}
func (b *scriptedBilling) Invoices(context.Context, string, string, int) ([]*stripe.Invoice, error) {
	return b.invoices, nil
}
func (b *scriptedBilling) Charges(context.Context, string, int) ([]*stripe.Charge, error) {
	return b.charges, nil
}
func (b *scriptedBilling) Disputes(context.Context, string, int) ([]*stripe.Dispute, error) {
	return b.disputes, nil
}
func (b *scriptedBilling) PaymentMethods(context.Context, string, int) ([]*stripe.PaymentMethod, error) {
	return b.methods, nil
}

func TestBuildSummary(t *testing.T) {
	renewal := time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC)
	card := func(id string, month, year int64) *stripe.PaymentMethod {
		return &stripe.PaymentMethod{ID: id, Type: "card", Card: &stripe.PaymentMethodCard{Brand: "visa", Last4: id[len(id)-4:], ExpMonth: month, ExpYear: year}}
	}
	billing := &scriptedBilling{
		cus: &stripe.Customer{ID: "cus_1", Name: "Bob \u202eChen", Email: "bob@example.com", Created: 1700000000, Balance: -500, Currency: "usd",
			InvoiceSettings: &stripe.CustomerInvoiceSettings{DefaultPaymentMethod: &stripe.PaymentMethod{ID: "pm_1111"}}},
		subs: []*stripe.Subscription{{ID: "sub_1", Status: "active", CurrentPeriodEnd: renewal.Unix(), Items: &stripe.SubscriptionItemList{
			Data: []*stripe.SubscriptionItem{{Quantity: 1, Price: &stripe.Price{UnitAmount: 2900, Currency: "usd",
				Product: &stripe.Product{Name: "Pro"}, Recurring: &stripe.PriceRecurring{Interval: "month", IntervalCount: 1}}}}}}},
		methods: []*stripe.PaymentMethod{card("pm_1111", 2, 2027), card("pm_2222", 3, 2027), card("pm_3333", 4, 2027)},
		charges: []*stripe.Charge{{ID: "ch_1", Amount: 2900, Currency: "usd", Status: "failed", FailureMessage: "Your card has insufficient funds.",
			Refunds: &stripe.RefundList{Data: []*stripe.Refund{{ID: "re_1", Amount: 100, Currency: "usd", Status: "succeeded"}}}}},
		invoices: []*stripe.Invoice{{ID: "in_1", Number: "ABC-0002", AmountRemaining: 2900, Currency: "usd", HostedInvoiceURL: "https://invoice.stripe.com/i/x"}},
	}
	acct := &config.AccountConfig{Alias: "main", DashboardURL: "https://dashboard.stripe.com"}
	sum, err := buildSummary(context.Background(), billing, acct, &database.Portal{AccountID: "main", CustomerID: "cus_1", ConversationState: "open"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Customer.Name != "Bob Chen" || sum.Customer.BalanceDisplay != "$5.00" || sum.Customer.DashboardURL != "https://dashboard.stripe.com/test/customers/cus_1" {
		t.Errorf("customer %+v (a bidi override must be cleaned; a negative balance is credit)", sum.Customer)
	}
	// A card runs through the last day of its month: 02/27 is gone by the
	// 15 March renewal, 03/27 and 04/27 are not.
	soon := map[string]bool{}
	for _, pm := range sum.PaymentMethods {
		soon[pm.Last4] = pm.ExpiresSoon
	}
	if !soon["1111"] || soon["2222"] || soon["3333"] {
		t.Errorf("expires before the 15 Mar renewal: %v, want only 02/27", soon)
	}
	if !sum.PaymentMethods[0].Default || sum.PaymentMethods[1].Default {
		t.Errorf("default card: %+v", sum.PaymentMethods)
	}
	if len(sum.Subscriptions) != 1 || sum.Subscriptions[0].Plan != "Pro" || sum.Subscriptions[0].AmountDisplay != "$29.00 / month" {
		t.Errorf("subscriptions %+v", sum.Subscriptions)
	}
	if len(sum.Payments) != 1 || sum.Payments[0].FailureMessage == "" || len(sum.Refunds) != 1 || sum.Refunds[0].AmountDisplay != "$1.00" {
		t.Errorf("payments %+v refunds %+v", sum.Payments, sum.Refunds)
	}
	if len(sum.OpenInvoices) != 1 || !strings.HasPrefix(sum.OpenInvoices[0].HostedInvoiceURL, "https://invoice.stripe.com/") {
		t.Errorf("invoices %+v", sum.OpenInvoices)
	}

	billing.fail = errors.New("stripe is down")
	if _, err := buildSummary(context.Background(), billing, acct, &database.Portal{CustomerID: "cus_1"}); err == nil {
		t.Error("a failed read made a summary")
	}
}
