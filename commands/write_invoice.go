package commands

import (
	"encoding/json"
	"fmt"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// invoiceParams is what an invoice write's confirmation stores.
type invoiceParams struct {
	Invoice string `json:"invoice"`
}

// invoiceWrite is one invoice command: its check of the fetched invoice
// (a sentence refuses), its summary, and the Stripe write.
type invoiceWrite struct {
	name, args, help string
	check            func(inv *stripe.Invoice) string
	summary          func(inv *stripe.Invoice, portal *database.Portal) string
	write            func(ce *Event, api CustomerAPI, id, key string) (*stripe.Invoice, error)
	done             func(inv *stripe.Invoice) string
}

// invoiceWriteCommands are void, retry-invoice and send. The invoice retry
// is not called `retry`: that name is the management room's requeue of
// failed events.
func (p *Processor) invoiceWriteCommands() []*Command {
	writes := []invoiceWrite{{
		name: "void", args: "<in_…>", help: "Void an open invoice (asks for confirmation)",
		check: func(inv *stripe.Invoice) string {
			if inv.Status != stripe.InvoiceStatusOpen && inv.Status != stripe.InvoiceStatusUncollectible {
				return fmt.Sprintf("Invoice %s is %s; only open or uncollectible invoices can be voided.", code(inv.ID), inv.Status)
			}
			return ""
		},
		summary: func(inv *stripe.Invoice, portal *database.Portal) string {
			return fmt.Sprintf("**Void invoice %s** of %s (%s due). The customer will no longer owe it and it cannot be paid or reopened.",
				invoiceLabel(inv), code(portal.Name), stripeapi.FormatAmount(inv.AmountRemaining, string(inv.Currency)))
		},
		write: func(ce *Event, api CustomerAPI, id, key string) (*stripe.Invoice, error) {
			return api.VoidInvoice(ce.Ctx, id, key)
		},
		done: func(inv *stripe.Invoice) string {
			return fmt.Sprintf("Voided invoice %s.", code(inv.ID))
		},
	}, {
		name: "retry-invoice", args: "<in_…>", help: "Try to collect an open invoice now (asks for confirmation)",
		check: func(inv *stripe.Invoice) string {
			if inv.Status != stripe.InvoiceStatusOpen && inv.Status != stripe.InvoiceStatusUncollectible {
				return fmt.Sprintf("Invoice %s is %s; only open invoices can be paid.", code(inv.ID), inv.Status)
			}
			return ""
		},
		summary: func(inv *stripe.Invoice, portal *database.Portal) string {
			return fmt.Sprintf("**Charge %s now** for invoice %s of %s, to the customer's default payment method (attempt %d).",
				stripeapi.FormatAmount(inv.AmountRemaining, string(inv.Currency)), invoiceLabel(inv), code(portal.Name), inv.AttemptCount+1)
		},
		write: func(ce *Event, api CustomerAPI, id, key string) (*stripe.Invoice, error) {
			return api.PayInvoice(ce.Ctx, id, key)
		},
		done: func(inv *stripe.Invoice) string {
			return fmt.Sprintf("Invoice %s is %s (%s paid).", code(inv.ID), inv.Status, stripeapi.FormatAmount(inv.AmountPaid, string(inv.Currency)))
		},
	}, {
		name: "send", args: "<in_…>", help: "Email an open invoice to the customer (asks for confirmation)",
		check: func(inv *stripe.Invoice) string {
			switch {
			case inv.Status != stripe.InvoiceStatusOpen:
				return fmt.Sprintf("Invoice %s is %s; only open invoices can be sent.", code(inv.ID), inv.Status)
			case inv.CollectionMethod != stripe.InvoiceCollectionMethodSendInvoice:
				return fmt.Sprintf("Invoice %s is charged automatically, so Stripe does not email it; use `retry-invoice` or `pay`.", code(inv.ID))
			}
			return ""
		},
		summary: func(inv *stripe.Invoice, portal *database.Portal) string {
			return fmt.Sprintf("**Email invoice %s** (%s due) to %s at %s.", invoiceLabel(inv),
				stripeapi.FormatAmount(inv.AmountRemaining, string(inv.Currency)), code(portal.Name), code(inv.CustomerEmail))
		},
		write: func(ce *Event, api CustomerAPI, id, key string) (*stripe.Invoice, error) {
			return api.SendInvoice(ce.Ctx, id, key)
		},
		done: func(inv *stripe.Invoice) string {
			return fmt.Sprintf("Stripe is emailing invoice %s.", code(inv.ID))
		},
	}}
	cmds := make([]*Command, 0, len(writes))
	for _, w := range writes {
		p.executors[w.name] = w.execute
		cmds = append(cmds, &Command{Name: w.name, Role: config.RoleAgent, Write: true, Args: w.args, Help: w.help, Func: p.invoiceCommand(w)})
	}
	return cmds
}

func invoiceLabel(inv *stripe.Invoice) string {
	if inv.Number != "" {
		return code(inv.Number) + " (" + code(inv.ID) + ")"
	}
	return code(inv.ID)
}

func (p *Processor) invoiceCommand(w invoiceWrite) func(ce *Event) {
	usage := "Usage: `" + w.name + " " + w.args + "`."
	return func(ce *Event) {
		portal, api, ok := roomCustomer(ce)
		if !ok {
			return
		}
		target, args := targetArg(ce, "in_")
		if target == "" || len(args) > 0 {
			ce.Reply("%s", usage)
			return
		}
		obj, err := Owned(ce.Ctx, api, portal.CustomerID, target)
		if err != nil {
			auditTargetRefusal(ce, target, err)
			ce.Reply("%s", errorSentence(err))
			return
		}
		inv := obj.(*stripe.Invoice)
		if why := w.check(inv); why != "" {
			ce.Reply("%s", why)
			return
		}
		p.askConfirmation(ce, portal, w.name, inv.ID, invoiceParams{Invoice: inv.ID}, w.summary(inv, portal))
	}
}

func (w invoiceWrite) execute(ce *Event, _ *database.Portal, api CustomerAPI, action *database.PendingAction) (string, string, string, error) {
	var params invoiceParams
	if err := json.Unmarshal(action.Parameters, &params); err != nil {
		return "Could not read the confirmed action; nothing was changed.", "", "", err
	}
	inv, err := w.write(ce, api, params.Invoice, action.IdempotencyKey)
	requestID := ""
	if inv != nil {
		requestID = lastRequestID(inv.LastResponse)
	}
	if err != nil {
		return "Nothing was changed: " + stripeapi.Describe(err), params.Invoice, requestID, err
	}
	return w.done(inv), inv.ID, requestID, nil
}
