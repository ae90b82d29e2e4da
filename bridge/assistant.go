package bridge

import (
	"context"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/assistant"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/ratelimit"
)

// assistantTimeout bounds one answer; the customer would rather hear that an
// agent will reply than wait.
const assistantTimeout = 30 * time.Second

// A customer may ask assistantBurst questions at once and one more every
// assistantRefill: a flood gets one "slow down", then silence, and costs a
// bounded number of Stripe reads.
const (
	assistantBurst  = 5
	assistantRefill = 5 * time.Second
)

// pingEvery is how often a room's handoffs may mention the agents: a
// customer who asks again before anyone answered is told the team knows,
// without pinging everyone once more.
const pingEvery = 5 * time.Minute

// pingedRecently reports whether a handoff in the room mentioned the
// agents within pingEvery (from the recorded facts, so across restarts
// and processes).
func (br *Bridge) pingedRecently(ctx context.Context, room id.RoomID) bool {
	facts, err := br.DB.Fact.Room(ctx, room, 100)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Failed to read the room's conversation facts")
		return false
	}
	for _, f := range facts {
		if f.Kind == database.FactHandoff && f.Ref == handoffPinged && time.Since(f.At) < pingEvery {
			return true
		}
	}
	return false
}

// handoffPinged marks (in Ref) a handoff fact whose message mentioned the
// agents.
const handoffPinged = "pinged"

// AssistantOptions turns the config into the assistant's options; `ask`
// uses it too, so it answers exactly as the rooms would.
func AssistantOptions(cfg *config.Config) assistant.Options {
	policy := cfg.Bridge.SelfService
	opts := assistant.Options{
		Threshold:     cfg.Assistant.ConfidenceThreshold,
		CommandPrefix: cfg.Bridge.CommandPrefix,
		SelfService: func(command string) bool {
			return map[string]bool{"portal": policy.Portal, "request-refund": policy.RequestRefund,
				"cancel": policy.Cancel, "change-plan": policy.ChangePlan, "pay": policy.Pay}[command]
		},
	}
	if llm := &cfg.Assistant.LLM; llm.Enabled() {
		opts.LLM = &assistant.LLMOptions{BaseURL: llm.BaseURL, Model: llm.Model, APIKey: llm.APIKey, Timeout: llm.TimeoutDuration()}
	}
	return opts
}

// isCommand reports whether a message is meant for the command processor:
// it starts with the prefix, or it is in the sender's management room.
func (br *Bridge) isCommand(ctx context.Context, evt *event.Event) bool {
	content := evt.Content.AsMessage()
	fields := strings.Fields(content.Body)
	if len(fields) > 0 && strings.EqualFold(fields[0], br.Config.Bridge.CommandPrefix) {
		return true
	}
	return br.isManagementRoom(ctx, evt.Sender, evt.RoomID)
}

// noteAgentActivity remembers that an agent spoke in a customer room, so the
// assistant leaves the conversation to them for a while.
func (br *Bridge) noteAgentActivity(ctx context.Context, portal *database.Portal) {
	if err := br.DB.Portal.SetAgentActivity(ctx, portal.AccountID, portal.CustomerID, time.Now()); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to record agent activity")
	}
}

