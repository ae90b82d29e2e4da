package commands

import (
	"encoding/json"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/format"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

const creditUsage = "Usage: `credit <amount> [note]`, e.g. `credit 12.50 sorry for the outage`."

// creditParams is what a credit's confirmation stores; Amount is the
// positive credit in minor units (Stripe records it negated).
type creditParams struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Note     string `json:"note,omitempty"`
}

func (p *Processor) balanceWriteCommands() []*Command {
	p.executors["credit"] = p.runCredit
	return []*Command{{
		Name: "credit", Role: config.RoleAgent, Write: true, Args: "<amount> [note]",
		Help: "Add credit to the customer's balance, used on their next invoices (asks for confirmation)",
		Func: p.cmdCredit,
	}}
}

// balanceWords says a Stripe balance in plain words: Stripe's negative
// balance is credit, a positive one is owed.
func balanceWords(balance int64, currency string) string {
	switch {
	case balance < 0:
		return stripeapi.FormatAmount(-balance, currency) + " in credit"
	case balance > 0:
		return stripeapi.FormatAmount(balance, currency) + " owed"
	}
	return "zero"
}

func (p *Processor) cmdCredit(ce *Event) {
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	if len(ce.Args) == 0 {
		ce.Reply("%s", creditUsage)
		return
	}
	cus, err := api.Customer(ce.Ctx, portal.CustomerID)
	if err != nil {
		ce.Reply("%s", errorSentence(err))
		return
	}
	currency := string(cus.Currency)
	if currency == "" {
		ce.Reply("This customer has no billing currency yet, so a credit cannot be recorded; credit them after their first invoice.")
		return
	}
	amount, err := stripeapi.ParseAmount(ce.Args[0], currency)
	if err != nil {
		ce.Reply("%s %s", err.Error(), creditUsage)
		return
	}
	params := creditParams{Amount: amount, Currency: currency, Note: strings.Join(ce.Args[1:], " ")}
	summary := fmt.Sprintf("**Credit %s** to %s's balance: it goes from %s to %s and pays towards their next invoices automatically. No money is moved to their card.",
		stripeapi.FormatAmount(amount, currency), format.SafeMarkdownCode(portal.Name),
		balanceWords(cus.Balance, currency), balanceWords(cus.Balance-amount, currency))
	if params.Note != "" {
		summary += " Note: " + format.SafeMarkdownCode(params.Note) + "."
	}
	p.askConfirmation(ce, portal, "credit", portal.CustomerID, params, summary)
}

func (p *Processor) runCredit(ce *Event, portal *database.Portal, api CustomerAPI, action *database.PendingAction) (string, string, string, error) {
	var params creditParams
	if err := json.Unmarshal(action.Parameters, &params); err != nil {
		return "Could not read the confirmed credit; nothing was changed.", "", "", err
	}
	txn, err := api.AdjustBalance(ce.Ctx, stripeapi.BalanceAdjustment{
		CustomerID: portal.CustomerID, Amount: -params.Amount, Currency: params.Currency, Description: params.Note,
		Metadata: map[string]string{"matrix_user_id": string(ce.Sender), "matrix_room_id": string(ce.RoomID)},
	}, action.IdempotencyKey)
	requestID := ""
	if txn != nil {
		requestID = lastRequestID(txn.LastResponse)
	}
	if err != nil {
		return "No credit was added: " + stripeapi.Describe(err), portal.CustomerID, requestID, err
	}
	return fmt.Sprintf("Credited %s (%s); the balance is now %s.", stripeapi.FormatAmount(params.Amount, params.Currency),
		format.SafeMarkdownCode(txn.ID), balanceWords(txn.EndingBalance, params.Currency)), txn.ID, requestID, nil
}
