package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	raw, _ := json.Marshal(params)
	if !p.withinCeiling(ce, "credit", params.Amount, params.Currency, &database.AuditEntry{
		AccountID: portal.AccountID, CustomerID: portal.CustomerID, Command: "credit", TargetObject: portal.CustomerID, Parameters: raw,
	}) {
		return
	}
	summary := fmt.Sprintf("**Credit %s** to %s's balance: it goes from %s to %s and pays towards their next invoices automatically. No money is moved to their card.",
		stripeapi.FormatAmount(amount, currency), code(portal.Name),
		balanceWords(cus.Balance, currency), balanceWords(cus.Balance-amount, currency))
	if params.Note != "" {
		summary += " Note: " + code(params.Note) + "."
	}
	p.askConfirmation(ce, portal, "credit", portal.CustomerID, params, summary)
}

func (p *Processor) runCredit(ce *Event, portal *database.Portal, api CustomerAPI, action *database.PendingAction) (string, string, string, error) {
	var params creditParams
	if err := json.Unmarshal(action.Parameters, &params); err != nil {
		return "Could not read the confirmed credit; nothing was changed.", "", "", err
	}
	if why := p.overCeiling("credit", params.Amount, params.Currency); why != "" {
		return why + " No credit was added.", portal.CustomerID, "", errOverCeiling
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
		code(txn.ID), balanceWords(txn.EndingBalance, params.Currency)), txn.ID, requestID, nil
}

// errOverCeiling is what an executor returns for a write above
// bridge.max_write_amount, for the audit log.
var errOverCeiling = errors.New("amount over bridge.max_write_amount")

// overCeiling is the refusal for a refund or credit above
// bridge.max_write_amount in its currency, or "" when the amount is within
// it (or the currency has no ceiling).
func (p *Processor) overCeiling(what string, amount int64, currency string) string {
	ceiling, limited := p.deps.Config.Bridge.WriteCeiling(currency)
	if !limited || amount <= ceiling {
		return ""
	}
	return fmt.Sprintf("That %s of %s is over the %s limit for one write (bridge.max_write_amount); an admin can raise it.",
		what, money(amount, currency), money(ceiling, currency))
}

// withinCeiling checks a refund or credit against bridge.max_write_amount
// before anything is stored or asked: above it the agent gets one line and
// entry (command, target, parameters) is audited as denied, so an admin sees
// who tried what.
func (p *Processor) withinCeiling(ce *Event, what string, amount int64, currency string, entry *database.AuditEntry) bool {
	why := p.overCeiling(what, amount, currency)
	if why == "" {
		return true
	}
	ceiling, _ := p.deps.Config.Bridge.WriteCeiling(currency)
	entry.Outcome = database.AuditDenied
	entry.Error = fmt.Sprintf("%s: %d > %d %s", errOverCeiling, amount, ceiling, currency)
	p.audit(ce, entry)
	ce.Reply("%s", why)
	return false
}
