package commands

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	mcmd "maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

const (
	// refundRequestCommand names a customer's refund request in pending_action.
	refundRequestCommand = "refund-request"
	// refundRequestQueue is the requester stored on refund requests. It is
	// not a valid MXID, so no user (the customer included) can `confirm` a
	// request: only `approve` and `deny` resolve it.
	refundRequestQueue id.UserID = "refund-request-queue"
	// refundRequestWindow is how long a request waits for an agent.
	refundRequestWindow = 7 * 24 * time.Hour
	// maxRequestReason keeps a customer's free text to a readable size.
	maxRequestReason = 500
)

const requestRefundUsage = "Usage: `request-refund <ch_…|in_…> [reason]` — an agent will look at it; nothing is refunded until they approve."

// refundRequestParams is what a stored refund request carries.
type refundRequestParams struct {
	Target   string    `json:"target"`
	ChargeID string    `json:"charge_id"`
	Amount   int64     `json:"amount"`
	Currency string    `json:"currency"`
	Reason   string    `json:"reason,omitempty"`
	Customer id.UserID `json:"customer"`
}

func (p *Processor) refundRequestCommands() []*Command {
	return []*Command{
		{Name: "request-refund", Role: config.RoleCustomer, Write: true, Args: "<charge|invoice> [reason]",
			Help: "Ask the support team for a refund", Func: p.cmdRequestRefund},
		{Name: "approve", Role: config.RoleAgent, Write: true, Args: "[act_…]",
			Help: "Approve a customer's refund request: starts the refund confirmation", Func: p.cmdApproveRefund},
		{Name: "deny", Role: config.RoleAgent, Write: true, Args: "[act_…] [reason]",
			Help: "Turn down a customer's refund request and tell them", Func: p.cmdDenyRefund},
	}
}

func (p *Processor) cmdRequestRefund(ce *Event) {
	if !p.selfServiceAllowed(ce, p.deps.Config.Bridge.SelfService.RequestRefund, "request-refund", "request refunds", true) {
		return
	}
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	ch, args, ok := chargeToRefund(ce, api, portal.CustomerID, requestRefundUsage, "ch_", "in_")
	if !ok {
		return
	}
	left := ch.Amount - ch.AmountRefunded
	reason := strings.Join(args, " ")
	if len([]rune(reason)) > maxRequestReason {
		reason = string([]rune(reason)[:maxRequestReason]) + "…"
	}
	params := refundRequestParams{Target: ch.ID, ChargeID: ch.ID, Amount: left, Currency: string(ch.Currency), Reason: reason, Customer: ce.Sender}
	summary := fmt.Sprintf("Refund request for %s of payment %s", money(left, params.Currency), ch.ID)
	action := p.storeAction(ce, refundRequestCommand, refundRequestQueue, params, summary, refundRequestWindow)
	if action == nil {
		return
	}
	actionID, raw, key := action.ID, action.Parameters, action.IdempotencyKey
	p.audit(ce, &database.AuditEntry{AccountID: portal.AccountID, CustomerID: portal.CustomerID, Command: "request-refund",
		TargetObject: ch.ID, Parameters: raw, IdempotencyKey: key, Outcome: database.AuditConfirmRequested})

	agents := p.agentsToNotify(portal)
	prefix := p.deps.Config.Bridge.CommandPrefix
	var b strings.Builder
	fmt.Fprintf(&b, "**Refund request** %s: %s asks for a refund of %s (payment %s)", code(actionID), code(string(ce.Sender)), money(left, params.Currency), code(ch.ID))
	if reason != "" {
		fmt.Fprintf(&b, ", saying: %s", plain(reason))
	}
	b.WriteString(".\n\n")
	if len(agents) > 0 {
		names := make([]string, len(agents))
		for i, a := range agents {
			names[i] = code(string(a))
		}
		fmt.Fprintf(&b, "%s: ", strings.Join(names, ", "))
	}
	fmt.Fprintf(&b, "send %s to start the refund, or %s. Nothing is refunded until an agent approves and confirms.",
		code(prefix+" approve "+actionID), code(prefix+" deny "+actionID+" [reason]"))
	ce.Respond(b.String(), mcmd.ReplyOpts{AllowMarkdown: true, Reply: true, OverrideMentions: &event.Mentions{UserIDs: agents}})
}

