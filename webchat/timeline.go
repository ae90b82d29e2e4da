package webchat

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/e2ee"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

// Message is one message of the room as the widget shows it.
type Message struct {
	ID     id.EventID `json:"id"`
	TS     int64      `json:"ts"`
	Sender Sender     `json:"sender"`
	Text   string     `json:"text"`
	// HTML is the message's formatting after the allow-list sanitiser;
	// empty for plain text.
	HTML    string   `json:"html,omitempty"`
	Edited  bool     `json:"edited,omitempty"`
	Actions []Action `json:"actions,omitempty"`
}

// Sender is who wrote a message, as the customer should see them.
type Sender struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Kind is billing (the account's timeline), bot (command replies and
	// the assistant), agent, or customer.
	Kind string `json:"kind"`
	// AvatarURL is the member's avatar on the bridge's origin ("" for none).
	AvatarURL string `json:"avatar_url,omitempty"`
}

// Action is a button under a message: Send posts that text as the
// customer, URL opens a page.
type Action struct {
	Kind  string `json:"kind"` // confirm, pay, csat
	Label string `json:"label"`
	Send  string `json:"send,omitempty"`
	URL   string `json:"url,omitempty"`
}

// policy is the allow-list the room's HTML passes through: text formatting
// and links, nothing that runs or loads (no images, no styles, no
// attributes but href). Links open in a new tab without the opener.
var policy = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("b", "strong", "i", "em", "u", "s", "del", "code", "pre", "br", "p", "ul", "ol", "li", "blockquote", "h3", "h4", "h5", "h6")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("https", "http", "mailto")
	p.RequireParseableURLs(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.RequireNoReferrerOnFullyQualifiedLinks(true)
	p.RequireNoFollowOnFullyQualifiedLinks(true)
	return p
})

// replyFallback is the quoted original some clients put before a reply.
var replyFallback = regexp.MustCompile(`(?s)^<mx-reply>.*?</mx-reply>`)

// mentionLink is a Matrix pill: in the widget it is just the name, since
// matrix.to means nothing to someone without a Matrix account.
var mentionLink = regexp.MustCompile(`(?s)<a href="https://matrix\.to/#/[@!#][^"]*">(.*?)</a>`)

func sanitize(html string) string {
	html = mentionLink.ReplaceAllString(replyFallback.ReplaceAllString(html, ""), "$1")
	return strings.TrimSpace(policy().Sanitize(html))
}

func stripPlainFallback(body string) string {
	if !strings.HasPrefix(body, "> ") {
		return body
	}
	if i := strings.Index(body, "\n\n"); i >= 0 {
		return body[i+2:]
	}
	return body
}

// roomView converts a customer room's events for one customer.
type roomView struct {
	s    *Server
	room id.RoomID
	// customer is the user the session speaks as; linked is the Matrix
	// user linked to the customer, if any: both are "customer".
	customer, linked id.UserID
	alias            string
}

func (s *Server) view(sess *session) *roomView {
	return &roomView{s: s, room: sess.room, customer: sess.user, linked: sess.linked, alias: sess.AccountID}
}

func (v *roomView) sender(ctx context.Context, user id.UserID) Sender {
	cfg := v.s.opts.Config
	snd := Sender{ID: string(user), Kind: "agent"}
	switch {
	case user == cfg.GhostMXID(v.alias):
		snd.Kind = "billing"
	case user == v.s.opts.Bot.UserID:
		snd.Kind = "bot"
	case user == v.customer || (v.linked != "" && user == v.linked):
		snd.Kind = "customer"
	}
	member, _ := v.s.opts.DB.StateStore.GetMember(ctx, v.room, user)
	if member != nil && member.Displayname != "" {
		snd.Name = member.Displayname
	} else {
		snd.Name = user.Localpart()
	}
	if member != nil {
		snd.AvatarURL = v.s.avatarURL(member.AvatarURL)
	}
	return snd
}

// convert turns one event into what the widget shows: a message (an edit
// becomes the edited message, by its id), or nil for anything else
// (state, reactions, redacted events). redacts is set for a redaction.
func (v *roomView) convert(ctx context.Context, evt *event.Event) (msg *Message, redacts id.EventID) {
	switch evt.Type {
	case event.EventRedaction:
		if c, ok := evt.Content.Parsed.(*event.RedactionEventContent); ok && c.Redacts != "" {
			return nil, c.Redacts
		}
		return nil, evt.Redacts
	case event.EventMessage:
	default:
		return nil, ""
	}
	if evt.Unsigned.RedactedBecause != nil {
		return nil, ""
	}
	content, ok := evt.Content.Parsed.(*event.MessageEventContent)
	if !ok {
		return nil, ""
	}
	msg = &Message{ID: evt.ID, TS: evt.Timestamp, Sender: v.sender(ctx, evt.Sender)}
	raw := evt.Content.Raw
	if content.RelatesTo != nil && content.RelatesTo.Type == event.RelReplace && content.NewContent != nil {
		msg.ID, msg.Edited = content.RelatesTo.EventID, true
		content = content.NewContent
		if nc, ok := raw["m.new_content"].(map[string]any); ok {
			raw = nc
		}
	}
	switch content.MsgType {
	case event.MsgText, event.MsgNotice, event.MsgEmote:
	default:
		// Files and images are not shown: the widget has no media access.
		content = &event.MessageEventContent{Body: "(an attachment that can only be viewed in a Matrix app)"}
	}
	msg.Text = stripPlainFallback(content.Body)
	if content.Format == event.FormatHTML && content.FormattedBody != "" {
		msg.HTML = sanitize(content.FormattedBody)
	}
	msg.Actions = actionsOf(msg, raw, content)
	return msg, ""
}

