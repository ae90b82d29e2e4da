package commands

import (
	"context"
	"encoding/json"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

// recordFact keeps one conversation fact of the room's customer. A fact
// that cannot be written costs a figure on the dashboard, never the
// command: it is logged and the command goes on.
func (p *Processor) recordFact(ce *Event, portal *database.Portal, fact *database.Fact) {
	if p.deps.Facts == nil || portal == nil {
		return
	}
	fact.AccountID, fact.CustomerID, fact.RoomID = portal.AccountID, portal.CustomerID, portal.RoomID
	if fact.RoomID == "" {
		fact.RoomID = ce.RoomID
	}
	if fact.Actor == "" {
		fact.Actor = ce.Sender
	}
	fact.At = p.deps.now()
	if _, err := p.deps.Facts.Insert(ce.Ctx, fact); err != nil {
		ce.Log.Warn().Err(err).Str("fact", string(fact.Kind)).Msg("Failed to record a conversation fact")
	}
}

// recordWrite keeps a confirmed write's fact, with the money it moved when
// its parameters say (refunds and credits carry amount and currency).
func (p *Processor) recordWrite(ce *Event, portal *database.Portal, action *database.PendingAction) {
	var money struct {
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	}
	_ = json.Unmarshal(action.Parameters, &money)
	p.recordFact(ce, portal, &database.Fact{Kind: database.FactWrite, Detail: action.Command, Amount: money.Amount, Currency: money.Currency})
}

// csatQuestion is asked of the customer once a conversation is resolved.
const csatQuestion = "Did we solve it? React 👍 or 👎 to this message."

// askSatisfaction asks the customer the one question after a resolve. It
// is the bridge's question to the customer, not the agent's reply: a
// panel call's attribution does not apply.
func (p *Processor) askSatisfaction(ce *Event, room *database.Portal) {
	ctx := context.WithValue(ce.Ctx, panelCallKey{}, (*panelCall)(nil))
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: csatQuestion, Mentions: &event.Mentions{}}
	resp, err := ce.Proc.Client.SendMessageEvent(ctx, ce.RoomID, event.EventMessage, &event.Content{
		Parsed: content, Raw: map[string]any{portal.CSATKey: true},
	})
	if err != nil {
		ce.Log.Warn().Err(err).Msg("Failed to ask the customer whether we solved it")
		return
	}
	p.recordFact(ce, room, &database.Fact{Kind: database.FactCSATAsked, EventID: resp.EventID})
}
