package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// The agent panel acts through this processor, not beside it: a click
// becomes a command event with the panel user as its sender, and runs the
// very handler a chat command would, with its role, ownership and ceiling
// checks, its confirmation, idempotency key and audit. What differs is
// where the words go. While a write is being prepared, everything the
// command says (its confirmation prompt, or why it cannot be done) is
// kept for the panel and nothing reaches the room; the confirmation's
// outcome, and the commands that need none, are posted in the room as a
// chat command's reply would be, attributed to the agent, and shown in the
// panel too. The words are caught on their way to the homeserver, as the
// plain m.room.message sends of this processor's client: end-to-end
// encryption must keep that step before a reply is encrypted.

// PanelCommands are the commands the panel may run.
var PanelCommands = []string{
	"refund", "cancel", "pause", "unpause", "resume", "change-plan", "credit", "void", "send",
	"portal", "assign", "resolve", "reopen",
}

// PanelRequest is one click in the panel.
type PanelRequest struct {
	RoomID id.RoomID
	Sender id.UserID
	// RequestID is the page's id for the click: the same id sent twice
	// (a retry after a lost answer) is the same request, acted on once.
	RequestID string
	Command   string
	Args      []string
}

// PanelStatus says how a panel request ended.
type PanelStatus string

const (
	// PanelConfirm: a write waits for the agent's confirmation.
	PanelConfirm PanelStatus = "confirm"
	// PanelDone: the command ran (its reply is in the room).
	PanelDone PanelStatus = "done"
	// PanelRefused: nothing was done; Messages say why.
	PanelRefused PanelStatus = "refused"
)

// PanelResult is what the panel shows after a request.
type PanelResult struct {
	Status    PanelStatus `json:"status"`
	ActionID  string      `json:"action_id,omitempty"`
	Summary   string      `json:"summary,omitempty"`
	ExpiresAt *time.Time  `json:"expires_at,omitempty"`
	Messages  []string    `json:"messages"`
}

// panelEventPrefix marks the ids of command events made for the panel.
// They name no event on the homeserver.
const panelEventPrefix = "$mxstripe_panel_"

func isPanelEvent(evtID id.EventID) bool { return strings.HasPrefix(string(evtID), panelEventPrefix) }

// panelEventID is the command event id of a panel request: one per agent,
// room, request and step, so a retried click is a redelivered event.
func panelEventID(req *PanelRequest, step string) id.EventID {
	sum := sha256.Sum256([]byte(strings.Join([]string{"matrix-stripe panel", string(req.Sender), string(req.RoomID), req.RequestID, step}, "\x00")))
	return id.EventID(panelEventPrefix + hex.EncodeToString(sum[:16]))
}

// panelCall collects what one panel request's command says.
type panelCall struct {
	// hold keeps the replies from the room (a write being prepared).
	hold   bool
	sender id.UserID
	// ran: this request's confirmation reached Stripe (or tried to);
	// failed: and Stripe (or a check before it) said no.
	ran, failed bool
	mu          sync.Mutex
	said        []string
}

type panelCallKey struct{}

func (c *panelCall) record(body string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.said = append(c.said, body)
}

func (c *panelCall) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string{}, c.said...)
}

// panelTransport sits under the command processor's client. Sends of a
// panel request are recorded, and either held back or posted without the
// reply to a command event the room never saw; everything else passes.
type panelTransport struct{ next http.RoundTripper }

func (t panelTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call, _ := req.Context().Value(panelCallKey{}).(*panelCall)
	if call == nil || req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/send/") {
		return t.next.RoundTrip(req)
	}
	raw, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	var content map[string]any
	if err = json.Unmarshal(raw, &content); err != nil {
		return nil, err
	}
	isMessage := strings.Contains(req.URL.Path, "/send/m.room.message/")
	if body, _ := content["body"].(string); isMessage && body != "" {
		call.record(body)
	}
	if call.hold || !isMessage {
		return heldResponse(req), nil
	}
	attribute(content, call.sender)
	if raw, err = json.Marshal(content); err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(raw)), int64(len(raw))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	return t.next.RoundTrip(out)
}

// heldResponse answers a held send as the homeserver would, with an event
// id that names nothing.
func heldResponse(req *http.Request) *http.Response {
	body := `{"event_id":"` + panelEventPrefix + `held"}`
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req,
	}
}

