package panel

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/commands"
)

// csrfHeader carries the session's CSRF token on every action: a page
// elsewhere that makes the browser send the cookie cannot read the token,
// so it cannot act.
const csrfHeader = "X-CSRF-Token"

type actionRequest struct {
	RequestID string   `json:"request_id"`
	Command   string   `json:"command"`
	Args      []string `json:"args"`
}

// maxRequestID bounds the page's id for a click.
const maxRequestID = 64

// serveAction runs one click of the panel through the command engine:
// rest is "" (a command), or "<act_…>/confirm" or "<act_…>/cancel".
func (s *Server) serveAction(w http.ResponseWriter, r *http.Request, sess *session, room id.RoomID, rest string) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.CSRF)) != 1 {
		writeError(w, http.StatusForbidden, "csrf", "This request did not come from the panel; reload it and try again.")
		return
	}
	if !requireJSON(w, r, "action") {
		return
	}
	var req actionRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "The action could not be read.")
		return
	}
	if req.RequestID == "" || len(req.RequestID) > maxRequestID {
		writeError(w, http.StatusBadRequest, "bad_request", "The action has no request id.")
		return
	}
	cmd := &commands.PanelRequest{RoomID: room, Sender: sess.UserID, RequestID: req.RequestID, Command: req.Command, Args: req.Args}
	if rest != "" {
		actionID, step, _ := strings.Cut(rest, "/")
		switch step {
		case "confirm":
			cmd.Command = "confirm"
		case "cancel":
			cmd.Command = "cancel-action"
		default:
			writeError(w, http.StatusNotFound, "not_found", "No such page.")
			return
		}
		cmd.Args = []string{actionID}
	} else if req.Command == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "The action names no command.")
		return
	}
	if s.customerRoom(w, r, room) == nil {
		return
	}
	res, err := s.opts.Act(r.Context(), cmd)
	if err != nil {
		s.log.Warn().Err(err).Str("room_id", room.String()).Str("user_id", sess.UserID.String()).Msg("Panel action failed")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "That could not be done just now; nothing was changed. Try again.")
		return
	}
	s.log.Info().Str("room_id", room.String()).Str("user_id", sess.UserID.String()).Str("command", cmd.Command).
		Str("status", string(res.Status)).Msg("Panel action")
	if res.Status == commands.PanelDone {
		s.Changed(r.Context(), room)
	}
	writeJSON(w, http.StatusOK, res)
}
