package commands

import (
	"context"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// ConversationStore changes where a customer room's conversation stands.
// *database.PortalQuery implements it; the bridge wires it as
// Deps.Conversations.
type ConversationStore interface {
	SetConversationState(ctx context.Context, accountID, customerID string, state database.ConversationState) error
	// Upsert writes the whole portal row; assign uses it for assigned_agent.
	Upsert(ctx context.Context, portal *database.Portal) error
}

func (p *Processor) conversationCommands() []*Command {
	return []*Command{
		{Name: "assign", Role: config.RoleAgent, Args: "[@agent]", Help: "Make an agent (default: you) responsible for this customer", Func: p.cmdAssign},
		{Name: "resolve", Role: config.RoleAgent, Help: "Mark this conversation resolved", Func: p.conversationSetter(database.ConversationResolved)},
		{Name: "reopen", Role: config.RoleAgent, Help: "Reopen this conversation", Func: p.conversationSetter(database.ConversationOpen)},
	}
}

// conversationPortal is the room's portal when conversations can be tracked;
// otherwise the user has been told why.
func (p *Processor) conversationPortal(ce *Event) (*database.Portal, bool) {
	if p.deps.Conversations == nil {
		ce.Reply("Conversation tracking is not available on this bridge.")
		return nil, false
	}
	portal, _, ok := roomCustomer(ce)
	return portal, ok
}

func (p *Processor) cmdAssign(ce *Event) {
	portal, ok := p.conversationPortal(ce)
	if !ok {
		return
	}
	assignee := ce.Sender
	if len(ce.Args) > 1 {
		ce.Reply("Usage: `assign [@agent:server]`")
		return
	} else if len(ce.Args) == 1 {
		assignee = id.UserID(strings.TrimSpace(ce.Args[0]))
		if _, _, err := assignee.ParseAndValidateRelaxed(); err != nil || !strings.HasPrefix(string(assignee), "@") {
			ce.Reply("%s is not a Matrix user ID. Usage: `assign [@agent:server]`", code(string(assignee)))
			return
		}
	}
	// Only someone who could act here is worth assigning; a customer or a
	// stranger would silently take the room off every agent's list.
	if !p.deps.Role(ce.Ctx, ce.RoomID, assignee).AtLeast(config.RoleAgent) {
		ce.Reply("%s is not an agent on this bridge.", code(string(assignee)))
		return
	}
	if portal.AssignedAgent == assignee {
		ce.Reply("This conversation is already assigned to %s.", code(string(assignee)))
		return
	}
	portal.AssignedAgent = assignee
	if err := p.deps.Conversations.Upsert(ce.Ctx, portal); err != nil {
		ce.Log.Err(err).Msg("Failed to assign conversation")
		ce.Reply("Could not assign the conversation; please try again.")
		return
	}
	p.recordFact(ce, portal, &database.Fact{Kind: database.FactAssign, Detail: string(assignee)})
	ce.Reply("Assigned this conversation to %s.", code(string(assignee)))
}

func (p *Processor) conversationSetter(state database.ConversationState) func(ce *Event) {
	return func(ce *Event) {
		portal, ok := p.conversationPortal(ce)
		if !ok {
			return
		}
		if len(ce.Args) > 0 {
			ce.Reply("Usage: %s takes no arguments.", code(ce.Command))
			return
		}
		if portal.ConversationState == state {
			ce.Reply("This conversation is already %s.", state)
			return
		}
		if err := p.deps.Conversations.SetConversationState(ce.Ctx, portal.AccountID, portal.CustomerID, state); err != nil {
			ce.Log.Err(err).Msg("Failed to set conversation state")
			ce.Reply("Could not update the conversation; please try again.")
			return
		}
		p.recordFact(ce, portal, &database.Fact{Kind: database.FactState, Detail: string(state)})
		if state == database.ConversationResolved {
			ce.Reply("Marked this conversation resolved.")
			p.askSatisfaction(ce, portal)
		} else {
			ce.Reply("Reopened this conversation.")
		}
	}
}
