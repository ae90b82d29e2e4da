package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// confirmWindow is how long a write waits for its confirmation.
const confirmWindow = 5 * time.Minute

// executor runs a confirmed write and says what it did. target and
// requestID go to the audit log.
type executor func(ce *Event, portal *database.Portal, api CustomerAPI, action *database.PendingAction) (reply, target, requestID string, err error)

// actionKeys derives the action id and the Stripe idempotency key from the
// Matrix event of the command: the same event delivered twice yields the
// same action and, at worst, the same Stripe request.
func actionKeys(commandEvent id.EventID) (actionID, idempotencyKey string) {
	sum := sha256.Sum256([]byte("matrix-stripe\x00" + string(commandEvent)))
	digest := hex.EncodeToString(sum[:])
	return "act_" + digest[:12], "mxstripe_" + digest[:40]
}

// storeAction records a command waiting for someone's decision, once per
// command event: a redelivered event finds its action and stores nothing.
// It returns nil when there is nothing more to do (redelivery, or a failure
// it has already told the user about).
func (p *Processor) storeAction(ce *Event, command string, requester id.UserID, params any, summary string, window time.Duration) *database.PendingAction {
	return p.storeKeyedAction(ce, command, requester, params, summary, window, "")
}

// storeKeyedAction is storeAction with the Stripe idempotency key chosen by
// the command ("" derives it from the command event, as storeAction does).
func (p *Processor) storeKeyedAction(ce *Event, command string, requester id.UserID, params any, summary string, window time.Duration, key string) *database.PendingAction {
	actionID, eventKey := actionKeys(ce.ID)
	if key == "" {
		key = eventKey
	}
	existing, err := p.deps.Actions.Get(ce.Ctx, actionID)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to look up pending action")
		ce.Reply("Could not prepare that; please try again.")
		return nil
	} else if existing != nil {
		ce.Log.Debug().Str("action_id", actionID).Msg("Command event redelivered; action already stored")
		return nil
	}
	raw, err := json.Marshal(params)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to encode action parameters")
		ce.Reply("Could not prepare that; please try again.")
		return nil
	}
	now := p.deps.now()
	action := &database.PendingAction{
		ID: actionID, RoomID: ce.RoomID, Requester: requester, Command: command, Parameters: raw, CommandEventID: ce.ID,
		Summary: summary, IdempotencyKey: key, CreatedAt: now, ExpiresAt: now.Add(window),
	}
	if err = p.deps.Actions.Insert(ce.Ctx, action); err != nil {
		ce.Log.Err(err).Msg("Failed to store pending action")
		ce.Reply("Could not prepare that; please try again.")
		return nil
	}
	return action
}

// askConfirmation stores the write and shows exactly what will happen. The
// requester confirms with ✅ on the prompt or with `confirm`.
func (p *Processor) askConfirmation(ce *Event, portal *database.Portal, command, target string, params any, summary string) {
	p.askKeyedConfirmation(ce, portal, command, target, params, summary, "")
}

// askKeyedConfirmation is askConfirmation with the write's idempotency key
// chosen by the command (see storeKeyedAction).
func (p *Processor) askKeyedConfirmation(ce *Event, portal *database.Portal, command, target string, params any, summary, key string) {
	action := p.storeKeyedAction(ce, command, ce.Sender, params, summary, confirmWindow, key)
	if action == nil {
		return
	}
	actionID := action.ID
	prefix := p.deps.Config.Bridge.CommandPrefix
	prompt := fmt.Sprintf("%s\n\nReact ✅ to this message or send %s within %s to go ahead. Only %s can confirm.",
		summary, code(prefix+" confirm"), durationWords(confirmWindow), code(ce.Sender))
	promptID := ce.Respond(prompt, commands.ReplyOpts{AllowMarkdown: true, Reply: true, Extra: map[string]any{
		commands.ReactionCommandsKey: map[string]any{"✅": prefix + " confirm " + actionID},
	}})
	// A prompt held for the panel names no event in the room.
	if promptID != "" && !isPanelEvent(promptID) {
		if err := p.deps.Actions.SetPromptEvent(ce.Ctx, actionID, promptID); err != nil {
			ce.Log.Warn().Err(err).Msg("Failed to record confirmation prompt")
		}
	}
	p.audit(ce, &database.AuditEntry{
		AccountID: portal.AccountID, CustomerID: portal.CustomerID, Command: command, TargetObject: target,
		Parameters: action.Parameters, IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditConfirmRequested,
	})
}

func (p *Processor) confirmCommands() []*Command {
	return []*Command{{
		Name: "confirm", Role: config.RoleCustomer, Args: "[act_…]",
		Help: "Go ahead with the write you asked for (only the requester can)",
		Func: p.cmdConfirm,
	}}
}

