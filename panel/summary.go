package panel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// Billing is what the panel reads from an account's Stripe.
type Billing interface {
	Customer(ctx context.Context, id string) (*stripe.Customer, error)
	Subscriptions(ctx context.Context, customerID string) ([]*stripe.Subscription, error)
	Invoices(ctx context.Context, customerID, status string, limit int) ([]*stripe.Invoice, error)
	Charges(ctx context.Context, customerID string, limit int) ([]*stripe.Charge, error)
	Disputes(ctx context.Context, customerID string, limit int) ([]*stripe.Dispute, error)
	PaymentMethods(ctx context.Context, customerID string, limit int) ([]*stripe.PaymentMethod, error)
}

// recent bounds each list: the panel is a glance, the dashboard link the
// rest.
const recent = 10

// Summary is the panel's picture of one customer room. Amounts are
// formatted here, as in chat, so the page never does money arithmetic.
type Summary struct {
	Customer       customerInfo    `json:"customer"`
	PaymentMethods []paymentMethod `json:"payment_methods"`
	Subscriptions  []subscription  `json:"subscriptions"`
	OpenInvoices   []invoice       `json:"open_invoices"`
	Payments       []payment       `json:"payments"`
	Refunds        []refund        `json:"refunds"`
	Disputes       []dispute       `json:"disputes"`
	Conversation   conversation    `json:"conversation"`
}

type customerInfo struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Email          string     `json:"email"`
	Created        *time.Time `json:"created"`
	BalanceDisplay string     `json:"balance_display"`
	Delinquent     bool       `json:"delinquent"`
	DashboardURL   string     `json:"dashboard_url"`
}

type paymentMethod struct {
	ID       string `json:"id"`
	Brand    string `json:"brand"`
	Last4    string `json:"last4"`
	ExpMonth int64  `json:"exp_month,omitempty"`
	ExpYear  int64  `json:"exp_year,omitempty"`
	Default  bool   `json:"default"`
	// ExpiresSoon: the card expires before the next renewal.
	ExpiresSoon bool `json:"expires_soon"`
}

