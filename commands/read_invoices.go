package commands

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// defaultShown is how many rows a list shows when no n is given.
const defaultShown = 10

func cmdInvoices(r *readCtx) {
	status, n := "", defaultShown
	var sawStatus, sawCount bool
	for _, arg := range r.ce.Args {
		switch word := strings.ToLower(arg); {
		case !sawStatus && (word == "open" || word == "paid" || word == "all"):
			status, sawStatus = word, true
		case !sawCount && isDigits(word):
			var ok bool
			if n, ok = parseCount(word); !ok {
				r.badArgs(fmt.Sprintf("n is a number from 1 to %d.", maxShown))
				return
			}
			sawCount = true
		default:
			r.badArgs(fmt.Sprintf("Status is open, paid or all; n is a number from 1 to %d.", maxShown))
			return
		}
	}
	id := r.portal.CustomerID
	if status != "" {
		filter := status
		if status == "all" {
			filter = ""
		}
		invs, err := r.api.Invoices(r.ctx, id, filter, n)
		if err != nil {
			r.fail(err, "invoices")
			return
		}
		invs = ownedOnly(id, invs, invoiceOwner)
		if len(invs) == 0 {
			r.reply(map[string]string{"all": "No invoices yet.", "open": "No open invoices.", "paid": "No paid invoices."}[status])
			return
		}
		r.reply(invoiceList(titleFor(status), invs))
		return
	}
	// By default what needs attention comes first: every open invoice (up to
	// the list cap), then the most recent others.
	open, err := r.api.Invoices(r.ctx, id, string(stripe.InvoiceStatusOpen), maxShown)
	if err != nil {
		r.fail(err, "invoices")
		return
	}
	recent, err := r.api.Invoices(r.ctx, id, "", n)
	if err != nil {
		r.fail(err, "invoices")
		return
	}
	open = ownedOnly(id, open, invoiceOwner)
	var others []*stripe.Invoice
	for _, inv := range ownedOnly(id, recent, invoiceOwner) {
		if inv.Status != stripe.InvoiceStatusOpen {
			others = append(others, inv)
		}
	}
	if len(open) == 0 && len(others) == 0 {
		r.reply("No invoices yet.")
		return
	}
	var parts []string
	if len(open) > 0 {
		parts = append(parts, invoiceList("Open invoices", open))
	} else {
		parts = append(parts, "No open invoices.")
	}
	if len(others) > 0 {
		parts = append(parts, invoiceList("Recent invoices", others))
	}
	r.reply(strings.Join(parts, "\n\n"))
}

func titleFor(status string) string {
	switch status {
	case "open":
		return "Open invoices"
	case "paid":
		return "Paid invoices"
	}
	return "Invoices"
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func invoiceList(title string, invs []*stripe.Invoice) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**\n\n", title)
	for _, inv := range invs {
		fmt.Fprintf(&b, "* %s\n", invoiceText(inv))
	}
	return strings.TrimRight(b.String(), "\n")
}

// invoiceText is one scannable line: id, number, amount, state, link.
func invoiceText(inv *stripe.Invoice) string {
	parts := []string{code(inv.ID)}
	if inv.Number != "" {
		parts = append(parts, plain(inv.Number))
	}
	currency := string(inv.Currency)
	switch inv.Status {
	case stripe.InvoiceStatusOpen:
		due := "**" + money(inv.AmountRemaining, currency) + " due**"
		if inv.DueDate > 0 {
			due += " by " + day(inv.DueDate)
		}
		parts = append(parts, due, "issued "+day(inv.Created))
		if l := link("Pay", inv.HostedInvoiceURL); l != "" {
			parts = append(parts, l)
		}
	case stripe.InvoiceStatusPaid:
		paid := inv.Created
		if inv.StatusTransitions != nil && inv.StatusTransitions.PaidAt > 0 {
			paid = inv.StatusTransitions.PaidAt
		}
		parts = append(parts, money(inv.Total, currency), "paid "+day(paid))
	default:
		parts = append(parts, money(inv.Total, currency), words(string(inv.Status)), day(inv.Created))
	}
	return strings.Join(parts, " · ")
}

func cmdInvoice(r *readCtx) {
	if len(r.ce.Args) > 1 {
		r.badArgs("Give one invoice id (`in_…`) or number, or reply to an invoice message.")
		return
	}
	arg := ""
	if len(r.ce.Args) == 1 {
		arg = r.ce.Args[0]
	}
	target := ResolveTarget(r.ce, arg)
	if target == "" {
		r.badArgs("Give an invoice id (`in_…`) or number, or reply to an invoice message.")
		return
	}
	var inv *stripe.Invoice
	var err error
	if _, isID := objectNoun(target); isID || strings.HasPrefix(target, "in_") {
		inv, err = ownedInvoice(r, target)
	} else {
		inv, err = invoiceByNumber(r, target)
	}
	if err != nil {
		if errors.Is(err, ErrInvalidID) {
			r.badArgs("Give an invoice id (`in_…`) or number.")
			return
		}
		r.fail(err, "invoice")
		return
	}
	r.reply(invoiceDetail(inv))
}