// maxListedActions bounds the list a bare "confirm" shows when it is ambiguous.
const maxListedActions = 5

func (p *Processor) cmdConfirm(ce *Event) {
	now := p.deps.now()
	action, ok := p.confirmTarget(ce, now)
	if !ok {
		return
	}
	// The action this event confirms is fixed now and recorded with the
	// event, so nothing delivered later can make it mean another one.
	p.recordAction(ce, action.ID)
	refuse := func(reply, why string, outcome database.AuditOutcome) {
		p.audit(ce, &database.AuditEntry{Command: action.Command, Parameters: action.Parameters,
			IdempotencyKey: action.IdempotencyKey, Outcome: outcome, Error: why})
		ce.Reply("%s", reply)
	}
	if action.Requester != ce.Sender {
		reply := fmt.Sprintf("Only %s can confirm this.", code(string(action.Requester)))
		if action.Command == refundRequestCommand {
			reply = p.refundRequestConfirmReply(ce, action)
		}
		refuse(reply, "confirmation by someone other than the requester", database.AuditDenied)
		return
	}
	if withdrawn, checked := p.withdrawIfRedacted(ce, action); !checked {
		return
	} else if withdrawn {
		action.State = database.ActionWithdrawn
	}
	resolved, err := p.deps.Actions.Resolve(ce.Ctx, action.ID, database.ActionConfirmed, now)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to resolve pending action")
		ce.Reply("Could not confirm; please try again.")
		return
	}
	if !resolved {
		// Re-read: the state may have changed since confirmTarget looked.
		if fresh, err := p.deps.Actions.Get(ce.Ctx, action.ID); err == nil && fresh != nil {
			action = fresh
		}
		switch {
		case action.State == database.ActionConfirmed:
			refuse("That was already confirmed; nothing more was done.", "already confirmed", database.AuditDenied)
		case action.State == database.ActionWithdrawn:
			refuse("That request was withdrawn (its message was deleted), so nothing was done.", "confirmation of a redacted command", database.AuditDenied)
		case action.State == database.ActionExpired || !now.Before(action.ExpiresAt):
			refuse("That confirmation expired. Run the command again if you still want it.", "confirmation after expiry", database.AuditExpired)
		default:
			refuse("That was already cancelled; nothing was done.", "confirmation of a cancelled action", database.AuditDenied)
		}
		return
	}
	p.execute(ce, action)
}

// confirmTarget is the one action a confirm means: the act_ id it names,
// else the prompt it replies to, else the sender's only waiting action here.
// With several waiting it never guesses; it lists them and asks. On false
// the user has been told why.
func (p *Processor) confirmTarget(ce *Event, now time.Time) (*database.PendingAction, bool) {
	var action *database.PendingAction
	var err error
	replyTo := ce.Event.Content.AsMessage().RelatesTo.GetReplyTo()
	switch {
	case len(ce.Args) > 0:
		action, err = p.deps.Actions.Get(ce.Ctx, ce.Args[0])
	case replyTo != "":
		action, err = p.deps.Actions.GetByPrompt(ce.Ctx, ce.RoomID, replyTo)
	default:
		var waiting []*database.PendingAction
		waiting, err = p.deps.Actions.ListPending(ce.Ctx, ce.RoomID, ce.Sender, now, maxListedActions+1)
		if err == nil && len(waiting) > 1 {
			p.askWhichAction(ce, waiting)
			return nil, false
		} else if len(waiting) == 1 {
			action = waiting[0]
		}
	}
	if err != nil {
		ce.Log.Err(err).Msg("Failed to look up pending action")
		ce.Reply("Could not read pending confirmations; please try again.")
		return nil, false
	}
	if action == nil || action.RoomID != ce.RoomID {
		ce.Reply("There is nothing waiting for your confirmation here.")
		return nil, false
	}
	return action, true
}

func (p *Processor) askWhichAction(ce *Event, waiting []*database.PendingAction) {
	prefix := p.deps.Config.Bridge.CommandPrefix
	var b strings.Builder
	fmt.Fprintf(&b, "You have %d writes waiting here. Say which one to go ahead with:\n\n", len(waiting))
	for i, action := range waiting {
		if i == maxListedActions {
			b.WriteString("- …and more; older ones expire on their own.\n")
			break
		}
		fmt.Fprintf(&b, "- %s — %s\n", code(prefix+" confirm "+action.ID), oneLine(action.Summary))
	}
	b.WriteString("\nOr react ✅ to the prompt you mean.")
	ce.Reply("%s", b.String())
}

// oneLine is the first line of a stored summary, for lists.
func oneLine(summary string) string {
	first, _, _ := strings.Cut(summary, "\n")
	return first
}

