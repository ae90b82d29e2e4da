package commands

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	mcmd "maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
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
			Help: "Approve a customer's refund request (reply to its message, or name it when several wait): starts the refund confirmation", Func: p.cmdApproveRefund},
		{Name: "deny", Role: config.RoleAgent, Write: true, Args: "[act_…] [reason]",
			Help: "Turn down a customer's refund request (reply to its message, or name it when several wait) and tell them", Func: p.cmdDenyRefund},
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
	// One paragraph, so the plain body is one line: Dendrite matches the
	// legacy mention rules against the whole body and never across a newline.
	b.WriteString(". ")
	if len(agents) > 0 {
		fmt.Fprintf(&b, "%s: ", mentionList(agents))
	}
	fmt.Fprintf(&b, "send %s to start the refund, or %s — or reply to this message with %s or %s. Nothing is refunded until an agent approves and confirms.",
		code(prefix+" approve "+actionID), code(prefix+" deny "+actionID+" [reason]"), code(prefix+" approve"), code(prefix+" deny"))
	noticeID := ce.Respond(b.String(), notifyOpts(agents))
	// The notice is the request's prompt: a reply to it names this request.
	if noticeID != "" {
		if err := p.deps.Actions.SetPromptEvent(ce.Ctx, actionID, noticeID); err != nil {
			ce.Log.Warn().Err(err).Str("action_id", actionID).Msg("Failed to record refund request notice")
		}
	}
}

// mentionList is one pill per user: a matrix.to link in the formatted body
// and the MXID as its text, so the plain body carries the MXID too and the
// legacy contains_user_name push rule matches as well as m.mentions does.
func mentionList(users []id.UserID) string {
	pills := make([]string, len(users))
	for i, user := range users {
		pills[i] = format.MarkdownMention(user)
	}
	return strings.Join(pills, ", ")
}

