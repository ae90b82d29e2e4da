// Package panel is the agents' side panel: a Matrix room widget, served by
// the bridge, that shows a customer room's Stripe billing beside the
// conversation to the people allowed to see it.
package panel

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/commands"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/insights"
	"github.com/matrix-stripe/matrix-stripe/internal/ratelimit"
)

// Prefix is where the panel is served on the bridge's listener.
const Prefix = "/panel/v1/"

//go:embed assets
var assets embed.FS

// Options are what the panel needs from the bridge.
type Options struct {
	Config *config.Config
	DB     *database.Database
	// Billing is the account's Stripe reader, or nil for an unknown alias.
	Billing func(alias string) Billing
	// VerifyOpenID asks the homeserver whose user an OpenID token (from
	// the Widget API's get_openid) belongs to.
	VerifyOpenID func(ctx context.Context, accessToken string) (id.UserID, error)
	// Act runs a click through the command engine, as the signed-in agent.
	Act func(ctx context.Context, req *commands.PanelRequest) (*commands.PanelResult, error)
	// Messages reads a room's messages from the homeserver, oldest first,
	// at most limit (the dashboard's transcripts).
	Messages func(ctx context.Context, room id.RoomID, limit int) ([]*event.Event, error)
	// RoleIn is what a user may do in a room, as the commands see it.
	RoleIn func(ctx context.Context, room id.RoomID, user id.UserID) config.Role
	// ProcessID names this process in the live feed's notifications.
	ProcessID string
	Log       zerolog.Logger
}

// Server is the panel's HTTP side.
type Server struct {
	opts     Options
	log      zerolog.Logger
	static   fs.FS
	sessions sessionKeys
	// signIns bounds sign-in attempts per client address: each asks the
	// homeserver, or the database, on a stranger's behalf.
	signIns *ratelimit.Set
	feeds   feeds
}

// New builds the panel server. Mount it at Prefix.
func New(opts Options) *Server {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return &Server{opts: opts, log: opts.Log, static: static, sessions: newSessionKeys(opts.Config.AppService.ASToken),
		// An agent opens a few panels a minute; a burst covers a page of
		// rooms opened at once.
		signIns: ratelimit.New(rate.Every(2*time.Second), 10)}
}

// csp allows the panel's own files only; any page may frame it, as Element
// runs on whatever origin the deployment chose. The data it shows is
// fetched with a token only the framed page holds, never with ambient
// cookies, so framing gives a stranger nothing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors *"

var assetTypes = map[string]string{
	"panel.js":  "text/javascript; charset=utf-8",
	"panel.css": "text/css; charset=utf-8",
}

func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request) {
	if p := recover(); p != nil {
		s.log.Error().Any("panic", p).Str("path", r.URL.Path).Msg("Panel handler panicked")
		writeError(w, http.StatusInternalServerError, "unavailable", "The panel could not answer; try again.")
	}
}

func (s *Server) commonHeaders(w http.ResponseWriter) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
}

// customerRoom is the room's portal, or nil when it is not a customer
// room of this bridge (the request has been answered).
func (s *Server) customerRoom(w http.ResponseWriter, r *http.Request, room id.RoomID) *database.Portal {
	portal, err := s.opts.DB.Portal.GetByRoom(r.Context(), room)
	if err != nil {
		s.dbUnavailable(w, err)
		return nil
	} else if portal == nil {
		writeError(w, http.StatusNotFound, "not_a_customer_room", "This room is not a customer room of this bridge.")
	}
	return portal
}