// attribute makes a panel command's reply say who acted, since the room
// never saw the command: "@agent:example.org (agent panel): Refunded …".
// It drops the reply to the command event, which does not exist, and
// mentions no one: the agent must not be pinged by their own click.
func attribute(content map[string]any, sender id.UserID) {
	delete(content, "m.relates_to")
	content["m.mentions"] = map[string]any{}
	label := string(sender) + " (agent panel): "
	if body, ok := content["body"].(string); ok {
		content["body"] = label + body
	}
	if formatted, ok := content["formatted_body"].(string); ok {
		content["formatted_body"] = "<strong>" + html.EscapeString(string(sender)) + "</strong> (agent panel): " + formatted
	}
}

// installPanelTransport puts panelTransport under the client's requests.
// The client keeps everything else (its crypto, its state store); the
// http.Client it shared with the bridge's other clients is copied, not
// changed, and requests outside a panel call pass through untouched.
func installPanelTransport(client *mautrix.Client) {
	if client == nil {
		return
	}
	httpClient := &http.Client{}
	next := http.DefaultTransport
	if client.Client != nil {
		*httpClient = *client.Client
		if client.Client.Transport != nil {
			next = client.Client.Transport
		}
	}
	httpClient.Transport = panelTransport{next: next}
	client.Client = httpClient
}

// Panel runs one panel click: a command (a write is prepared and waits for
// PanelConfirm), or the confirmation or cancellation of a prepared write.
func (p *Processor) Panel(ctx context.Context, req *PanelRequest) (*PanelResult, error) {
	log := zerolog.Ctx(ctx).With().Str("room_id", req.RoomID.String()).Str("user_id", req.Sender.String()).
		Str("panel_request", req.RequestID).Logger()
	ctx = log.WithContext(ctx)
	switch {
	case req.Command == "confirm" && len(req.Args) == 1:
		return p.panelConfirm(ctx, req)
	case req.Command == "cancel-action" && len(req.Args) == 1:
		return p.panelCancel(ctx, req, req.Args[0])
	case !slices.Contains(PanelCommands, req.Command):
		return refused(fmt.Sprintf("The panel cannot run %s.", req.Command)), nil
	}
	for _, arg := range req.Args {
		if arg == "" || strings.ContainsAny(arg, " \t\r\n") {
			return refused("Each value must be one word."), nil
		}
	}
	cmd := p.command(req.Command)
	call := &panelCall{hold: cmd != nil && cmd.Write, sender: req.Sender}
	evtID := panelEventID(req, "run")
	first, err := p.claimPanelEvent(ctx, evtID, req)
	if err != nil {
		return nil, err
	}
	if first {
		p.Handle(context.WithValue(ctx, panelCallKey{}, call), panelEvent(evtID, req, p.deps.Config.Bridge.CommandPrefix+" "+req.Command+" "+strings.Join(req.Args, " ")))
	}
	actionID, _ := actionKeys(evtID)
	action, err := p.deps.Actions.Get(ctx, actionID)
	if err != nil {
		return nil, err
	}
	said := panelText(call.messages())
	switch {
	case action != nil && action.State == database.ActionPending && action.Requester == req.Sender:
		expires := action.ExpiresAt
		return &PanelResult{Status: PanelConfirm, ActionID: action.ID, Summary: panelText([]string{action.Summary})[0], ExpiresAt: &expires, Messages: []string{}}, nil
	case action != nil:
		return refused(fmt.Sprintf("That was %s already.", action.State)), nil
	case !first:
		return refused("That request was already made; reload the panel to see where it stands."), nil
	case call.hold:
		// A write that stored no action was refused, and said why.
		return &PanelResult{Status: PanelRefused, Messages: said}, nil
	}
	return &PanelResult{Status: PanelDone, Messages: said}, nil
}

