package panel

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"maunium.net/go/mautrix/id"
)

// linkLifetime bounds how long a sign-in link sent in the management room
// stays usable (once).
const linkLifetime = 10 * time.Minute

// ErrNotStaff: only agents and admins get a sign-in link.
var ErrNotStaff = errors.New("the panel is for support staff")

// IssueLink makes a one-time, 10-minute link that opens the panel for room
// in a browser tab, signed in as userID. The token is in the URL's
// fragment: browsers never send it to a server, so it reaches neither a
// proxy's access log nor a URL previewer, and only the page itself (its
// script) can use it.
func (s *Server) IssueLink(ctx context.Context, userID id.UserID, room id.RoomID) (string, error) {
	token, err := s.newLink(ctx, userID, room)
	if err != nil {
		return "", err
	}
	return s.opts.Config.Panel.WidgetURL() + "?room=" + url.QueryEscape(room.String()) + "#link=" + token, nil
}

// IssueDashboardLink is IssueLink for the support dashboard.
func (s *Server) IssueDashboardLink(ctx context.Context, userID id.UserID) (string, error) {
	token, err := s.newLink(ctx, userID, "")
	if err != nil {
		return "", err
	}
	return s.opts.Config.Panel.DashboardURL() + "#link=" + token, nil
}

func (s *Server) newLink(ctx context.Context, userID id.UserID, room id.RoomID) (string, error) {
	if !s.allowed(userID) {
		return "", ErrNotStaff
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(buf)
	if err := s.opts.DB.PanelLink.Insert(ctx, linkHash(token), userID, room, time.Now().Add(linkLifetime)); err != nil {
		return "", fmt.Errorf("store the sign-in link: %w", err)
	}
	return token, nil
}

func linkHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// useLink trades a link's token for a session, once: the page posts it as
// soon as it loads.
func (s *Server) useLink(w http.ResponseWriter, r *http.Request) {
	if !requireJSON(w, r, "link's token") {
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil || req.Token == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "The request has no sign-in link.")
		return
	}
	userID, room, ok, err := s.opts.DB.PanelLink.Use(r.Context(), linkHash(req.Token), time.Now())
	switch {
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "unavailable", "The bridge's database could not be read; try again.")
		return
	case !ok:
		writeError(w, http.StatusUnauthorized, "link_used", "This sign-in link was used already or has expired. Send panel in the management room for a new one.")
		return
	case !s.allowed(userID):
		writeError(w, http.StatusForbidden, "for_support_staff", "This panel is for support staff.")
		return
	}
	s.startSession(w, r, userID, room)
}