func (s *Server) dbUnavailable(w http.ResponseWriter, err error) {
	s.log.Warn().Err(err).Msg("Failed to read the bridge's database for the panel")
	writeError(w, http.StatusServiceUnavailable, "unavailable", "The bridge's database could not be read; try again.")
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer s.recoverPanic(w, r)
	s.commonHeaders(w)
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
	switch {
	case path == "/" && r.Method == http.MethodGet:
		s.serveAsset(w, "index.html", "text/html; charset=utf-8", csp)
	case strings.HasPrefix(path, "/assets/") && r.Method == http.MethodGet:
		name := strings.TrimPrefix(path, "/assets/")
		if typ, ok := assetTypes[name]; ok {
			s.serveAsset(w, name, typ, csp)
			return
		}
		http.NotFound(w, r)
	case (path == "/session" || path == "/link") && r.Method == http.MethodPost && !s.signIns.Allow(ratelimit.ClientIP(r)):
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusTooManyRequests, "slow_down", "Too many sign-ins from here; wait a few seconds and try again.")
	case path == "/session" && r.Method == http.MethodPost:
		s.signIn(w, r)
	case path == "/link" && r.Method == http.MethodPost:
		s.useLink(w, r)
	case path == "/session" && r.Method == http.MethodGet:
		if sess := s.authenticate(w, r); sess != nil {
			writeJSON(w, http.StatusOK, s.sessionInfo(sess))
		}
	case strings.HasPrefix(path, "/rooms/"):
		s.serveRoom(w, r, strings.TrimPrefix(path, "/rooms/"))
	default:
		writeError(w, http.StatusNotFound, "not_found", "No such page.")
	}
}

// serveRoom answers /rooms/{room}/…: the summary, the live feed, actions.
func (s *Server) serveRoom(w http.ResponseWriter, r *http.Request, path string) {
	roomPart, rest, _ := strings.Cut(path, "/")
	room := id.RoomID(roomPart)
	var serve func(sess *session)
	switch {
	case rest == "summary" && r.Method == http.MethodGet:
		serve = func(sess *session) { s.serveSummary(w, r, sess, room) }
	case rest == "events" && r.Method == http.MethodGet:
		serve = func(sess *session) { s.serveFeed(w, r, sess, room) }
	case (rest == "actions" || strings.HasPrefix(rest, "actions/")) && r.Method == http.MethodPost && s.opts.Act != nil:
		serve = func(sess *session) {
			s.serveAction(w, r, sess, room, strings.TrimPrefix(strings.TrimPrefix(rest, "actions"), "/"))
		}
	default:
		writeError(w, http.StatusNotFound, "not_found", "No such page.")
		return
	}
	if sess := s.authenticate(w, r); sess != nil {
		serve(sess)
	}
}

func (s *Server) serveAsset(w http.ResponseWriter, name, typ, policy string) {
	data, err := fs.ReadFile(s.static, name)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "No such page.")
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Content-Security-Policy", policy)
	_, _ = w.Write(data)
}

// maxBody caps the sign-in request: a token and a server name.
const maxBody = 8 << 10

type signInRequest struct {
	AccessToken      string `json:"access_token"`
	MatrixServerName string `json:"matrix_server_name"`
}

// signIn turns an OpenID token into a panel session. Only agents and
// admins of this bridge get one; a customer, a stranger or a user of
// another homeserver gets a refusal that names no data.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	if !requireJSON(w, r, "token") {
		return
	}
	var req signInRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil || req.AccessToken == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "The sign-in request has no OpenID token.")
		return
	}
	if req.MatrixServerName != s.opts.Config.Homeserver.Domain {
		writeError(w, http.StatusForbidden, "for_support_staff", "This panel is for support staff.")
		return
	}
	userID, err := s.opts.VerifyOpenID(r.Context(), req.AccessToken)
	switch {
	case errors.Is(err, errTokenRefused):
		writeError(w, http.StatusUnauthorized, "signed_out", "The homeserver did not accept the sign-in; reopen the panel.")
		return
	case err != nil:
		s.log.Warn().Err(err).Msg("Failed to verify a panel sign-in with the homeserver")
		writeError(w, http.StatusServiceUnavailable, "unavailable", "The homeserver could not be asked who you are; try again.")
		return
	}
	if !s.allowed(userID) {
		s.log.Info().Str("user_id", userID.String()).Msg("Refused the panel to a user without an agent role")
		writeError(w, http.StatusForbidden, "for_support_staff", "This panel is for support staff.")
		return
	}
	s.startSession(w, r, userID, "")
}

// requireJSON refuses a sign-in body that is not JSON (what names it in the
// answer): a form post from another site cannot set this type without a
// CORS preflight, which the panel never answers.
func requireJSON(w http.ResponseWriter, r *http.Request, what string) bool {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "bad_request", "Send the "+what+" as JSON.")
		return false
	}
	return true
}