func (p *Processor) panelConfirm(ctx context.Context, req *PanelRequest) (*PanelResult, error) {
	evtID := panelEventID(req, "confirm")
	first, err := p.claimPanelEvent(ctx, evtID, req)
	if err != nil {
		return nil, err
	}
	if !first {
		return refused("That confirmation was already sent; reload the panel to see where it stands."), nil
	}
	// What cannot be confirmed is said in the panel only; the room hears
	// of a confirmation that runs.
	action, err := p.deps.Actions.Get(ctx, req.Args[0])
	if err != nil {
		return nil, err
	}
	switch {
	case action == nil || action.RoomID != req.RoomID || action.Requester != req.Sender:
		return refused("There is nothing of yours waiting here to confirm."), nil
	case action.State != database.ActionPending:
		return refused(fmt.Sprintf("That was %s already; nothing more was done.", action.State)), nil
	case !p.deps.now().Before(action.ExpiresAt):
		return refused("That confirmation expired; nothing was done. Prepare it again if you still want it."), nil
	}
	call := &panelCall{sender: req.Sender}
	p.Handle(context.WithValue(ctx, panelCallKey{}, call),
		panelEvent(evtID, req, p.deps.Config.Bridge.CommandPrefix+" confirm "+req.Args[0]))
	said := panelText(call.messages())
	if call.ran && !call.failed {
		return &PanelResult{Status: PanelDone, ActionID: req.Args[0], Messages: said}, nil
	}
	return &PanelResult{Status: PanelRefused, ActionID: req.Args[0], Messages: said}, nil
}

// panelCancel withdraws a prepared write; only its requester may.
func (p *Processor) panelCancel(ctx context.Context, req *PanelRequest, actionID string) (*PanelResult, error) {
	action, err := p.deps.Actions.Get(ctx, actionID)
	if err != nil {
		return nil, err
	}
	if action == nil || action.RoomID != req.RoomID || action.Requester != req.Sender {
		return refused("There is nothing of yours waiting here to cancel."), nil
	}
	ok, err := p.deps.Actions.Resolve(ctx, actionID, database.ActionCancelled, p.deps.now())
	if err != nil {
		return nil, err
	}
	if !ok {
		return refused(fmt.Sprintf("That was %s already.", action.State)), nil
	}
	ce := &Event{Event: &event.Event{ID: panelEventID(req, "cancel"), Sender: req.Sender, RoomID: req.RoomID}, Ctx: ctx, Log: zerolog.Ctx(ctx)}
	p.audit(ce, &database.AuditEntry{Command: action.Command, Parameters: action.Parameters,
		IdempotencyKey: action.IdempotencyKey, Outcome: database.AuditCancelled, Error: "cancelled in the agent panel"})
	return &PanelResult{Status: PanelDone, ActionID: actionID, Messages: []string{"Cancelled; nothing was changed."}}, nil
}

func (p *Processor) claimPanelEvent(ctx context.Context, evtID id.EventID, req *PanelRequest) (bool, error) {
	if p.deps.Processed == nil {
		return true, nil
	}
	return p.deps.Processed.ClaimEvent(ctx, evtID, req.RoomID, req.Sender)
}

func (p *Processor) command(name string) *Command {
	for _, cmd := range p.commands {
		if cmd.Name == name || slices.Contains(cmd.Aliases, name) {
			return cmd
		}
	}
	return nil
}

func panelEvent(evtID id.EventID, req *PanelRequest, body string) *event.Event {
	return &event.Event{
		ID: evtID, Type: event.EventMessage, RoomID: req.RoomID, Sender: req.Sender, Timestamp: time.Now().UnixMilli(),
		Content: event.Content{Parsed: &event.MessageEventContent{MsgType: event.MsgText, Body: strings.TrimSpace(body)}},
	}
}

func refused(why string) *PanelResult {
	return &PanelResult{Status: PanelRefused, Messages: []string{why}}
}

// panelTextParser reads a reply's HTML as the words a person would see:
// no Markdown marks, links as their text and address.
var panelTextParser = &format.HTMLParser{
	TabsToSpaces: 4, Newline: "\n", HorizontalLine: "\n",
	PillConverter:      format.DefaultPillConverter,
	BoldConverter:      func(s string, _ format.Context) string { return s },
	ItalicConverter:    func(s string, _ format.Context) string { return s },
	MonospaceConverter: func(s string, _ format.Context) string { return s },
}

// panelText turns the commands' Markdown into the text the panel shows.
func panelText(markdown []string) []string {
	out := make([]string, len(markdown))
	for i, md := range markdown {
		content := format.RenderMarkdown(md, true, false)
		text := content.Body
		if content.FormattedBody != "" {
			text = panelTextParser.Parse(content.FormattedBody, format.NewContext(context.Background()))
		}
		out[i] = strings.TrimSpace(text)
	}
	return out
}