// actionsOf finds the buttons a message deserves: Confirm on a
// confirmation prompt (what ✅ would run), Pay on a billing message that
// asks for a payment.
func actionsOf(msg *Message, raw map[string]any, content *event.MessageEventContent) []Action {
	var out []Action
	if reactions, ok := raw[commands.ReactionCommandsKey].(map[string]any); ok {
		if cmd, ok := reactions["✅"].(string); ok && cmd != "" {
			out = append(out, Action{Kind: "confirm", Label: "Confirm", Send: cmd})
		}
	}
	// The satisfaction question after a resolve: a tap answers it, as a
	// 👍 or 👎 does in any Matrix client.
	if asked, _ := raw[portal.CSATKey].(bool); asked {
		out = append(out, Action{Kind: "csat", Label: "👍", Send: "👍"}, Action{Kind: "csat", Label: "👎", Send: "👎"})
	}
	if msg.Sender.Kind == "billing" {
		if url := portal.PayLinkOf(content.Body); url != "" {
			out = append(out, Action{Kind: "pay", Label: "Pay now", URL: url})
		}
	}
	return out
}

type historyResponse struct {
	Messages []*Message `json:"messages"`
	Next     *string    `json:"next"`
	ReadUpTo id.EventID `json:"read_up_to,omitempty"`
}

const (
	defaultPage = 30
	maxPage     = 100
)

// history is the room, newest first, a page at a time. Edits are applied
// wherever they are: those on the page directly, the others asked of the
// homeserver per message.
func (s *Server) history(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := r.Context()
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > maxPage {
		limit = defaultPage
	}
	resp, err := s.opts.Bot.Messages(ctx, sess.room, r.URL.Query().Get("before"), "", mautrix.DirectionBackward, nil, limit)
	if err != nil {
		s.log.Warn().Err(err).Str("room_id", sess.room.String()).Msg("Failed to read the room for the web chat")
		writeError(w, errUnavailable)
		return
	}
	v := s.view(sess)
	out := &historyResponse{Messages: []*Message{}}
	edits := map[id.EventID]*Message{}
	redacted := map[id.EventID]bool{}
	var originals []*Message
	for _, evt := range resp.Chunk {
		evt, ok := s.readable(ctx, evt)
		if !ok {
			continue
		}
		msg, redacts := v.convert(ctx, evt)
		switch {
		case redacts != "":
			redacted[redacts] = true
		case msg == nil:
		case msg.Edited:
			// Backwards: the first edit seen is the newest.
			if edits[msg.ID] == nil {
				edits[msg.ID] = msg
			}
		default:
			originals = append(originals, msg)
		}
	}
	for _, msg := range originals {
		if redacted[msg.ID] {
			continue
		}
		edit := edits[msg.ID]
		if edit == nil {
			edit = s.latestEdit(ctx, v, msg.ID)
		}
		// Only the author may edit a message (as Matrix clients apply them).
		if edit != nil && edit.Sender.ID == msg.Sender.ID {
			// The original's place and author, the edit's words.
			msg.Text, msg.HTML, msg.Actions, msg.Edited = edit.Text, edit.HTML, edit.Actions, true
		}
		out.Messages = append(out.Messages, msg)
	}
	if resp.End != "" && len(resp.Chunk) > 0 {
		out.Next = &resp.End
	}
	out.ReadUpTo, _ = s.opts.DB.WebChat.ReadUpTo(ctx, sess.AccountID, sess.CustomerID)
	writeJSON(w, http.StatusOK, out)
}

// readable is an event read from the homeserver, decrypted (in an
// encrypted room) and parsed; ok is false for one the widget cannot show:
// unparsable, or encrypted with a key the bridge never got.
func (s *Server) readable(ctx context.Context, evt *event.Event) (*event.Event, bool) {
	evt = e2ee.Readable(ctx, s.opts.Bot.Client, evt)
	if evt.Type == event.EventEncrypted {
		return evt, false
	}
	err := evt.Content.ParseRaw(evt.Type)
	return evt, err == nil || errors.Is(err, event.ErrContentAlreadyParsed) || evt.Type == event.EventRedaction
}

// latestEdit asks the homeserver for the newest edit of a message whose
// edits are not on the page (they came later than the page's newest
// event, or on another page).
func (s *Server) latestEdit(ctx context.Context, v *roomView, eventID id.EventID) *Message {
	resp, err := s.opts.Bot.GetRelations(ctx, v.room, eventID, &mautrix.ReqGetRelations{
		RelationType: event.RelReplace, Dir: mautrix.DirectionBackward, Limit: 1,
	})
	if err != nil || resp == nil || len(resp.Chunk) == 0 {
		return nil
	}
	evt, ok := s.readable(ctx, resp.Chunk[0])
	if !ok {
		return nil
	}
	msg, _ := v.convert(ctx, evt)
	if msg == nil || !msg.Edited || msg.ID != eventID {
		return nil
	}
	return msg
}