// recordAction ties the confirming event to its action in processed_event.
func (p *Processor) recordAction(ce *Event, actionID string) {
	if p.deps.Processed == nil {
		return
	}
	if err := p.deps.Processed.SetAction(ce.Ctx, ce.ID, actionID); err != nil {
		ce.Log.Warn().Err(err).Str("action_id", actionID).Msg("Failed to record which action an event resolved")
	}
}

// withdrawIfRedacted withdraws a pending action whose command or prompt has
// been redacted. Homeservers need not push redactions to appservices
// (Dendrite does not), so this asks the homeserver when the action is
// used; Withdraw handles the redactions that do arrive. checked is false
// when the homeserver could not say: the user has been told to retry, and
// the action must not run.
func (p *Processor) withdrawIfRedacted(ce *Event, action *database.PendingAction) (withdrawn, checked bool) {
	if p.deps.EventRedacted == nil || action.State != database.ActionPending {
		return false, true
	}
	for _, evtID := range []id.EventID{action.CommandEventID, action.PromptEventID} {
		// A panel click is no event in the room: nobody can redact it.
		if evtID == "" || isPanelEvent(evtID) {
			continue
		}
		redacted, err := p.deps.EventRedacted(ce.Ctx, action.RoomID, evtID)
		if err != nil {
			ce.Log.Err(err).Str("action_id", action.ID).Msg("Failed to check whether a command was redacted")
			ce.Reply("Could not check that request just now; please try again.")
			return false, false
		}
		if redacted {
			if _, err = p.deps.Actions.Resolve(ce.Ctx, action.ID, database.ActionWithdrawn, p.deps.now()); err != nil {
				ce.Log.Err(err).Str("action_id", action.ID).Msg("Failed to withdraw action")
			}
			return true, true
		}
	}
	return false, true
}

// Withdraw cancels the action whose command or prompt was redacted, so it
// can no longer be confirmed. It reports whether there was one.
func (p *Processor) Withdraw(ctx context.Context, roomID id.RoomID, redacted id.EventID, by id.UserID) bool {
	log := zerolog.Ctx(ctx)
	actionID, _ := actionKeys(redacted)
	action, err := p.deps.Actions.Get(ctx, actionID)
	if err == nil && (action == nil || action.RoomID != roomID) {
		action, err = p.deps.Actions.GetByPrompt(ctx, roomID, redacted)
	}
	if err != nil {
		log.Err(err).Msg("Failed to look up the action of a redacted event")
		return false
	}
	if action == nil || action.RoomID != roomID {
		return false
	}
	withdrawn, err := p.deps.Actions.Resolve(ctx, action.ID, database.ActionWithdrawn, p.deps.now())
	if err != nil {
		log.Err(err).Str("action_id", action.ID).Msg("Failed to withdraw action")
		return false
	}
	if withdrawn {
		log.Info().Str("action_id", action.ID).Str("command", action.Command).Msg("Action withdrawn: its message was redacted")
		// The redaction is the event here; audit needs only its sender and room.
		redaction := &Event{Event: &event.Event{Sender: by, RoomID: roomID}, Ctx: ctx, Log: log}
		p.audit(redaction, &database.AuditEntry{Command: action.Command, Parameters: action.Parameters,
			IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditCancelled, Error: "withdrawn: its message was redacted"})
	}
	return withdrawn
}

// execute runs a confirmed action with its stored idempotency key.
func (p *Processor) execute(ce *Event, action *database.PendingAction) {
	log := ce.Log.With().Str("action_id", action.ID).Str("confirmed_command", action.Command).Logger()
	entry := &database.AuditEntry{Command: action.Command, Parameters: action.Parameters, IdempotencyKey: action.IdempotencyKey}
	run := p.executors[action.Command]
	if run == nil {
		log.Error().Msg("No executor for confirmed action")
		entry.Outcome, entry.Error = database.AuditError, "no executor"
		p.audit(ce, entry)
		ce.Reply("Could not run that; nothing was changed.")
		return
	}
	portal, api, ok := roomCustomer(ce)
	if !ok {
		entry.Outcome, entry.Error = database.AuditError, "room has no customer"
		p.audit(ce, entry)
		return
	}
	reply, target, requestID, err := run(ce, portal, api, action)
	if call, ok := ce.Ctx.Value(panelCallKey{}).(*panelCall); ok && call != nil {
		call.ran, call.failed = true, err != nil
	}
	entry.TargetObject, entry.StripeRequestID = target, requestID
	if err != nil {
		log.Warn().Err(err).Msg("Confirmed action failed")
		entry.Outcome, entry.Error = database.AuditError, err.Error()
		p.audit(ce, entry)
		ce.Reply("%s", reply)
		return
	}
	log.Info().Str("target", target).Str("stripe_request_id", requestID).Msg("Confirmed action done")
	entry.Outcome = database.AuditOK
	p.audit(ce, entry)
	p.recordWrite(ce, portal, action)
	ce.Reply("%s", reply)
}
