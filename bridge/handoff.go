package bridge

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"

	"github.com/matrix-stripe/matrix-stripe/assistant"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
)

// maxQuotedQuestion bounds how much of the customer's message the note
// quotes.
const maxQuotedQuestion = 300

// handoffNote tells the agents, in the account's feed room where only they
// read, what the customer asked, how the assistant read it and what it
// already answered in this conversation, so whoever picks it up starts
// with the context. The customer's room says only that an agent will
// answer.
func (br *Bridge) handoffNote(ctx context.Context, portal *database.Portal, question string, res *assistant.Result, facts []*database.Fact) {
	log := zerolog.Ctx(ctx)
	feed, err := br.Portal.EnsureFeedRoom(ctx, portal.AccountID)
	if err != nil {
		log.Warn().Err(err).Msg("Failed to find the feed room for a handoff note")
		return
	}
	quoted := []rune(usertext.Clean(strings.Join(strings.Fields(question), " ")))
	if len(quoted) > maxQuotedQuestion {
		quoted = append(quoted[:maxQuotedQuestion], '…')
	}
	var b strings.Builder
	read := make([]string, 0, len(res.Intents))
	for _, in := range res.Intents {
		read = append(read, "`"+string(in)+"`")
	}
	if len(read) == 0 {
		read = append(read, "`"+string(res.Intent)+"`")
	}
	fmt.Fprintf(&b, "**Handoff** in [%s](https://matrix.to/#/%s): “%s” — read as %s (confidence %.2f, language `%s`).",
		usertext.Markdown(portal.Name), portal.RoomID, usertext.Markdown(string(quoted)), strings.Join(read, " + "), res.Confidence, res.Lang)
	if answered := answeredIntents(facts); len(answered) > 0 {
		fmt.Fprintf(&b, " Already answered in this conversation: %s.", strings.Join(answered, ", "))
	}
	content := format.RenderMarkdown(b.String(), true, false)
	content.MsgType = event.MsgNotice
	// The agents were mentioned in the customer's room; the note pings no one.
	content.Mentions = &event.Mentions{}
	if _, err = br.Portal.Ghost(portal.AccountID).SendMessageEvent(ctx, feed, event.EventMessage, &content); err != nil {
		log.Warn().Err(err).Msg("Failed to post a handoff note in the feed room")
	}
}

// answeredIntents are the intents the assistant answered since the room's
// last resolution, oldest first, each once.
func answeredIntents(facts []*database.Fact) []string {
	var answered []string
	for _, f := range facts {
		switch {
		case f.Kind == database.FactState && f.Detail == string(database.ConversationResolved):
			answered = answered[:0]
		case f.Kind == database.FactAnswer && f.Detail != "" && !slices.Contains(answered, "`"+f.Detail+"`"):
			answered = append(answered, "`"+f.Detail+"`")
		}
	}
	return answered
}
