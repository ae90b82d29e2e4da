package bridge

import (
	"context"
	"fmt"
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
	"github.com/matrix-stripe/matrix-stripe/webchat"
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

// roomFacts reads the room's recent facts once for a handoff: whether
// the agents were pinged lately and what was already answered.
func (br *Bridge) roomFacts(ctx context.Context, room id.RoomID) []*database.Fact {
	facts, err := br.DB.Fact.Room(ctx, room, 200)
	if err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Failed to read the room's conversation facts")
	}
	return facts
}

// pingedRecently reports whether a handoff in the room mentioned the
// agents within pingEvery (from the recorded facts, so across restarts
// and processes).
func pingedRecently(facts []*database.Fact) bool {
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

// offerLifetime is how long a "yes" accepts what the assistant offered:
// long enough to read the reply, short enough that a "yes" meant for
// something else later does not run it.
const offerLifetime = 10 * time.Minute

// AssistantOptions turns the config into the assistant's options, loading
// the knowledge base; `ask` uses it too, so it answers exactly as the
// rooms would.
func AssistantOptions(cfg *config.Config) (assistant.Options, error) {
	policy := cfg.Bridge.SelfService
	opts := assistant.Options{
		Threshold:     cfg.Assistant.ConfidenceThreshold,
		CommandPrefix: cfg.Bridge.CommandPrefix,
		Plans:         cfg.Bridge.Plans,
		SelfService: func(command string) bool {
			return map[string]bool{"portal": policy.Portal, "request-refund": policy.RequestRefund,
				"cancel": policy.Cancel, "change-plan": policy.ChangePlan, "pay": policy.Pay}[command]
		},
	}
	if llm := &cfg.Assistant.LLM; llm.Enabled() {
		opts.LLM = &assistant.LLMOptions{BaseURL: llm.BaseURL, Model: llm.Model, APIKey: llm.APIKey, Timeout: llm.TimeoutDuration()}
	}
	if path := cfg.Assistant.Knowledge; path != "" {
		kb, err := assistant.LoadKnowledge(path)
		if err != nil {
			return opts, fmt.Errorf("assistant.knowledge: %w", err)
		}
		opts.Knowledge = kb
	}
	return opts, nil
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
// agents. It never writes to Stripe; a "yes" to a step it offered runs
// that step as the customer's own command, with the command's checks and
// confirmation.
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
	hint := assistant.LangOf(localeOf(evt))
	switch br.assistLimit.Take(string(evt.Sender), time.Now()) {
	case ratelimit.Warn:
		br.sendNotice(ctx, evt.RoomID, assistant.SlowDown(br.Assistant.Read(content.Body, hint).Lang))
		return
	case ratelimit.Drop:
		log.Debug().Msg("Customer over the assistant's rate limit; not answering")
		return
	}
	res, done := br.followUp(ctx, evt, portal, content.Body, hint)
	if done {
		return
	}
	failed := false
	if res == nil {
		answerCtx, cancel := context.WithTimeout(ctx, assistantTimeout)
		defer cancel()
		var err error
		res, err = br.Assistant.Respond(answerCtx, client, assistant.Question{Customer: portal.CustomerID, Text: content.Body, Hint: hint})
		if err != nil || res == nil {
			log.Warn().Err(err).Msg("Assistant failed; handing off")
			failed = true
			lang := br.Assistant.Read(content.Body, hint).Lang
			res = &assistant.Result{Intent: assistant.IntentUnknown, Lang: lang, Reply: assistant.LookupFailed(lang), Handoff: true}
		}
	}
	log.Info().Str("intent", string(res.Intent)).Float64("confidence", res.Confidence).Str("lang", string(res.Lang)).
		Bool("handoff", res.Handoff).Str("offer", offerKind(res.Offer)).Msg("Assistant answered")
	br.countAssistant(res, failed)
	// The newest reply is what a "yes" answers: its offer, or none.
	if res.Offer != "" {
		err := br.DB.Offer.Set(ctx, evt.RoomID, database.Offer{Offer: res.Offer, Lang: string(res.Lang)}, time.Now().Add(offerLifetime))
		if err != nil {
			log.Warn().Err(err).Msg("Failed to remember the assistant's offer")
		}
	} else if err := br.DB.Offer.Clear(ctx, evt.RoomID); err != nil {
		log.Warn().Err(err).Msg("Failed to forget the assistant's offer")
	}
	br.sendAnswer(ctx, evt, portal, content.Body, res)
}

// followUp handles a "yes" to the room's live offer: an offered agent is a
// handoff (returned as the result to send), an offered command runs as the
// customer's command (done). Anything else is not a follow-up.
func (br *Bridge) followUp(ctx context.Context, evt *event.Event, portal *database.Portal, body string, hint assistant.Lang) (*assistant.Result, bool) {
	log := zerolog.Ctx(ctx)
	lang, yes := br.Assistant.Accepts(body, hint)
	if !yes {
		return nil, false
	}
	offer, err := br.DB.Offer.Take(ctx, evt.RoomID, time.Now())
	if err != nil {
		log.Warn().Err(err).Msg("Failed to read the assistant's offer")
		return nil, false
	}
	if offer == nil {
		return nil, false
	}
	if offer.Lang != "" {
		lang = assistant.Lang(offer.Lang)
	}
	if offer.Offer == assistant.OfferAgent {
		return &assistant.Result{Intent: assistant.IntentHuman, Intents: []assistant.Intent{assistant.IntentHuman}, Confidence: 1,
			Lang: lang, Reply: assistant.HumanReply(lang), Handoff: true}, false
	}
	log.Info().Str("offer", offerKind(offer.Offer)).Msg("Customer accepted the assistant's offer")
	// The customer's own "yes" event, read as the command it accepted: the
	// processor checks the customer's role and the policy, asks to confirm
	// writes and replies to it.
	cmd := *evt
	msg := event.MessageEventContent{MsgType: event.MsgText, Body: br.Config.Bridge.CommandPrefix + " " + offer.Offer}
	cmd.Content = event.Content{Parsed: &msg}
	br.Commands.Handle(br.commandContext(ctx), &cmd)
	return nil, true
}

// offerKind is an offer without its arguments, for logs.
func offerKind(offer string) string {
	kind, _, _ := strings.Cut(offer, " ")
	return kind
}

// sendAnswer posts the assistant's result in the room, with the handoff's
// mention, state change, facts and feed-room note.
func (br *Bridge) sendAnswer(ctx context.Context, evt *event.Event, portal *database.Portal, question string, res *assistant.Result) {
	log := zerolog.Ctx(ctx)
	outcome := database.FactAnswer
	reply, line := res.Reply, ""
	var mentions []id.UserID
	var facts []*database.Fact
	if res.Handoff {
		outcome = database.FactHandoff
		facts = br.roomFacts(ctx, portal.RoomID)
		if pingedRecently(facts) {
			line = assistant.TeamKnows(res.Lang)
		} else {
			mentions = br.agentsOnDuty(portal.AccountID)
			line = handoffLine(res.Lang, mentions)
		}
	}
	pinged := ""
	if len(mentions) > 0 {
		pinged = handoffPinged
	}
	if res.Handoff {
		br.handoffNote(ctx, portal, question, res, facts)
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
		if err := br.DB.Portal.SetConversationState(ctx, portal.AccountID, portal.CustomerID, database.ConversationWaiting); err != nil {
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

// localeOf is the locale the web chat sent with a message, or "".
func localeOf(evt *event.Event) string {
	locale, _ := evt.Content.Raw[webchat.LocaleKey].(string)
	return locale
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
func handoffLine(lang assistant.Lang, agents []id.UserID) string {
	pills := make([]string, len(agents))
	for i, agent := range agents {
		pills[i] = format.MarkdownMention(agent)
	}
	// Every handoff answer already says an agent will reply; this line only
	// says who was told.
	return assistant.HandoffLine(lang, pills)
}