type subscription struct {
	ID                string     `json:"id"`
	Plan              string     `json:"plan"`
	AmountDisplay     string     `json:"amount_display"`
	Status            string     `json:"status"`
	CurrentPeriodEnd  *time.Time `json:"current_period_end"`
	TrialEnd          *time.Time `json:"trial_end"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	Paused            bool       `json:"paused"`
	DashboardURL      string     `json:"dashboard_url"`
}

type invoice struct {
	ID               string     `json:"id"`
	Number           string     `json:"number"`
	AmountDisplay    string     `json:"amount_display"`
	DueDate          *time.Time `json:"due_date"`
	HostedInvoiceURL string     `json:"hosted_invoice_url,omitempty"`
	// SendsEmail: Stripe emails it (send_invoice), so it can be resent.
	SendsEmail   bool   `json:"sends_email"`
	DashboardURL string `json:"dashboard_url"`
}

type payment struct {
	ID             string     `json:"id"`
	AmountDisplay  string     `json:"amount_display"`
	Status         string     `json:"status"`
	Created        *time.Time `json:"created"`
	FailureMessage string     `json:"failure_message,omitempty"`
	Refunded       bool       `json:"refunded"`
	// RefundableDisplay is what is left to refund ("" when nothing is):
	// the panel offers a refund only then, and a partial one up to it.
	RefundableDisplay string `json:"refundable_display,omitempty"`
	Currency          string `json:"currency"`
	DashboardURL      string `json:"dashboard_url"`
}

type refund struct {
	ID            string     `json:"id"`
	AmountDisplay string     `json:"amount_display"`
	Status        string     `json:"status"`
	Created       *time.Time `json:"created"`
}

type dispute struct {
	ID            string     `json:"id"`
	AmountDisplay string     `json:"amount_display"`
	Status        string     `json:"status"`
	Reason        string     `json:"reason"`
	DueBy         *time.Time `json:"due_by"`
	DashboardURL  string     `json:"dashboard_url"`
}

type conversation struct {
	State             string     `json:"state"`
	Assignee          id.UserID  `json:"assignee,omitempty"`
	LastAgentActivity *time.Time `json:"last_agent_activity,omitempty"`
	// WaitingSince is the customer's oldest unanswered message (insights'
	// definition, from the recorded facts); nil when nothing waits.
	WaitingSince *time.Time `json:"waiting_since,omitempty"`
}

// buildSummary reads the customer's billing, the lists in parallel: the
// panel waits for the slowest of them, not their sum.
func buildSummary(ctx context.Context, billing Billing, acct *config.AccountConfig, portal *database.Portal) (*Summary, error) {
	var (
		cus      *stripe.Customer
		subs     []*stripe.Subscription
		invoices []*stripe.Invoice
		charges  []*stripe.Charge
		disputes []*stripe.Dispute
		methods  []*stripe.PaymentMethod
	)
	customerID := portal.CustomerID
	reads := []func() error{
		func() (err error) { cus, err = billing.Customer(ctx, customerID); return },
		func() (err error) { subs, err = billing.Subscriptions(ctx, customerID); return },
		func() (err error) { invoices, err = billing.Invoices(ctx, customerID, "open", recent); return },
		func() (err error) { charges, err = billing.Charges(ctx, customerID, recent); return },
		func() (err error) { disputes, err = billing.Disputes(ctx, customerID, recent); return },
		func() (err error) { methods, err = billing.PaymentMethods(ctx, customerID, recent); return },
	}
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, read := range reads {
		wg.Go(func() { errs[i] = read() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := &Summary{
		PaymentMethods: []paymentMethod{}, Subscriptions: []subscription{}, OpenInvoices: []invoice{},
		Payments: []payment{}, Refunds: []refund{}, Disputes: []dispute{},
		Conversation: conversation{State: string(portal.ConversationState), Assignee: portal.AssignedAgent, LastAgentActivity: timePtr(portal.LastAgentActivityAt)},
	}
	link := func(kind, id string) string { return acct.DashboardLink(kind + "/" + id) }
	out.Customer = customerInfo{
		ID: customerID, Name: usertext.Clean(cus.Name), Email: usertext.Clean(cus.Email),
		Created: unixPtr(cus.Created), BalanceDisplay: stripeapi.FormatAmount(-cus.Balance, string(cus.Currency)),
		Delinquent: cus.Delinquent, DashboardURL: link("customers", customerID),
	}
	var nextRenewal time.Time
	for _, sub := range subs {
		s := subscription{
			ID: sub.ID, Status: string(sub.Status), CurrentPeriodEnd: unixPtr(sub.CurrentPeriodEnd), TrialEnd: unixPtr(sub.TrialEnd),
			CancelAtPeriodEnd: sub.CancelAtPeriodEnd, Paused: sub.PauseCollection != nil, DashboardURL: link("subscriptions", sub.ID),
		}
		if sub.Items != nil && len(sub.Items.Data) > 0 && sub.Items.Data[0].Price != nil {
			price := sub.Items.Data[0].Price
			s.Plan, s.AmountDisplay = planName(price), priceDisplay(price, sub.Items.Data[0].Quantity)
		}
		out.Subscriptions = append(out.Subscriptions, s)
		if end := time.Unix(sub.CurrentPeriodEnd, 0); sub.CurrentPeriodEnd > 0 && !sub.CancelAtPeriodEnd &&
			(nextRenewal.IsZero() || end.Before(nextRenewal)) {
			nextRenewal = end
		}
	}
	defaultPM := ""
	if cus.InvoiceSettings != nil && cus.InvoiceSettings.DefaultPaymentMethod != nil {
		defaultPM = cus.InvoiceSettings.DefaultPaymentMethod.ID
	}
	for _, pm := range methods {
		m := paymentMethod{ID: pm.ID, Brand: string(pm.Type), Default: pm.ID == defaultPM}
		if pm.Card != nil {
			m.Brand, m.Last4, m.ExpMonth, m.ExpYear = cardBrand(pm.Card.Brand), pm.Card.Last4, int64(pm.Card.ExpMonth), int64(pm.Card.ExpYear)
			// A card is good through the last day of its expiry month.
			expires := time.Date(int(pm.Card.ExpYear), time.Month(pm.Card.ExpMonth)+1, 1, 0, 0, 0, 0, time.UTC)
			m.ExpiresSoon = !nextRenewal.IsZero() && !expires.After(nextRenewal)
		}
		out.PaymentMethods = append(out.PaymentMethods, m)
	}
	for _, inv := range invoices {
		out.OpenInvoices = append(out.OpenInvoices, invoice{
			ID: inv.ID, Number: inv.Number, AmountDisplay: stripeapi.FormatAmount(inv.AmountRemaining, string(inv.Currency)),
			DueDate: unixPtr(inv.DueDate), HostedInvoiceURL: inv.HostedInvoiceURL, DashboardURL: link("invoices", inv.ID),
			SendsEmail: inv.CollectionMethod == stripe.InvoiceCollectionMethodSendInvoice,
		})
	}
	for _, ch := range charges {
		out.Payments = append(out.Payments, payment{
			ID: ch.ID, AmountDisplay: stripeapi.FormatAmount(ch.Amount, string(ch.Currency)), Status: string(ch.Status),
			Created: unixPtr(ch.Created), FailureMessage: usertext.Clean(ch.FailureMessage), Refunded: ch.Refunded,
			Currency: string(ch.Currency), DashboardURL: link("payments", paymentID(ch)),
		})
		if left := ch.Amount - ch.AmountRefunded; ch.Paid && ch.Status == stripe.ChargeStatusSucceeded && !ch.Refunded && left > 0 {
			out.Payments[len(out.Payments)-1].RefundableDisplay = stripeapi.FormatAmount(left, string(ch.Currency))
		}
		if ch.Refunds == nil {
			continue
		}
		for _, re := range ch.Refunds.Data {
			out.Refunds = append(out.Refunds, refund{
				ID: re.ID, AmountDisplay: stripeapi.FormatAmount(re.Amount, string(re.Currency)), Status: string(re.Status), Created: unixPtr(re.Created),
			})
		}
	}
	for _, dp := range disputes {
		d := dispute{ID: dp.ID, AmountDisplay: stripeapi.FormatAmount(dp.Amount, string(dp.Currency)), Status: string(dp.Status),
			Reason: string(dp.Reason), DashboardURL: link("disputes", dp.ID)}
		if dp.EvidenceDetails != nil {
			d.DueBy = unixPtr(dp.EvidenceDetails.DueBy)
		}
		out.Disputes = append(out.Disputes, d)
	}
	return out, nil
}

// paymentID is what the dashboard's payments page is keyed by.
func paymentID(ch *stripe.Charge) string {
	if ch.PaymentIntent != nil && ch.PaymentIntent.ID != "" {
		return ch.PaymentIntent.ID
	}
	return ch.ID
}

func planName(price *stripe.Price) string {
	if price.Product != nil && price.Product.Name != "" {
		return usertext.Clean(price.Product.Name)
	}
	if price.Nickname != "" {
		return usertext.Clean(price.Nickname)
	}
	return price.ID
}

func priceDisplay(price *stripe.Price, quantity int64) string {
	amount := stripeapi.FormatAmount(price.UnitAmount*max(quantity, 1), string(price.Currency))
	if price.Recurring == nil {
		return amount
	}
	if n := price.Recurring.IntervalCount; n > 1 {
		return fmt.Sprintf("%s every %d %ss", amount, n, price.Recurring.Interval)
	}
	return fmt.Sprintf("%s / %s", amount, price.Recurring.Interval)
}

var cardBrands = map[stripe.PaymentMethodCardBrand]string{
	"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
	"diners": "Diners Club", "jcb": "JCB", "unionpay": "UnionPay",
}

func cardBrand(brand stripe.PaymentMethodCardBrand) string {
	if name, ok := cardBrands[brand]; ok {
		return name
	}
	return string(brand)
}

func unixPtr(sec int64) *time.Time {
	if sec <= 0 {
		return nil
	}
	t := time.Unix(sec, 0).UTC()
	return &t
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