// ownedInvoice accepts only invoice ids: a charge id here is a usage error,
// not a lookup.
func ownedInvoice(r *readCtx, target string) (*stripe.Invoice, error) {
	if !strings.HasPrefix(target, "in_") {
		return nil, invalidID()
	}
	obj, err := Owned(r.ctx, r.api, r.portal.CustomerID, target)
	if err != nil {
		return nil, err
	}
	inv, ok := obj.(*stripe.Invoice)
	if !ok {
		return nil, notFound("invoice")
	}
	return inv, nil
}

// invoiceByNumber searches only the room's customer's invoices, so a number
// of another customer's invoice is simply not found.
func invoiceByNumber(r *readCtx, number string) (*stripe.Invoice, error) {
	if !validNumber(number) {
		return nil, invalidID()
	}
	invs, err := r.api.Invoices(r.ctx, r.portal.CustomerID, "", stripeapi.MaxListLimit)
	if err != nil {
		return nil, err
	}
	for _, inv := range ownedOnly(r.portal.CustomerID, invs, invoiceOwner) {
		if inv.Number != "" && strings.EqualFold(inv.Number, number) {
			return inv, nil
		}
	}
	return nil, notFound("invoice")
}

// validNumber accepts what Stripe invoice numbers are made of (prefix, dash,
// sequence).
func validNumber(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func invoiceDetail(inv *stripe.Invoice) string {
	var b strings.Builder
	title := "Invoice"
	if inv.Number != "" {
		title += " " + plain(inv.Number)
	}
	currency := string(inv.Currency)
	fmt.Fprintf(&b, "**%s** · %s · %s\n\n", title, code(inv.ID), words(string(inv.Status)))
	fmt.Fprintf(&b, "* Total: %s", money(inv.Total, currency))
	if inv.AmountPaid > 0 {
		fmt.Fprintf(&b, ", paid %s", money(inv.AmountPaid, currency))
	}
	if inv.Status == stripe.InvoiceStatusOpen {
		fmt.Fprintf(&b, ", **%s due**", money(inv.AmountRemaining, currency))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "* Issued %s", day(inv.Created))
	if inv.DueDate > 0 {
		fmt.Fprintf(&b, ", due %s", day(inv.DueDate))
	}
	if inv.StatusTransitions != nil && inv.StatusTransitions.PaidAt > 0 {
		fmt.Fprintf(&b, ", paid %s", day(inv.StatusTransitions.PaidAt))
	}
	b.WriteString("\n")
	if inv.Description != "" && !lineDescribed(inv, inv.Description) {
		fmt.Fprintf(&b, "* %s\n", plain(inv.Description))
	}
	if inv.Lines != nil {
		for i, line := range inv.Lines.Data {
			if i == 5 {
				fmt.Fprintf(&b, "* … and %d more lines\n", len(inv.Lines.Data)-i)
				break
			}
			fmt.Fprintf(&b, "* %s: %s\n", plain(line.Description), money(line.Amount, currency))
		}
	}
	var links []string
	label := "View online"
	if inv.Status == stripe.InvoiceStatusOpen {
		label = "Pay online"
	}
	if l := link(label, inv.HostedInvoiceURL); l != "" {
		links = append(links, l)
	}
	if l := link("PDF", inv.InvoicePDF); l != "" {
		links = append(links, l)
	}
	if len(links) > 0 {
		fmt.Fprintf(&b, "\n%s\n", strings.Join(links, " · "))
	}
	return b.String()
}

func cmdUpcoming(r *readCtx) {
	if !r.noArgs() {
		return
	}
	inv, err := r.api.UpcomingInvoice(r.ctx, r.portal.CustomerID)
	if err != nil {
		r.fail(err, "upcoming invoice")
		return
	}
	if inv == nil || len(ownedOnly(r.portal.CustomerID, []*stripe.Invoice{inv}, invoiceOwner)) == 0 {
		r.reply("No upcoming invoice: nothing is set to renew.")
		return
	}
	currency := string(inv.Currency)
	var b strings.Builder
	fmt.Fprintf(&b, "Next invoice: **%s** on %s", money(inv.AmountDue, currency), day(upcomingDate(inv)))
	if inv.Total != inv.AmountDue {
		fmt.Fprintf(&b, " (%s, with your account balance applied)", money(inv.Total, currency))
	}
	b.WriteString(".\n")
	if inv.Lines != nil {
		for i, line := range inv.Lines.Data {
			if i == 5 {
				break
			}
			fmt.Fprintf(&b, "\n* %s: %s", plain(line.Description), money(line.Amount, currency))
		}
	}
	r.reply(b.String())
}

// upcomingDate is when the previewed invoice will be charged. A preview has
// no date of its own: the payment attempt, else the start of the period its
// lines bill for (the renewal), else the end of the current period.
func upcomingDate(inv *stripe.Invoice) int64 {
	if inv.NextPaymentAttempt > 0 {
		return inv.NextPaymentAttempt
	}
	if inv.Lines != nil {
		for _, line := range inv.Lines.Data {
			if line.Period != nil && line.Period.Start > 0 {
				return line.Period.Start
			}
		}
	}
	return inv.PeriodEnd
}

// lineDescribed reports whether a line already says what the invoice's
// description says (one-off invoices often repeat it).
func lineDescribed(inv *stripe.Invoice, text string) bool {
	if inv.Lines == nil {
		return false
	}
	for _, line := range inv.Lines.Data {
		if line.Description == text {
			return true
		}
	}
	return false
}