// startSession signs userID in: the session as a cookie for a tab, and as
// the token in the answer for Element's frame. room is the room a sign-in
// link was for ("" for none), for the log.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID id.UserID, room id.RoomID) {
	sess := newSession(userID)
	token, err := s.sessions.sign(sess)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "unavailable", "The panel could not sign you in; try again.")
		return
	}
	setSessionCookie(w, r, token, sess)
	log := s.log.Info().Str("user_id", userID.String())
	if room != "" {
		log = log.Str("room_id", room.String())
	}
	log.Msg("Panel session started")
	info := s.sessionInfo(sess)
	info.Token = token
	writeJSON(w, http.StatusOK, info)
}

// allowed: agents and admins of this bridge, never one of its own ghosts.
func (s *Server) allowed(userID id.UserID) bool {
	return s.opts.Config.Bridge.Permissions.Get(userID).AtLeast(config.RoleAgent) && !s.opts.Config.IsGhost(userID)
}

type sessionInfo struct {
	UserID    id.UserID `json:"user_id"`
	Role      string    `json:"role"`
	CSRFToken string    `json:"csrf_token"`
	// Token authenticates the widget's requests (Authorization: Bearer):
	// inside Element's frame the session cookie, SameSite=Strict, is not
	// sent.
	Token string `json:"token,omitempty"`
}

func (s *Server) sessionInfo(sess *session) sessionInfo {
	return sessionInfo{UserID: sess.UserID, Role: string(s.opts.Config.Bridge.Permissions.Get(sess.UserID)), CSRFToken: sess.CSRF}
}

// authenticate returns the request's session, or answers 401/403 and
// returns nil. The role is read again on every request, so taking a
// user's role away ends their sessions at once.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *session {
	sess, err := s.sessions.fromRequest(r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "signed_out", "Your sign-in has expired. Reopen the panel from the room in Element, or send panel in the management room for a link.")
		return nil
	}
	if !s.allowed(sess.UserID) {
		writeError(w, http.StatusForbidden, "for_support_staff", "This panel is for support staff.")
		return nil
	}
	return sess
}

func (s *Server) serveSummary(w http.ResponseWriter, r *http.Request, sess *session, room id.RoomID) {
	ctx := r.Context()
	portal := s.customerRoom(w, r, room)
	if portal == nil {
		return
	}
	var billing Billing
	if s.opts.Billing != nil {
		billing = s.opts.Billing(portal.AccountID)
	}
	acct := s.opts.Config.Account(portal.AccountID)
	if billing == nil || acct == nil {
		writeError(w, http.StatusNotFound, "not_a_customer_room", "This room's Stripe account is no longer configured.")
		return
	}
	summary, err := buildSummary(ctx, billing, acct, portal)
	if err == nil {
		summary.Conversation.WaitingSince = s.waitingSince(ctx, portal)
	}
	if err != nil {
		s.log.Warn().Err(err).Str("room_id", room.String()).Str("user_id", sess.UserID.String()).Msg("Failed to read a customer's billing for the panel")
		writeError(w, http.StatusBadGateway, "stripe_unavailable", "Stripe could not be read just now; try again in a moment.")
		return
	}
	writeJSON(w, http.StatusOK, summary)
}

// waitingSince reads the room's facts for how long the customer has waited
// (nil when nothing waits, or the facts cannot be read: the panel shows
// the rest).
func (s *Server) waitingSince(ctx context.Context, portal *database.Portal) *time.Time {
	facts, err := s.opts.DB.Fact.Room(ctx, portal.RoomID, 500)
	if err != nil {
		s.log.Warn().Err(err).Str("room_id", portal.RoomID.String()).Msg("Failed to read the room's conversation facts")
		return nil
	}
	if row := insights.Inbox(facts, time.Now(), s.opts.Config.Panel.ResponseTargetDuration())[portal.RoomID]; row != nil {
		return row.WaitingSince
	}
	return nil
}

type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Error: code, Message: message})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
