package commands

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	mcmd "maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/ratelimit"
)

// Words the audit log uses beyond the database's outcomes.
const (
	// roleNone is written for senders without a role: audit_log.role is
	// NOT NULL, and an empty role would read as "unknown" to an admin.
	roleNone = "none"
	// ignoredNoRole is why a role-less sender's write attempt did nothing.
	ignoredNoRole = "no role in this room"
	// confirmReaction is the reaction that confirms a prompt (see
	// askConfirmation); U+FE0F variants are the same attempt.
	confirmReaction = "✅"
)

// audit writes one audit_log row. Failing to audit is logged loudly but does
// not undo what Stripe already did.
func (p *Processor) audit(ce *Event, entry *database.AuditEntry) {
	p.deps.audit(ce, entry)
}

// audit is the one place rows are written. It lives on Deps so that helpers
// without the Processor (chargeToRefund, ownedSubscription) audit through
// ce.Meta, which is the same Deps.
func (d *Deps) audit(ce *Event, entry *database.AuditEntry) {
	noteOutcome(ce.Ctx, entry.Outcome)
	if d == nil || d.Audit == nil {
		return
	}
	entry.Timestamp = d.now()
	entry.Actor = ce.Sender
	entry.RoomID = ce.RoomID
	if entry.Role == "" {
		entry.Role = string(d.Role(ce.Ctx, ce.RoomID, ce.Sender))
	}
	if entry.Role == "" {
		entry.Role = roleNone
	}
	if entry.AccountID == "" && d.Portal != nil {
		if portal, err := d.Portal(ce.Ctx, ce.RoomID); err == nil && portal != nil {
			entry.AccountID, entry.CustomerID = portal.AccountID, portal.CustomerID
		}
	}
	if err := d.Audit.Insert(ce.Ctx, entry); err != nil {
		ce.Log.Error().Err(err).Msg("Failed to write audit log")
	}
}

// auditDenied records a write refused before anything was asked of Stripe:
// the command, the object it named (if any) and why.
func (d *Deps) auditDenied(ce *Event, command, target, why string) {
	params, _ := json.Marshal(ce.Args)
	d.audit(ce, &database.AuditEntry{
		Command: command, TargetObject: target, Parameters: params,
		Outcome: database.AuditDenied, Error: why,
	})
}

func (p *Processor) auditRefusal(ce *Event, cmd *Command, why string) {
	p.deps.auditDenied(ce, cmd.Name, "", why)
}

// auditTargetRefusal records a command refused for the object it named:
// missing, another customer's, or not an id at all. The room has been (or
// will be) told the same "No such …" in every case; the audit row tells an
// admin which it was, and whose object it is, so `audit cus_…` of that
// other customer finds the attempt. Errors that are not ownership refusals
// (a Stripe outage) are left to the caller's log.
func auditTargetRefusal(ce *Event, target string, err error) {
	reason, owner, ok := auditedRefusal(err)
	if !ok {
		return
	}
	params, _ := json.Marshal(ce.Args)
	ce.Meta.audit(ce, &database.AuditEntry{
		Command: commandName(ce), TargetObject: target, Parameters: params,
		Outcome: database.AuditDenied, Error: reason, TargetCustomerID: owner,
	})
}

// commandName is the registered name of the command ce runs, whatever alias
// was typed.
func commandName(ce *Event) string {
	if ce.Handler != nil && ce.Handler.Name != mcmd.UnknownCommandName {
		return ce.Handler.Name
	}
	return ce.Command
}

// lookup finds a registered command by name or alias.
func (p *Processor) lookup(name string) *Command {
	for _, cmd := range p.commands {
		if cmd.Name == name {
			return cmd
		}
		for _, alias := range cmd.Aliases {
			if alias == name {
				return cmd
			}
		}
	}
	return nil
}

