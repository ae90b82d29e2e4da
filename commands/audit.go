package commands

import (
	"encoding/json"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// audit writes one audit_log row. Failing to audit is logged loudly but does
// not undo what Stripe already did.
func (p *Processor) audit(ce *Event, entry *database.AuditEntry) {
	if p.deps.Audit == nil {
		return
	}
	entry.Timestamp = p.deps.now()
	entry.Actor = ce.Sender
	entry.RoomID = ce.RoomID
	if entry.Role == "" {
		entry.Role = string(p.deps.Role(ce.Ctx, ce.RoomID, ce.Sender))
	}
	if entry.AccountID == "" && p.deps.Portal != nil {
		if portal, err := p.deps.Portal(ce.Ctx, ce.RoomID); err == nil && portal != nil {
			entry.AccountID, entry.CustomerID = portal.AccountID, portal.CustomerID
		}
	}
	if err := p.deps.Audit.Insert(ce.Ctx, entry); err != nil {
		ce.Log.Error().Err(err).Str("command", entry.Command).Msg("Failed to write audit log")
	}
}

func (p *Processor) auditRefusal(ce *Event, cmd *Command, why string) {
	params, _ := json.Marshal(ce.Args)
	p.audit(ce, &database.AuditEntry{
		Command:    cmd.Name,
		Parameters: params,
		Outcome:    database.AuditDenied,
		Error:      why,
	})
}