// notifyOpts replies mentioning users so that their clients notify them: as
// m.text, because the default push rule .m.rule.suppress_notices silences
// every m.notice, mentions included. With nobody to mention it stays a
// notice, like every other bot reply.
func notifyOpts(users []id.UserID) mcmd.ReplyOpts {
	return mcmd.ReplyOpts{AllowMarkdown: true, Reply: true, SendAsText: len(users) > 0, OverrideMentions: &event.Mentions{UserIDs: users}}
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

// maxListedRequests bounds the list a bare approve or deny shows.
const maxListedRequests = 10

// pendingRequest finds the one refund request an agent means: the act_ id
// they gave, else the request notice they reply to, else the room's only
// waiting request. With several waiting it never guesses: it lists them and
// asks for the id. On failure the agent has been told why; rest is what
// follows the id.
func (p *Processor) pendingRequest(ce *Event) (action *database.PendingAction, params refundRequestParams, rest []string, ok bool) {
	args := ce.Args
	var err error
	if len(args) > 0 && strings.HasPrefix(args[0], "act_") {
		action, err = p.deps.Actions.Get(ce.Ctx, args[0])
		args = args[1:]
	} else {
		var waiting []*database.PendingAction
		action, waiting, err = p.bareRequest(ce)
		if err == nil && action == nil && len(waiting) > 1 {
			p.askWhichRequest(ce, waiting)
			return nil, params, nil, false
		}
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
	// Fixed now and recorded with the event: a redelivery cannot retarget it.
	p.recordAction(ce, action.ID)
	if withdrawn, checked := p.withdrawIfRedacted(ce, action); !checked {
		return nil, params, nil, false
	} else if withdrawn || action.State == database.ActionWithdrawn {
		p.audit(ce, &database.AuditEntry{Command: ce.Command, TargetObject: params.ChargeID, Parameters: action.Parameters,
			IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditDenied, Error: "refund request was redacted"})
		ce.Reply("The customer withdrew that refund request (its message was deleted); nothing was done.")
		return nil, params, nil, false
	}
	return action, params, args, true
}

// bareRequest is the request a bare approve or deny means: the one whose
// notice the command replies to, else the only one waiting. When several
// wait it returns them (newest first, at most maxListedRequests+1) and no
// action.
func (p *Processor) bareRequest(ce *Event) (*database.PendingAction, []*database.PendingAction, error) {
	if replyTo := ce.Event.Content.AsMessage().RelatesTo.GetReplyTo(); replyTo != "" {
		action, err := p.deps.Actions.GetByPrompt(ce.Ctx, ce.RoomID, replyTo)
		if err != nil {
			return nil, nil, err
		}
		// A reply to anything but a request notice (a billing message, a
		// confirmation prompt) says nothing about which request.
		if action != nil && action.Command == refundRequestCommand {
			return action, nil, nil
		}
	}
	waiting, err := p.deps.Actions.ListPending(ce.Ctx, ce.RoomID, refundRequestQueue, p.deps.now(), maxListedRequests+1)
	if err != nil || len(waiting) != 1 {
		return nil, waiting, err
	}
	return waiting[0], nil, nil
}

// askWhichRequest lists the waiting requests so the agent can name one.
func (p *Processor) askWhichRequest(ce *Event, waiting []*database.PendingAction) {
	prefix := p.deps.Config.Bridge.CommandPrefix
	var b strings.Builder
	if len(waiting) > maxListedRequests {
		fmt.Fprintf(&b, "More than %d refund requests are waiting here; say which one you mean:\n\n", maxListedRequests)
	} else {
		fmt.Fprintf(&b, "%d refund requests are waiting here; say which one you mean:\n\n", len(waiting))
	}
	for i, action := range waiting {
		if i == maxListedRequests {
			b.WriteString("- …and older ones\n")
			break
		}
		var params refundRequestParams
		if err := json.Unmarshal(action.Parameters, &params); err != nil {
			fmt.Fprintf(&b, "- %s (unreadable; deny it and ask the customer to send it again)\n", code(action.ID))
			continue
		}
		fmt.Fprintf(&b, "- %s — %s, payment %s, asked on %s\n", code(action.ID), money(params.Amount, params.Currency), code(params.ChargeID), day(action.CreatedAt.Unix()))
	}
	fmt.Fprintf(&b, "\nSend %s or %s with the id you mean, or reply to that request's message.",
		code(prefix+" approve act_…"), code(prefix+" deny act_… [reason]"))
	ce.Reply("%s", b.String())
}

// refundRequestConfirmReply is what `confirm` answers for a refund request:
// requests are answered with approve or deny, and the requester stored on
// them is a queue, not someone to name.
func (p *Processor) refundRequestConfirmReply(ce *Event, action *database.PendingAction) string {
	if !p.deps.Role(ce.Ctx, ce.RoomID, ce.Sender).AtLeast(config.RoleAgent) {
		return "Your refund request is waiting for an agent, who will approve or decline it here; there is nothing for you to confirm."
	}
	prefix := p.deps.Config.Bridge.CommandPrefix
	return fmt.Sprintf("That is a customer's refund request, not a confirmation: send %s to start the refund, or %s to turn it down.",
		code(prefix+" approve "+action.ID), code(prefix+" deny "+action.ID+" [reason]"))
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
	// Checked before the request is resolved, so a refusal leaves it waiting
	// for an admin to raise the ceiling or an agent to deny it. The refund
	// the approval prepares is checked again on what is left to refund.
	if why := p.overCeiling("refund", params.Amount, params.Currency); why != "" {
		ceiling, _ := p.deps.Config.Bridge.WriteCeiling(params.Currency)
		p.audit(ce, &database.AuditEntry{Command: "approve", TargetObject: params.ChargeID, Parameters: action.Parameters,
			IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditDenied,
			Error: fmt.Sprintf("%s: %d > %d %s", errOverCeiling, params.Amount, ceiling, params.Currency)})
		ce.Reply("%s The request stays open.", why)
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
	var mentions []id.UserID
	addressee := "Your"
	if params.Customer != "" {
		mentions = []id.UserID{params.Customer}
		addressee = mentionList(mentions) + ", your"
	}
	msg := fmt.Sprintf("%s refund request for %s (payment %s) was declined.", addressee, money(params.Amount, params.Currency), code(params.ChargeID))
	if reason != "" {
		msg += " Reason: " + plain(reason)
	}
	msg += " Reply here if you have questions."
	ce.Respond(msg, notifyOpts(mentions))
}