// assist answers a customer's plain-language message, or hands it to the
// agents. It never writes to Stripe.
func (br *Bridge) assist(ctx context.Context, evt *event.Event, portal *database.Portal) {
	log := zerolog.Ctx(ctx)
	content := evt.Content.AsMessage()
	if !br.Config.Assistant.Enabled || !portal.AssistantEnabled || content.MsgType != event.MsgText {
		return
	}
	if time.Since(portal.LastAgentActivityAt) < br.Config.Assistant.QuietWindow() {
		log.Debug().Msg("Agent active in the room; assistant stays quiet")
		return
	}
	client := br.customerAPI(portal.AccountID)
	if client == nil {
		return
	}
	switch br.assistLimit.Take(string(evt.Sender), time.Now()) {
	case ratelimit.Warn:
		br.sendNotice(ctx, evt.RoomID, "You're sending messages faster than I can answer. Wait a few seconds, then ask again.")
		return
	case ratelimit.Drop:
		log.Debug().Msg("Customer over the assistant's rate limit; not answering")
		return
	}
	answerCtx, cancel := context.WithTimeout(ctx, assistantTimeout)
	defer cancel()
	res, err := br.Assistant.Answer(answerCtx, client, portal.CustomerID, content.Body)
	if err != nil || res == nil {
		log.Warn().Err(err).Msg("Assistant failed; handing off")
		res = &assistant.Result{Intent: assistant.IntentUnknown, Reply: "I couldn't look that up right now.", Handoff: true}
	}
	log.Info().Str("intent", string(res.Intent)).Float64("confidence", res.Confidence).Bool("handoff", res.Handoff).Msg("Assistant answered")
	outcome := database.FactAnswer
	reply, line := res.Reply, ""
	var mentions []id.UserID
	if res.Handoff {
		outcome = database.FactHandoff
		if br.pingedRecently(ctx, portal.RoomID) {
			line = "The team already knows; an agent will answer here."
		} else {
			mentions = br.agentsOnDuty(portal.AccountID)
			line = handoffLine(mentions)
		}
	}
	pinged := ""
	if len(mentions) > 0 {
		pinged = handoffPinged
	}
	if res.Handoff {
		br.handoffNote(ctx, portal, content.Body, res)
	}
	// Keyed by the customer's message: one answer or handoff per question.
	br.recordFact(ctx, portal, &database.Fact{Kind: outcome, Actor: br.Bot.UserID, ActorRole: database.RoleAssistant,
		Detail: string(res.Intent), EventID: evt.ID, Ref: pinged})
	if res.Handoff {
		// One line when the answer is one line: Dendrite matches the legacy
		// mention rules against the whole body and never across a newline.
		sep := " "
		if strings.Contains(reply, "\n") {
			sep = "\n\n"
		}
		reply = strings.TrimSpace(reply + sep + line)
		if err = br.DB.Portal.SetConversationState(ctx, portal.AccountID, portal.CustomerID, database.ConversationWaiting); err != nil {
			log.Err(err).Msg("Failed to mark conversation as waiting")
		} else {
			br.recordFact(ctx, portal, &database.Fact{Kind: database.FactState, Actor: br.Bot.UserID, Detail: string(database.ConversationWaiting)})
		}
	}
	msg := format.RenderMarkdown(reply, true, false)
	// A handoff that mentions agents goes as m.text: the default push rule
	// .m.rule.suppress_notices silences every m.notice, mentions included,
	// so agents in Element would never hear of it. Answers stay notices.
	msg.MsgType = event.MsgNotice
	if len(mentions) > 0 {
		msg.MsgType = event.MsgText
	}
	msg.SetReply(evt)
	msg.Mentions = &event.Mentions{UserIDs: mentions}
	resp, err := br.Bot.SendMessageEvent(ctx, evt.RoomID, event.EventMessage, &msg)
	if err != nil {
		log.Err(err).Msg("Failed to send assistant reply")
		return
	}
	br.recordFact(ctx, portal, &database.Fact{Kind: database.FactMessage, Actor: br.Bot.UserID, ActorRole: database.RoleAssistant, EventID: resp.EventID})
}

func (br *Bridge) agentsOnDuty(alias string) []id.UserID {
	if agents := br.Config.Assistant.AgentsOnDuty[alias]; len(agents) > 0 {
		return agents
	}
	return br.Config.Bridge.InviteAgents[alias]
}

// handoffLine names the agents with one pill each: a matrix.to link in the
// formatted body whose text, the MXID, is also what the plain body shows,
// so both m.mentions and the legacy contains_user_name push rule match.
func handoffLine(agents []id.UserID) string {
	if len(agents) == 0 {
		return "I've asked an agent to answer you here."
	}
	pills := make([]string, len(agents))
	for i, agent := range agents {
		pills[i] = format.MarkdownMention(agent)
	}
	// Every handoff answer already says an agent will reply; this line only
	// says who was told.
	names := pills[0]
	if n := len(pills); n > 1 {
		names = strings.Join(pills[:n-1], ", ") + " and " + pills[n-1]
	}
	return "I've let " + names + " know."
}
