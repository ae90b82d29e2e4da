package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/format"
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
	actionID, key := actionKeys(ce.ID)
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
		ID: actionID, RoomID: ce.RoomID, Requester: requester, Command: command, Parameters: raw,
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
	action := p.storeAction(ce, command, ce.Sender, params, summary, confirmWindow)
	if action == nil {
		return
	}
	actionID := action.ID
	prefix := p.deps.Config.Bridge.CommandPrefix
	prompt := fmt.Sprintf("%s\n\nReact ✅ to this message or send %s within %d minutes to go ahead. Only %s can confirm.",
		summary, format.SafeMarkdownCode(prefix+" confirm"), int(confirmWindow.Minutes()), format.SafeMarkdownCode(ce.Sender))
	promptID := ce.Respond(prompt, commands.ReplyOpts{AllowMarkdown: true, Reply: true, Extra: map[string]any{
		commands.ReactionCommandsKey: map[string]any{"✅": prefix + " confirm " + actionID},
	}})
	if promptID != "" {
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

func (p *Processor) cmdConfirm(ce *Event) {
	now := p.deps.now()
	var action *database.PendingAction
	var err error
	if len(ce.Args) > 0 {
		action, err = p.deps.Actions.Get(ce.Ctx, ce.Args[0])
	} else {
		action, err = p.deps.Actions.LatestPending(ce.Ctx, ce.RoomID, ce.Sender, now)
	}
	if err != nil {
		ce.Log.Err(err).Msg("Failed to look up pending action")
		ce.Reply("Could not read pending confirmations; please try again.")
		return
	}
	if action == nil || action.RoomID != ce.RoomID {
		ce.Reply("There is nothing waiting for your confirmation here.")
		return
	}
	if action.Requester != ce.Sender {
		p.audit(ce, &database.AuditEntry{Command: action.Command, Parameters: action.Parameters,
			IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditDenied, Error: "confirmation by someone other than the requester"})
		ce.Reply("Only %s can confirm this.", format.SafeMarkdownCode(action.Requester))
		return
	}
	ok, err := p.deps.Actions.Resolve(ce.Ctx, action.ID, database.ActionConfirmed, now)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to resolve pending action")
		ce.Reply("Could not confirm; please try again.")
		return
	}
	if !ok {
		switch {
		case action.State == database.ActionConfirmed:
			// A second confirmation, or the same one delivered twice.
			ce.Reply("That was already confirmed; nothing more was done.")
		case !now.Before(action.ExpiresAt) || action.State == database.ActionExpired:
			ce.Reply("That confirmation expired. Run the command again if you still want it.")
		default:
			ce.Reply("That was already confirmed or cancelled; nothing more was done.")
		}
		return
	}
	p.execute(ce, action)
}

// execute runs a confirmed action with its stored idempotency key.
func (p *Processor) execute(ce *Event, action *database.PendingAction) {
	log := ce.Log.With().Str("action_id", action.ID).Str("command", action.Command).Logger()
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
	ce.Reply("%s", reply)
}
