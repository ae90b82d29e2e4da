package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// readTimeout bounds the Stripe calls of one read command, so a slow Stripe
// gets a sentence in the room instead of a command that never answers.
const readTimeout = 30 * time.Second

// maxShown is the most rows a list reply shows: more is not scannable in a
// chat, and the full history is in the Stripe dashboard or customer portal.
const maxShown = 20

// notCustomerRoom is the answer to a customer command anywhere else.
const notCustomerRoom = "This command works in a customer room."

func readCommands() []*Command {
	read := func(name, args, help string, fn func(r *readCtx)) *Command {
		return &Command{Name: name, Args: args, Help: help, Role: config.RoleCustomer, Scope: Anywhere, Func: customerRead(name, args, fn)}
	}
	return []*Command{
		read("summary", "", "Your account at a glance: card, balance, subscriptions, open invoices, last payment", cmdSummary),
		read("invoices", "[open|paid|all] [n]", "List invoices (open ones and the most recent by default)", cmdInvoices),
		read("invoice", "<id|number>", "Show one invoice with its payment link and PDF", cmdInvoice),
		read("upcoming", "", "When the next invoice comes and how much it will be", cmdUpcoming),
		read("subscriptions", "", "List subscriptions and when they renew", cmdSubscriptions),
		read("payments", "[n]", "List recent payments, with the reason for any that failed", cmdPayments),
		read("why", "", "Explain the most recent failed payment and how to fix it", cmdWhy),
		read("refunds", "", "List refunds", cmdRefunds),
		read("disputes", "", "List disputed payments", cmdDisputes),
	}
}

// readCtx is one read command in a customer room: the room's customer, its
// account's API, and a context with the read deadline.
type readCtx struct {
	ce     *Event
	ctx    context.Context
	portal *database.Portal
	api    CustomerAPI
	usage  string
}

// customerRead resolves the room's customer before fn runs, so no read
// command can ever run without one, or with anyone else's.
func customerRead(name, args string, fn func(r *readCtx)) func(ce *Event) {
	return func(ce *Event) {
		portal, api, ok := roomCustomer(ce)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(ce.Ctx, readTimeout)
		defer cancel()
		usage := strings.TrimSpace(name + " " + args)
		if prefix := ce.Meta.Config.Bridge.CommandPrefix; prefix != "" {
			usage = prefix + " " + usage
		}
		fn(&readCtx{ce: ce, ctx: ctx, portal: portal, api: api, usage: usage})
	}
}

func (r *readCtx) reply(msg string) { r.ce.Reply("%s", msg) }

// fail reports a failed Stripe read: the cause to the log, a sentence to
// the room.
func (r *readCtx) fail(err error, what string) {
	r.ce.Log.Warn().Err(err).Str("customer_id", r.portal.CustomerID).Str("reading", what).Msg("Stripe read failed")
	r.reply(errorSentence(err))
}

// badArgs answers arguments a command does not take with its usage.
func (r *readCtx) badArgs(detail string) {
	if detail != "" {
		detail = " " + detail
	}
	r.reply("Usage: " + code(r.usage) + "." + detail)
}

// noArgs refuses arguments to a command that takes none.
func (r *readCtx) noArgs() bool {
	if len(r.ce.Args) > 0 {
		r.badArgs("It takes no arguments.")
		return false
	}
	return true
}

// parseCount reads the optional row count n (1..maxShown).
func parseCount(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= maxShown
}

func cmdSummary(r *readCtx) {
	if !r.noArgs() {
		return
	}
	id := r.portal.CustomerID
	cus, err := r.api.Customer(r.ctx, id)
	if err != nil {
		r.fail(err, "customer")
		return
	}
	if cus.Deleted {
		r.reply("This customer has been deleted in Stripe.")
		return
	}
	subs, err := r.api.Subscriptions(r.ctx, id)
	if err != nil {
		r.fail(err, "subscriptions")
		return
	}
	open, err := r.api.Invoices(r.ctx, id, string(stripe.InvoiceStatusOpen), maxShown)
	if err != nil {
		r.fail(err, "invoices")
		return
	}
	charges, err := r.api.Charges(r.ctx, id, 1)
	if err != nil {
		r.fail(err, "charges")
		return
	}
	subs, open = ownedOnly(id, subs, subscriptionOwner), ownedOnly(id, open, invoiceOwner)
	charges = ownedOnly(id, charges, chargeOwner)
	var b strings.Builder
	// A name of nothing but invisible characters is no name.
	name := plain(cus.Name)
	if name == "" {
		name = "Customer"
	}
	fmt.Fprintf(&b, "**%s**", name)
	if email := plain(cus.Email); email != "" {
		fmt.Fprintf(&b, " · %s", email)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "* Balance: %s\n", balanceText(cus.Balance, string(cus.Currency)))
	fmt.Fprintf(&b, "* Payment method: %s\n", defaultCard(cus))
	if len(subs) == 0 {
		b.WriteString("* Subscriptions: none\n")
	}
	for _, sub := range subs {
		fmt.Fprintf(&b, "* Subscription: %s\n", subscriptionText(sub))
	}
	if len(open) == 0 {
		b.WriteString("* Open invoices: none\n")
	} else {
		var due int64
		currency := string(open[0].Currency)
		for _, inv := range open {
			due += inv.AmountRemaining
		}
		fmt.Fprintf(&b, "* Open invoices: %d, %s due\n", len(open), money(due, currency))
	}
	if len(charges) == 0 {
		b.WriteString("* Last payment: none yet\n")
	} else {
		fmt.Fprintf(&b, "* Last payment: %s\n", chargeText(charges[0]))
	}
	r.reply(b.String())
}

