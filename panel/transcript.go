package panel

import (
	"bytes"
	"encoding/csv"
	"html/template"
	"net/http"
	"strings"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
)

// maxTranscript bounds how many room events a transcript reads.
const maxTranscript = 2000

type transcriptEntry struct {
	TS         time.Time `json:"ts"`
	Sender     id.UserID `json:"sender"`
	SenderName string    `json:"sender_name"`
	Role       string    `json:"role"`
	Kind       string    `json:"kind"`
	Body       string    `json:"body"`
}

type transcript struct {
	RoomID     id.RoomID         `json:"room_id"`
	Name       string            `json:"name"`
	Email      string            `json:"email"`
	CustomerID string            `json:"customer_id"`
	AccountID  string            `json:"account_id"`
	Entries    []transcriptEntry `json:"entries"`
}

// serveTranscript answers rooms/{room}/transcript and its exports
// (transcript.json, .csv, .html). The messages are the homeserver's: the
// bridge keeps no copy of what people write.
func (s *Server) serveTranscript(w http.ResponseWriter, r *http.Request, sess *session, path string) {
	roomPart, rest, _ := strings.Cut(path, "/")
	format, ok := map[string]string{"transcript": "", "transcript.json": "json", "transcript.csv": "csv", "transcript.html": "html"}[rest]
	if !ok || s.opts.Messages == nil {
		writeError(w, http.StatusNotFound, "not_found", "No such page.")
		return
	}
	room := id.RoomID(roomPart)
	portal := s.customerRoom(w, r, room)
	if portal == nil {
		return
	}
	t, err := s.buildTranscript(r, portal)
	if err != nil {
		s.log.Warn().Err(err).Str("room_id", room.String()).Msg("Failed to read a transcript from the homeserver")
		writeError(w, http.StatusBadGateway, "unavailable", "The homeserver could not be read just now; try again.")
		return
	}
	if format != "" {
		s.log.Info().Str("user_id", sess.UserID.String()).Str("room_id", room.String()).Str("format", format).Msg("Transcript exported")
		w.Header().Set("Content-Disposition", `attachment; filename="transcript-`+portal.CustomerID+`.`+format+`"`)
	}
	switch format {
	case "", "json":
		writeJSON(w, http.StatusOK, t)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write(transcriptCSV(t))
	case "html":
		w.Header().Set("Content-Disposition", `inline; filename="transcript-`+portal.CustomerID+`.html"`)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", dashboardCSP)
		var buf bytes.Buffer
		if err = printableTranscript.Execute(&buf, t); err != nil {
			writeError(w, http.StatusInternalServerError, "unavailable", "The transcript could not be drawn.")
			return
		}
		_, _ = w.Write(buf.Bytes())
	}
}

func (s *Server) buildTranscript(r *http.Request, portal *database.Portal) (*transcript, error) {
	ctx := r.Context()
	events, err := s.opts.Messages(ctx, portal.RoomID, maxTranscript)
	if err != nil {
		return nil, err
	}
	// The assistant's messages are the bot's; the facts tell them apart.
	assistant := map[id.EventID]bool{}
	if facts, err := s.opts.DB.Fact.Room(ctx, portal.RoomID, maxTranscript); err == nil {
		for _, f := range facts {
			if f.Kind == database.FactMessage && f.ActorRole == database.RoleAssistant {
				assistant[f.EventID] = true
			}
		}
	}
	t := &transcript{RoomID: portal.RoomID, Name: usertext.Clean(portal.Name), Email: usertext.Clean(portal.Email),
		CustomerID: portal.CustomerID, AccountID: portal.AccountID, Entries: []transcriptEntry{}}
	bot := s.opts.Config.BotMXID()
	for _, evt := range events {
		if evt.Type != event.EventMessage {
			continue
		}
		msg := evt.Content.AsMessage()
		if msg == nil || msg.Body == "" {
			continue
		}
		entry := transcriptEntry{TS: time.UnixMilli(evt.Timestamp).UTC(), Sender: evt.Sender, SenderName: evt.Sender.String(),
			Kind: "message", Body: usertext.Clean(msg.Body)}
		switch {
		case evt.Sender == bot || (s.opts.Config.IsGhost(evt.Sender) && s.opts.RoleIn(ctx, portal.RoomID, evt.Sender) == ""):
			entry.Role, entry.SenderName = database.RoleBot, "Billing bot"
			if assistant[evt.ID] {
				entry.Role, entry.SenderName = database.RoleAssistant, "Assistant"
			} else if billing, err := s.opts.DB.Message.GetByEventID(ctx, portal.RoomID, evt.ID); err == nil && billing != nil && billing.StripeEventID != "" {
				entry.Role, entry.Kind = "billing", "billing"
			}
		default:
			entry.Role = roleWord(s.opts.RoleIn(ctx, portal.RoomID, evt.Sender))
			if entry.Role == database.RoleCustomer {
				entry.SenderName = t.Name
			}
		}
		t.Entries = append(t.Entries, entry)
	}
	return t, nil
}

// transcriptCSV writes one row per entry. A cell a spreadsheet would run
// as a formula (=, +, -, @) starts with a quote instead.
func transcriptCSV(t *transcript) []byte {
	var buf bytes.Buffer
	out := csv.NewWriter(&buf)
	_ = out.Write([]string{"time", "sender", "sender_name", "role", "kind", "body"})
	for _, e := range t.Entries {
		_ = out.Write([]string{e.TS.Format(time.RFC3339), cell(e.Sender.String()), cell(e.SenderName), e.Role, e.Kind, cell(e.Body)})
	}
	out.Flush()
	return buf.Bytes()
}

func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

var printableTranscript = template.Must(template.New("transcript").Funcs(template.FuncMap{
	"when": func(t time.Time) string { return t.Format("2 Jan 2006 15:04 MST") },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Transcript — {{.Name}}</title>
<link rel="stylesheet" href="/dashboard/assets/dashboard.css"></head>
<body class="printable"><main>
<h1>Transcript — {{.Name}}</h1>
<p>{{.Email}} · {{.CustomerID}} · account {{.AccountID}} · {{len .Entries}} messages</p>
<table class="data"><thead><tr><th>Time</th><th>Who</th><th>Message</th></tr></thead><tbody>
{{range .Entries}}<tr class="entry {{.Kind}} role-{{.Role}}"><td>{{when .TS}}</td><td>{{.SenderName}} ({{.Role}})</td><td class="body">{{.Body}}</td></tr>
{{end}}</tbody></table>
</main></body></html>
`))
