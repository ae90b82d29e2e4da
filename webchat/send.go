package webchat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/ratelimit"
)

var txnIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

type sendRequest struct {
	TxnID string `json:"txn_id"`
	Body  string `json:"body"`
}

// send posts the customer's message into their room as their user. The
// widget's transaction id makes a retried request post once: the claim in
// the database answers a repeat with the first send's event, and the
// Matrix transaction id derived from it covers a repeat that races the
// first send.
func (s *Server) send(w http.ResponseWriter, r *http.Request, sess *session) {
	if !s.sessionLimit.Allow(sess.TokenHash) || !s.ipLimit.Allow(ratelimit.ClientIP(r)) {
		writeError(w, errRateLimited)
		return
	}
	var req sendRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !txnIDPattern.MatchString(req.TxnID) {
		writeError(w, errBadRequest)
		return
	}
	body := cleanBody(req.Body)
	switch {
	case body == "":
		writeError(w, errBadRequest)
		return
	case utf8.RuneCountInString(body) > maxMessageRunes:
		writeError(w, errTooLong)
		return
	}
	ctx := r.Context()
	log := s.log.With().Str("account", sess.AccountID).Str("customer_id", sess.CustomerID).Logger()
	first, sent, err := s.opts.DB.WebChat.ClaimSend(ctx, sess.AccountID, sess.CustomerID, req.TxnID, s.now())
	if err != nil {
		log.Err(err).Msg("Failed to claim a web chat send")
		writeError(w, errUnavailable)
		return
	}
	if !first && sent != "" {
		writeJSON(w, http.StatusOK, map[string]id.EventID{"id": sent})
		return
	}
	intent := s.intent(sess.user)
	if err = intent.EnsureJoined(ctx, sess.room); err != nil {
		log.Err(err).Msg("Failed to join the web chat user to its room")
		writeError(w, errUnavailable)
		return
	}
	// Customers cannot ping: @room in their text is only text.
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body, Mentions: &event.Mentions{}}
	raw := map[string]any{"msgtype": string(content.MsgType), "body": body}
	// The page's locale travels with the message: the assistant's hint
	// for a message too short to tell its language.
	if sess.Locale != "" {
		raw[LocaleKey] = sess.Locale
	}
	resp, err := intent.SendMessageEvent(ctx, sess.room, event.EventMessage, &event.Content{Parsed: content, Raw: raw},
		mautrix.ReqSendEvent{TransactionID: matrixTxnID(sess.AccountID, sess.CustomerID, req.TxnID)})
	if err != nil {
		log.Warn().Err(err).Msg("Failed to send a web chat message")
		writeError(w, errUnavailable)
		return
	}
	if err = s.opts.DB.WebChat.SetSendEvent(ctx, sess.AccountID, sess.CustomerID, req.TxnID, resp.EventID); err != nil {
		log.Warn().Err(err).Msg("Failed to record a web chat send")
	}
	// The bridge acts on it (commands, the assistant) and the widgets show
	// it now, whether or not the homeserver echoes the bridge's own users'
	// events back in a transaction; a second copy is deduplicated.
	evt := &event.Event{
		ID: resp.EventID, RoomID: sess.room, Sender: sess.user, Type: event.EventMessage, Timestamp: s.now().UnixMilli(),
		Content: event.Content{Parsed: content, Raw: raw},
	}
	if s.opts.OnCustomerMessage != nil {
		go s.opts.OnCustomerMessage(context.WithoutCancel(ctx), evt)
	}
	s.OnEvent(ctx, evt)
	writeJSON(w, http.StatusOK, map[string]id.EventID{"id": resp.EventID})
}

// LocaleKey is the message content field in which the web chat passes the
// customer's page locale (the token's locale claim); the assistant takes
// it as a language hint.
const LocaleKey = "com.github.matrix-stripe.locale"

func matrixTxnID(alias, customerID, txnID string) string {
	sum := sha256.Sum256([]byte(alias + "\x00" + customerID + "\x00" + txnID))
	return "mxswc_" + hex.EncodeToString(sum[:16])
}

// cleanBody keeps what a person typed, line breaks included, minus control
// characters and surrounding space.
func cleanBody(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || (r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0)) {
			return r
		}
		return -1
	}, s)
	return strings.TrimSpace(s)
}

type readRequest struct {
	ID id.EventID `json:"id"`
}

// markRead remembers how far the customer has read (for the unread badge
// on their next visit) and tells the room with a read receipt.
func (s *Server) markRead(w http.ResponseWriter, r *http.Request, sess *session) {
	var req readRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasPrefix(string(req.ID), "$") || len(req.ID) > 255 {
		writeError(w, errBadRequest)
		return
	}
	ctx := r.Context()
	if err := s.opts.DB.WebChat.SetReadUpTo(ctx, sess.AccountID, sess.CustomerID, req.ID); err != nil {
		s.log.Err(err).Msg("Failed to record web chat read marker")
		writeError(w, errUnavailable)
		return
	}
	receiptCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	go func() {
		defer cancel()
		// A receipt is a courtesy for agents; failing it changes nothing.
		_ = s.intent(sess.user).MarkRead(receiptCtx, sess.room, req.ID)
	}()
	w.WriteHeader(http.StatusNoContent)
}