// AuditIgnored records a write attempt, in a customer room, by a sender the
// bridge ignores because they have no role there. The room gets no reply (a
// stranger learns nothing, not even that the bot listens), but an admin can
// find the attempt with `audit`. Only writes count: a prefixed Write command,
// `confirm`, or a ✅ reaction. Nothing is fetched from Stripe or the
// homeserver on a stranger's behalf, so the row names the id as typed and no
// owner. The per-sender rate limit bounds how many rows a flood can write.
func (p *Processor) AuditIgnored(ctx context.Context, evt *event.Event) {
	if p.deps.Audit == nil || p.deps.Portal == nil {
		return
	}
	log := zerolog.Ctx(ctx)
	command, args := p.ignoredWrite(ctx, evt)
	if command == nil {
		return
	}
	portal, err := p.deps.Portal(ctx, evt.RoomID)
	if err != nil {
		log.Err(err).Msg("Failed to look up the room's customer for the audit log")
		return
	}
	if portal == nil || portal.CustomerID == "" {
		return // not a customer room
	}
	if p.limiter.Take(string(evt.Sender), p.deps.now()) != ratelimit.Allowed {
		log.Debug().Str("command", command.Name).Msg("Not auditing ignored write attempt: sender over the rate limit")
		return
	}
	// One row per attempt, however often the homeserver redelivers it.
	if p.deps.Processed != nil {
		if first, err := p.deps.Processed.ClaimEvent(ctx, evt.ID, evt.RoomID, evt.Sender); err != nil || !first {
			if err != nil {
				log.Err(err).Msg("Failed to record ignored write attempt as processed")
			}
			return
		}
	}
	ce := &Event{Event: evt, Ctx: ctx, Log: log, Meta: p.deps, Command: command.Name, Args: args}
	// A typed id, else the billing message replied to (a lookup in our own
	// database, per room).
	target := ""
	if len(args) > 0 && evt.Type == event.EventMessage {
		if _, ok := objectNoun(args[0]); ok {
			target = args[0]
		}
	}
	if target == "" && evt.Type == event.EventMessage {
		if t := ResolveTarget(ce, ""); t != "" {
			if _, ok := objectNoun(t); ok {
				target = t
			}
		}
	}
	params, _ := json.Marshal(args)
	p.deps.audit(ce, &database.AuditEntry{
		Role: roleNone, AccountID: portal.AccountID, CustomerID: portal.CustomerID,
		Command: command.Name, TargetObject: target, Parameters: params,
		Outcome: database.AuditDenied, Error: ignoredNoRole,
	})
	log.Info().Str("command", command.Name).Msg("Audited write attempt from user without a role")
}

// ignoredWrite is the write command evt would run, and its arguments, or
// nil when it would run none (chat, a read command, another reaction).
func (p *Processor) ignoredWrite(ctx context.Context, evt *event.Event) (*Command, []string) {
	switch evt.Type {
	case event.EventReaction:
		content, ok := evt.Content.Parsed.(*event.ReactionEventContent)
		if !ok || strings.ReplaceAll(content.RelatesTo.Key, "\ufe0f", "") != confirmReaction {
			return nil, nil
		}
		return p.lookup("confirm"), []string{confirmReaction, content.RelatesTo.EventID.String()}
	case event.EventMessage:
		parsed := p.proc.ParseEvent(ctx, evt)
		if parsed == nil {
			return nil, nil
		}
		name, args := parsed.Command, parsed.Args
		if parsed.StructuredArgs == nil {
			// Outside a management room (which a role-less user has none
			// of) a command needs the prefix.
			if name != strings.ToLower(p.deps.Config.Bridge.CommandPrefix) || len(args) == 0 {
				return nil, nil
			}
			name, args = strings.ToLower(args[0]), args[1:]
		}
		cmd := p.lookup(name)
		if cmd == nil || !(cmd.Write || cmd.Name == "confirm") {
			return nil, nil
		}
		return cmd, args
	}
	return nil, nil
}

// auditFor is what `audit` lists: one object's entries, one customer's
// (their room's, and refused attempts on their objects from other rooms,
// in every account), or the newest of all; newest first, at most limit.
func auditFor(ctx context.Context, d *Deps, customerID, objectID string, limit int) ([]*database.AuditEntry, error) {
	switch {
	case objectID != "":
		return d.Audit.ListByTarget(ctx, objectID, limit)
	case customerID != "":
		// Customer ids are unique per account; look in each.
		var entries []*database.AuditEntry
		for _, acct := range d.Config.Stripe.Accounts {
			found, err := d.Audit.ListByCustomer(ctx, acct.Alias, customerID, limit)
			if err != nil {
				return nil, err
			}
			entries = append(entries, found...)
		}
		slices.SortStableFunc(entries, func(a, b *database.AuditEntry) int {
			return cmp.Or(b.Timestamp.Compare(a.Timestamp), cmp.Compare(b.ID, a.ID))
		})
		return entries[:min(len(entries), limit)], nil
	default:
		return d.Audit.ListRecent(ctx, limit)
	}
}

// auditLine is one entry for an admin: who (and as what) ran what on which
// object (and whose it is, when it was another customer's), from which
// customer's room, how it ended, and why.
func auditLine(e *database.AuditEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "* %s %s", e.Timestamp.UTC().Format("2 Jan 15:04"), code(string(e.Actor)))
	switch e.Role {
	case "":
	case roleNone:
		b.WriteString(" (no role)")
	default:
		fmt.Fprintf(&b, " (%s)", plain(e.Role))
	}
	fmt.Fprintf(&b, " ran %s", code(e.Command))
	if e.TargetObject != "" {
		fmt.Fprintf(&b, " on %s", code(e.TargetObject))
	}
	if e.TargetCustomerID != "" {
		fmt.Fprintf(&b, " of %s", code(e.TargetCustomerID))
	}
	if e.CustomerID != "" {
		fmt.Fprintf(&b, " in the room of %s", code(e.CustomerID))
	}
	fmt.Fprintf(&b, ": **%s**", plain(string(e.Outcome)))
	if e.Error != "" {
		b.WriteString(" — " + plain(e.Error))
	}
	return b.String()
}
