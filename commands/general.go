package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

func generalCommands(p *Processor) []*Command {
	return []*Command{
		{
			Name: "help", Role: config.RoleCustomer,
			Help: "Show the commands you can use here",
			Func: p.cmdHelp,
		},
		{
			Name: "version", Role: config.RoleAgent,
			Help: "Show the bridge version",
			Func: cmdVersion,
		},
		{
			Name: "ping", Role: config.RoleAgent,
			Help: "Check that the bridge can reach each Stripe account",
			Func: cmdPing,
		},
	}
}

// cmdHelp lists only what the caller may run where they are, so nobody is
// shown commands that would be refused.
func (p *Processor) cmdHelp(ce *Event) {
	prefix := ce.Meta.Config.Bridge.CommandPrefix
	inManagement := ce.Meta.IsManagementRoom(ce.Ctx, ce.Sender, ce.RoomID)
	var b strings.Builder
	if inManagement {
		b.WriteString("This is your management room: commands work without a prefix.\n\n")
	}
	for _, cmd := range p.commands {
		if ok, _ := p.allowed(ce, cmd); !ok {
			continue
		}
		name := cmd.Name
		if !inManagement {
			name = prefix + " " + name
		}
		if cmd.Args != "" {
			name += " " + cmd.Args
		}
		fmt.Fprintf(&b, "* %s — %s\n", code(name), cmd.Help)
	}
	ce.Reply("%s", b.String())
}

func cmdVersion(ce *Event) {
	ce.Reply("matrix-stripe %s (Stripe API %s), up since %s.",
		ce.Meta.Version, stripeapi.APIVersion, ce.Meta.StartedAt.UTC().Format("2006-01-02 15:04 MST"))
}

func cmdPing(ce *Event) {
	if len(ce.Meta.Stripe) == 0 {
		ce.Reply("No Stripe accounts are configured.")
		return
	}
	var b strings.Builder
	for _, client := range ce.Meta.Stripe {
		ctx, cancel := context.WithTimeout(ce.Ctx, 15*time.Second)
		start := time.Now()
		acct, err := client.Account(ctx)
		cancel()
		if err != nil {
			ce.Log.Warn().Err(err).Str("account", client.Alias).Msg("Stripe ping failed")
			fmt.Fprintf(&b, "* %s: %s\n", code(client.Alias), stripeapi.Describe(err))
			continue
		}
		fmt.Fprintf(&b, "* %s: reachable as %s in %d ms\n", code(client.Alias),
			code(acct.ID), time.Since(start).Milliseconds())
	}
	ce.Reply("%s", b.String())
}