// agentsToNotify are the account's configured agents and the room's assigned
// agent, each once.
func (p *Processor) agentsToNotify(portal *database.Portal) []id.UserID {
	var out []id.UserID
	seen := map[id.UserID]bool{}
	for _, u := range append([]id.UserID{portal.AssignedAgent}, p.deps.Config.Bridge.InviteAgents[portal.AccountID]...) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// pendingRequest finds the refund request an agent means: the act_ id they
// gave, or the newest pending one in the room. On failure the agent has been
// told why; rest is what follows the id.
func (p *Processor) pendingRequest(ce *Event) (action *database.PendingAction, params refundRequestParams, rest []string, ok bool) {
	args := ce.Args
	var err error
	if len(args) > 0 && strings.HasPrefix(args[0], "act_") {
		action, err = p.deps.Actions.Get(ce.Ctx, args[0])
		args = args[1:]
	} else {
		action, err = p.deps.Actions.LatestPending(ce.Ctx, ce.RoomID, refundRequestQueue, p.deps.now())
	}
	if err != nil {
		ce.Log.Err(err).Msg("Failed to look up refund request")
		ce.Reply("Could not read refund requests; please try again.")
		return nil, params, nil, false
	}
	if action == nil || action.RoomID != ce.RoomID || action.Command != refundRequestCommand {
		ce.Reply("There is no refund request waiting here.")
		return nil, params, nil, false
	}
	if err = json.Unmarshal(action.Parameters, &params); err != nil {
		ce.Log.Err(err).Str("action_id", action.ID).Msg("Unreadable refund request")
		ce.Reply("That refund request can't be read; ask the customer to send it again.")
		return nil, params, nil, false
	}
	return action, params, args, true
}

// resolveRequest marks a request handled, exactly once across agents and
// redeliveries; false means someone already did (the agent has been told).
func (p *Processor) resolveRequest(ce *Event, action *database.PendingAction, state database.PendingActionState) bool {
	now := p.deps.now()
	ok, err := p.deps.Actions.Resolve(ce.Ctx, action.ID, state, now)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to resolve refund request")
		ce.Reply("Could not update the refund request; please try again.")
		return false
	}
	if !ok {
		if action.State == database.ActionPending && !now.Before(action.ExpiresAt) {
			ce.Reply("That refund request expired; ask the customer to send it again if it still stands.")
		} else {
			ce.Reply("That refund request was already approved or denied.")
		}
	}
	return ok
}

func (p *Processor) cmdApproveRefund(ce *Event) {
	action, params, rest, ok := p.pendingRequest(ce)
	if !ok {
		return
	}
	if len(rest) > 0 {
		ce.Reply("Usage: `approve [act_…]` — then confirm the refund it prepares.")
		return
	}
	if !p.resolveRequest(ce, action, database.ActionConfirmed) {
		return
	}
	p.audit(ce, &database.AuditEntry{Command: "approve", TargetObject: params.ChargeID, Parameters: action.Parameters,
		IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditOK})
	// Approval is the agent's own refund command on what the customer asked
	// for: ownership, amounts and the confirmation step are the refund's, and
	// the refund's idempotency key comes from this approve event.
	ce.Args = []string{params.ChargeID, "requested_by_customer"}
	p.cmdRefund(ce)
}

func (p *Processor) cmdDenyRefund(ce *Event) {
	action, params, rest, ok := p.pendingRequest(ce)
	if !ok {
		return
	}
	if !p.resolveRequest(ce, action, database.ActionCancelled) {
		return
	}
	reason := strings.Join(rest, " ")
	p.audit(ce, &database.AuditEntry{Command: "deny", TargetObject: params.ChargeID, Parameters: action.Parameters,
		IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditCancelled, Error: reason})
	msg := fmt.Sprintf("%s, your refund request for %s (payment %s) was declined.", code(string(params.Customer)), money(params.Amount, params.Currency), code(params.ChargeID))
	if reason != "" {
		msg += " Reason: " + plain(reason)
	}
	msg += " Reply here if you have questions."
	var mentions []id.UserID
	if params.Customer != "" {
		mentions = []id.UserID{params.Customer}
	}
	ce.Respond(msg, mcmd.ReplyOpts{AllowMarkdown: true, Reply: true, OverrideMentions: &event.Mentions{UserIDs: mentions}})
}