// balanceText explains the sign of a Stripe customer balance, which is the
// opposite of what most people expect: negative is credit.
func balanceText(balance int64, currency string) string {
	switch {
	case balance < 0:
		return money(-balance, currency) + " credit (taken off the next invoice)"
	case balance > 0:
		return money(balance, currency) + " owed (added to the next invoice)"
	}
	return "nothing owed, no credit"
}

func defaultCard(cus *stripe.Customer) string {
	if cus.InvoiceSettings == nil || cus.InvoiceSettings.DefaultPaymentMethod == nil {
		return "none on file"
	}
	pm := cus.InvoiceSettings.DefaultPaymentMethod
	if pm.Card == nil {
		if pm.Type == "" {
			return "on file"
		}
		return words(string(pm.Type))
	}
	s := card(string(pm.Card.Brand), pm.Card.Last4)
	if pm.Card.ExpMonth > 0 && pm.Card.ExpYear > 0 {
		s += fmt.Sprintf(", expires %02d/%d", pm.Card.ExpMonth, pm.Card.ExpYear)
	}
	return s
}

func cmdSubscriptions(r *readCtx) {
	if !r.noArgs() {
		return
	}
	subs, err := r.api.Subscriptions(r.ctx, r.portal.CustomerID)
	if err != nil {
		r.fail(err, "subscriptions")
		return
	}
	subs = ownedOnly(r.portal.CustomerID, subs, subscriptionOwner)
	if len(subs) == 0 {
		r.reply("No active subscriptions.")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s:\n\n", len(subs), pluralize(len(subs), "subscription", "subscriptions"))
	for _, sub := range subs {
		fmt.Fprintf(&b, "* %s · %s\n", subscriptionText(sub), code(sub.ID))
	}
	r.reply(b.String())
}

// subscriptionText is "$10.00 / month, active, renews 5 Jun 2024".
func subscriptionText(sub *stripe.Subscription) string {
	var prices []string
	if sub.Items != nil {
		for _, it := range sub.Items.Data {
			if it.Price != nil {
				prices = append(prices, priceText(it.Price, it.Quantity))
			}
		}
	}
	if len(prices) == 0 {
		prices = append(prices, "no price")
	}
	s := strings.Join(prices, " + ") + ", " + words(string(sub.Status))
	switch {
	case sub.Status == stripe.SubscriptionStatusTrialing && sub.TrialEnd > 0:
		s += ", trial ends " + day(sub.TrialEnd)
	case sub.CancelAtPeriodEnd || sub.CancelAt > 0:
		end := sub.CancelAt
		if end == 0 {
			end = sub.CurrentPeriodEnd
		}
		s += ", ends " + day(end)
	case sub.PauseCollection != nil:
		s += ", payments paused"
	case sub.Status == stripe.SubscriptionStatusActive || sub.Status == stripe.SubscriptionStatusPastDue:
		s += ", renews " + day(sub.CurrentPeriodEnd)
	}
	return s
}

// priceText is "$10.00 / month", with the quantity and nickname when they
// say something.
func priceText(p *stripe.Price, quantity int64) string {
	s := money(p.UnitAmount, string(p.Currency))
	if p.Recurring != nil {
		interval := string(p.Recurring.Interval)
		if p.Recurring.IntervalCount > 1 {
			interval = fmt.Sprintf("%d %ss", p.Recurring.IntervalCount, interval)
		}
		s += " / " + plain(interval)
	}
	if quantity > 1 {
		s = fmt.Sprintf("%d × %s", quantity, s)
	}
	if p.Nickname != "" {
		s = plain(p.Nickname) + " " + s
	}
	return s
}
