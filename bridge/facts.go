package bridge

import (
	"context"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// recordFact keeps one conversation fact for the dashboard. A fact that
// cannot be written costs a figure, never the message: it is logged.
func (br *Bridge) recordFact(ctx context.Context, portal *database.Portal, fact *database.Fact) {
	fact.AccountID, fact.CustomerID, fact.RoomID = portal.AccountID, portal.CustomerID, portal.RoomID
	if fact.At.IsZero() {
		fact.At = time.Now()
	}
	if _, err := br.DB.Fact.Insert(ctx, fact); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("fact", string(fact.Kind)).Msg("Failed to record a conversation fact")
	}
}

// recordMessage keeps who spoke in a customer room and when. A customer's
// lone 👍 or 👎 after the satisfaction question (the web chat's buttons
// send just that) is its answer, not a new message: answered says so, and
// the assistant leaves it alone.
func (br *Bridge) recordMessage(ctx context.Context, evt *event.Event, portal *database.Portal, role string) (answered bool) {
	if role == database.RoleCustomer {
		if answer := satisfaction(evt.Content.AsMessage().Body); answer != "" {
			if question := br.latestQuestion(ctx, portal.RoomID); question != "" {
				br.recordSatisfaction(ctx, portal, evt, question, answer)
				return true
			}
		}
	}
	at := time.UnixMilli(evt.Timestamp)
	br.recordFact(ctx, portal, &database.Fact{Kind: database.FactMessage, Actor: evt.Sender, ActorRole: role, EventID: evt.ID, At: at})
	return false
}

// csatAnswerWindow is how long after the question a lone 👍 in the chat
// still answers it.
const csatAnswerWindow = 7 * 24 * time.Hour

// latestQuestion is the room's last satisfaction question, if recent.
func (br *Bridge) latestQuestion(ctx context.Context, room id.RoomID) id.EventID {
	facts, err := br.DB.Fact.Room(ctx, room, 200)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Failed to read the room's conversation facts")
		return ""
	}
	for i := len(facts) - 1; i >= 0; i-- {
		if facts[i].Kind == database.FactCSATAsked && time.Since(facts[i].At) < csatAnswerWindow {
			return facts[i].EventID
		}
	}
	return ""
}

// handleSatisfactionReaction records a customer's 👍 or 👎 on the
// satisfaction question.
func (br *Bridge) handleSatisfactionReaction(ctx context.Context, evt *event.Event) {
	content, ok := evt.Content.Parsed.(*event.ReactionEventContent)
	if !ok || content.RelatesTo.EventID == "" {
		return
	}
	answer := satisfaction(content.RelatesTo.Key)
	if answer == "" {
		return
	}
	portal, err := br.DB.Portal.GetByRoom(ctx, evt.RoomID)
	if err != nil || portal == nil || br.roleIn(ctx, evt.RoomID, evt.Sender) != config.RoleCustomer {
		return
	}
	question, err := br.DB.Fact.CSATQuestion(ctx, evt.RoomID, content.RelatesTo.EventID)
	if err != nil || question == nil {
		return
	}
	br.recordSatisfaction(ctx, portal, evt, question.EventID, answer)
}

func (br *Bridge) recordSatisfaction(ctx context.Context, portal *database.Portal, evt *event.Event, question id.EventID, answer string) {
	br.recordFact(ctx, portal, &database.Fact{Kind: database.FactCSAT, Actor: evt.Sender, ActorRole: database.RoleCustomer,
		Detail: answer, Ref: string(question), EventID: evt.ID, At: time.UnixMilli(evt.Timestamp)})
	zerolog.Ctx(ctx).Info().Str("answer", answer).Msg("Customer answered the satisfaction question")
}

// satisfaction reads 👍 or 👎 (any skin tone, with or without the emoji
// presentation selector) as "up" or "down"; anything else is "".
func satisfaction(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\uFE0F' || (r >= 0x1F3FB && r <= 0x1F3FF) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	switch s {
	case "👍", "+1", ":+1:":
		return "up"
	case "👎", "-1", ":-1:":
		return "down"
	}
	return ""
}
