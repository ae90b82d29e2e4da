package commands

import (
	"strings"

	"github.com/matrix-stripe/matrix-stripe/config"
)

func (p *Processor) assistantCommands() []*Command {
	return []*Command{{
		Name: "assistant", Role: config.RoleAgent, Args: "on|off",
		Help: "Switch the plain-language assistant on or off in this room",
		Func: p.cmdAssistant,
	}}
}

func (p *Processor) cmdAssistant(ce *Event) {
	if len(ce.Args) != 1 || (strings.ToLower(ce.Args[0]) != "on" && strings.ToLower(ce.Args[0]) != "off") {
		ce.Reply("Usage: `assistant on|off`.")
		return
	}
	portal, _, ok := roomCustomer(ce)
	if !ok {
		return
	}
	on := strings.ToLower(ce.Args[0]) == "on"
	if err := p.deps.SetAssistant(ce.Ctx, portal.AccountID, portal.CustomerID, on); err != nil {
		ce.Log.Err(err).Msg("Failed to switch the assistant")
		ce.Reply("Could not change that; please try again.")
		return
	}
	if on {
		ce.Reply("The assistant will answer the customer's questions here again.")
	} else {
		ce.Reply("The assistant is off in this room; only agents will answer.")
	}
}
