package commands

import (
	"context"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// Outcomes of a command, as Deps.OnCommand hears them. The processor's
// wrapper (safe) knows the refusals, rate limits and panics; the audit row
// a write command leaves says what became of the write.
const (
	// OutcomeOK: the command ran (a read answered, a write done, a
	// confirmation resolved).
	OutcomeOK = "ok"
	// OutcomeConfirm: a write now waits for its requester's confirmation.
	OutcomeConfirm = "confirm_requested"
	// OutcomeRefused: the sender may not do this here (role, scope,
	// self-service policy, write ceiling, someone else's object).
	OutcomeRefused = "refused"
	// OutcomeError: Stripe or the database failed the write.
	OutcomeError = "error"
	// OutcomeCancelled: a pending write was cancelled, or had expired.
	OutcomeCancelled = "cancelled"
	// OutcomeRateLimited: the sender sent commands too fast.
	OutcomeRateLimited = "rate_limited"
	// OutcomeUnknown: there is no such command.
	OutcomeUnknown = "unknown"
	// OutcomePanic: the handler panicked (the user was told).
	OutcomePanic = "panic"
)

// commandResult is the outcome of one command run. It travels in the
// command's context, so the audit, which every write goes through, can
// refine it without each handler reporting.
type commandResult struct {
	name    string
	outcome string
	report  func(command, outcome string)
}

type commandResultKey struct{}

// track starts the result of a command run (cmd nil: an unknown command)
// and puts it in ce's context.
func (p *Processor) track(ce *Event, cmd *Command) *commandResult {
	result := &commandResult{name: "unknown", outcome: OutcomeUnknown, report: p.deps.OnCommand}
	if cmd != nil {
		// The registered name, whatever alias was typed: a bounded set.
		result.name, result.outcome = cmd.Name, OutcomeOK
	}
	if ce.Ctx != nil {
		ce.Ctx = context.WithValue(ce.Ctx, commandResultKey{}, result)
	}
	return result
}

func (r *commandResult) set(outcome string) { r.outcome = outcome }

// done reports the outcome, once the command has ended.
func (r *commandResult) done() {
	if r.report != nil {
		r.report(r.name, r.outcome)
	}
}

// noteOutcome sets the running command's outcome from an audit row it
// writes; the last row wins (a confirmation audits the write it ran).
func noteOutcome(ctx context.Context, outcome database.AuditOutcome) {
	if ctx == nil {
		return
	}
	result, ok := ctx.Value(commandResultKey{}).(*commandResult)
	if !ok {
		return
	}
	switch outcome {
	case database.AuditOK:
		result.set(OutcomeOK)
	case database.AuditConfirmRequested:
		result.set(OutcomeConfirm)
	case database.AuditDenied:
		result.set(OutcomeRefused)
	case database.AuditError:
		result.set(OutcomeError)
	case database.AuditCancelled, database.AuditExpired:
		result.set(OutcomeCancelled)
	}
}
