package commands

import (
	"fmt"
	"strings"

	"github.com/matrix-stripe/matrix-stripe/config"
)

const failedListLimit = 20

func inboxCommands() []*Command {
	return []*Command{
		{
			Name: "failed", Role: config.RoleAgent, Scope: ManagementOnly,
			Help: "List Stripe events that could not be posted, with the reason",
			Func: cmdFailed,
		},
		{
			Name: "retry", Role: config.RoleAdmin, Scope: ManagementOnly, Args: "<evt_…>",
			Help: "Queue a failed Stripe event for delivery again",
			Func: cmdRetry,
		},
	}
}

func cmdFailed(ce *Event) {
	failed, err := ce.Meta.Inbox.ListFailed(ce.Ctx, failedListLimit)
	if err != nil {
		ce.Log.Err(err).Msg("Failed to list failed events")
		ce.Reply("Could not read the event inbox; please try again.")
		return
	}
	if len(failed) == 0 {
		ce.Reply("No failed events. Everything Stripe sent has been posted.")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d failed event(s) (newest %d shown):\n\n", len(failed), failedListLimit)
	for _, evt := range failed {
		fmt.Fprintf(&b, "* %s %s (%s): %s\n", code(evt.ID), code(evt.Type),
			code(evt.AccountID), code(evt.LastError))
	}
	b.WriteString("\nUse `retry <evt_…>` to queue one again.")
	ce.Reply("%s", b.String())
}

func cmdRetry(ce *Event) {
	if len(ce.Args) != 1 || !strings.HasPrefix(ce.Args[0], "evt_") {
		ce.Reply("Usage: `retry <evt_…>` — the Stripe event id from `failed`.")
		return
	}
	ok, err := ce.Meta.Inbox.Retry(ce.Ctx, ce.Args[0])
	switch {
	case err != nil:
		ce.Log.Err(err).Msg("Failed to requeue event")
		ce.Reply("Could not requeue the event; please try again.")
	case !ok:
		ce.Reply("%s is not a failed event.", code(ce.Args[0]))
	default:
		ce.Log.Info().Str("stripe_event_id", ce.Args[0]).Msg("Failed event requeued")
		ce.Reply("Queued %s for delivery again.", code(ce.Args[0]))
	}
}
