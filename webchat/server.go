package webchat

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"golang.org/x/time/rate"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/ratelimit"
	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
)

// Prefix is where the web chat is served on the bridge's listener.
const Prefix = "/webchat/v1/"

// Options are what the web chat needs from the bridge.
type Options struct {
	Config *config.Config
	DB     *database.Database
	// AS makes the intents of the users customers speak as; Bot reads the
	// customer rooms (it is in every one).
	AS *appservice.AppService
	// BindIntent readies a customer's intent for encrypted rooms (the
	// bridge's encryption device, or a refusal to send there); nil: none.
	BindIntent func(*appservice.IntentAPI) *appservice.IntentAPI
	Bot        *appservice.IntentAPI
	// Customer looks a customer up in the account's Stripe; nil and no
	// error: there is no such (live) customer.
	Customer func(ctx context.Context, alias, customerID string) (*stripe.Customer, error)
	// Room returns the customer's room, creating it if needed.
	Room func(ctx context.Context, alias, customerID string, cus *stripe.Customer) (id.RoomID, error)
	// OnCustomerMessage hands a message the widget sent to the bridge's
	// Matrix handling (commands, the assistant), as if the homeserver had
	// delivered it; the bridge acts on each event once.
	OnCustomerMessage func(ctx context.Context, evt *event.Event)
	// ProcessID names this process in cross-process notifications.
	ProcessID string
	Log       zerolog.Logger
	// Observer hears about sign-ins and live streams (metrics); nil: no one.
	Observer Observer
}

// Server is the web chat's HTTP side and its live fan-out.
type Server struct {
	opts   Options
	log    zerolog.Logger
	static fs.FS
	hub    *hub
	now    func() time.Time

	avatars      avatarCache
	sessionLimit *ratelimit.Set // sends per session
	ipLimit      *ratelimit.Set // sends and sign-ins per client address
}

// maxBody caps every request body: a chat message is at most
// maxMessageRunes, and nothing else the widget sends is bigger.
const (
	maxBody         = 64 << 10
	maxMessageRunes = 4000
)

// New builds the web chat server. Mount it at Prefix.
func New(opts Options) *Server {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	s := &Server{
		opts: opts, log: opts.Log, static: static, now: time.Now,
		// A person types a few messages a minute; a burst covers pasting
		// a few lines at once.
		sessionLimit: ratelimit.New(rate.Every(3*time.Second), 5),
		ipLimit:      ratelimit.New(rate.Every(time.Second), 20),
	}
	s.hub = newHub(s)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		// A handler's panic must not take the listener down, nor leave the
		// widget without an answer.
		if p := recover(); p != nil {
			s.log.Error().Any("panic", p).Str("path", r.URL.Path).Msg("Web chat handler panicked")
			writeError(w, errUnavailable)
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
	switch {
	case strings.HasPrefix(path, "/api/"):
		s.serveAPI(w, r, strings.TrimPrefix(path, "/api/"))
	case path == "/frame":
		s.serveFrame(w, r)
	case path == "/avatar" && r.Method == http.MethodGet:
		s.serveAvatar(w, r)
	default:
		s.serveAsset(w, r, strings.TrimPrefix(path, "/"))
	}
}

// assetTypes are the files the widget is made of; nothing else in the
// embedded tree is served.
var assetTypes = map[string]string{
	"embed.js": "text/javascript; charset=utf-8",
	"chat.js":  "text/javascript; charset=utf-8",
	"i18n.js":  "text/javascript; charset=utf-8",
	"chat.css": "text/css; charset=utf-8",
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	ctype, ok := assetTypes[name]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(s.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	// Short: merchants pick up a new widget within minutes of an upgrade.
	w.Header().Set("Cache-Control", "public, max-age=300")
	if name == "embed.js" {
		// Host pages of any origin load it with <script>; it is public.
		w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	_, _ = w.Write(data)
}

// serveFrame is the page inside the iframe. Only the account's allowed
// origins may frame it, and it runs no inline script.
func (s *Server) serveFrame(w http.ResponseWriter, r *http.Request) {
	acct := s.opts.Config.WebChatAccount(r.URL.Query().Get("account"))
	if acct == nil {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(s.static, "frame.html")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
		"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors "+strings.Join(acct.AllowedOrigins, " "))
	_, _ = w.Write(data)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, call string) {
	if !s.cors(w, r) {
		writeError(w, errOrigin)
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	switch {
	case call == "session" && r.Method == http.MethodPost:
		s.createSession(w, r)
	case call == "history" && r.Method == http.MethodGet:
		s.withSession(w, r, s.history)
	case call == "stream" && r.Method == http.MethodGet:
		s.withSession(w, r, s.stream)
	case call == "messages" && r.Method == http.MethodPost:
		s.withSession(w, r, s.send)
	case call == "read" && r.Method == http.MethodPost:
		s.withSession(w, r, s.markRead)
	default:
		writeError(w, &apiError{http.StatusNotFound, "not_found", "No such chat call."})
	}
}

// cors lets the accounts' allowed origins call the API (merchants may build
// their own chat on it); the iframe is same-origin and needs none of it. It
// reports false for a cross-origin request from anywhere else.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || sameOrigin(r, origin) {
		return true
	}
	allowed := false
	for alias := range s.opts.Config.WebChat.Accounts {
		if acct := s.opts.Config.WebChatAccount(alias); acct != nil && acct.AllowsOrigin(origin) {
			allowed = true
		}
	}
	if !allowed {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
	h.Set("Access-Control-Max-Age", "600")
	return true
}

func sameOrigin(r *http.Request, origin string) bool {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return origin == scheme+"://"+r.Host
}

type sessionRequest struct {
	Account string `json:"account"`
	Token   string `json:"token"`
}

type sessionResponse struct {
	Session     string    `json:"session"`
	ExpiresAt   int64     `json:"expires_at"`
	Customer    nameOnly  `json:"customer"`
	Title       string    `json:"title"`
	Greeting    string    `json:"greeting"`
	AccentColor string    `json:"accent_color,omitempty"`
	Locale      string    `json:"locale,omitempty"`
	User        id.UserID `json:"-"`
}

type nameOnly struct {
	Name string `json:"name"`
}

// createSession trades the merchant's token for a session: the customer is
// checked in Stripe, their room made if needed, and the user they speak as
// joined to it under their name.
func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	if !s.ipLimit.Allow(ratelimit.ClientIP(r)) {
		s.refuse(w, errRateLimited)
		return
	}
	var req sessionRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Account == "" || req.Token == "" {
		s.refuse(w, errBadRequest)
		return
	}
	acct := s.opts.Config.WebChatAccount(req.Account)
	if acct == nil {
		s.refuse(w, errDisabled)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(r, origin) && !acct.AllowsOrigin(origin) {
		s.refuse(w, errOrigin)
		return
	}
	ctx := r.Context()
	log := s.log.With().Str("account", req.Account).Logger()
	claims, err := verifyToken(req.Token, req.Account, []byte(acct.IdentitySecret), s.now())
	if err != nil {
		var apiErr *apiError
		errors.As(err, &apiErr)
		log.Info().Str("reason", apiErr.code).Msg("Refused a web chat sign-in")
		s.refuse(w, err)
		return
	}
	log = log.With().Str("customer_id", claims.Subject).Logger()
	cus, err := s.opts.Customer(ctx, req.Account, claims.Subject)
	if err != nil {
		log.Warn().Err(err).Msg("Failed to look up the web chat customer in Stripe")
		s.refuse(w, errUnavailable)
		return
	}
	if cus == nil || cus.Deleted {
		log.Info().Str("reason", errUnknownCustomer.code).Msg("Refused a web chat sign-in")
		s.refuse(w, errUnknownCustomer)
		return
	}
	name := usertext.Clean(firstNonEmpty(cus.Name, claims.Name, cus.Email, claims.Email, "Customer"))
	room, err := s.opts.Room(ctx, req.Account, cus.ID, cus)
	if err != nil {
		log.Err(err).Msg("Failed to open the web chat customer's room")
		s.refuse(w, errUnavailable)
		return
	}
	if _, err = s.joinGhost(ctx, req.Account, cus.ID, name, room); err != nil {
		log.Err(err).Msg("Failed to join the web chat customer's user to their room")
		s.refuse(w, errUnavailable)
		return
	}
	token, hash := newSessionToken()
	now := s.now()
	sess := &database.WebChatSession{
		TokenHash: hash, AccountID: req.Account, CustomerID: cus.ID, DisplayName: name,
		Locale: cleanLocale(claims.Locale), CreatedAt: now, ExpiresAt: now.Add(s.opts.Config.WebChat.SessionDuration()),
	}
	if err = s.opts.DB.WebChat.CreateSession(ctx, sess); err != nil {
		log.Err(err).Msg("Failed to store a web chat session")
		s.refuse(w, errUnavailable)
		return
	}
	log.Info().Msg("Web chat session started")
	if s.opts.Observer != nil {
		s.opts.Observer.WebChatSession(req.Account)
	}
	writeJSON(w, http.StatusOK, &sessionResponse{
		Session: token, ExpiresAt: sess.ExpiresAt.Unix(), Customer: nameOnly{name},
		Title: acct.Title, Greeting: acct.Greeting, AccentColor: acct.AccentColor, Locale: sess.Locale,
	})
}

// session is a request's signed-in customer and their room.
type session struct {
	*database.WebChatSession
	room id.RoomID
	user id.UserID
	// linked is the Matrix user linked to the customer ("" if none): their
	// messages are the customer's too.
	linked id.UserID
}

func (s *Server) withSession(w http.ResponseWriter, r *http.Request, handler func(http.ResponseWriter, *http.Request, *session)) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		writeError(w, errSessionEnded)
		return
	}
	sess, err := s.lookupSession(r.Context(), token)
	if err != nil {
		s.log.Err(err).Msg("Failed to look up a web chat session")
		writeError(w, errUnavailable)
		return
	}
	if sess == nil {
		writeError(w, errSessionEnded)
		return
	}
	handler(w, r, sess)
}

func (s *Server) lookupSession(ctx context.Context, token string) (*session, error) {
	row, err := s.opts.DB.WebChat.Session(ctx, hashToken(token), s.now())
	if err != nil || row == nil {
		return nil, err
	}
	if s.opts.Config.WebChatAccount(row.AccountID) == nil {
		return nil, nil
	}
	portal, err := s.opts.DB.Portal.Get(ctx, row.AccountID, row.CustomerID)
	if err != nil || portal == nil || portal.RoomID == "" {
		return nil, err
	}
	user, err := s.opts.DB.WebChat.Ghost(ctx, row.AccountID, row.CustomerID)
	if err != nil || user == "" {
		return nil, err
	}
	return &session{WebChatSession: row, room: portal.RoomID, user: user, linked: portal.MatrixUserID}, nil
}

// newSessionToken is 256 random bits; only its hash is stored.
func newSessionToken() (token, hash string) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	token = "wcs_" + base64.RawURLEncoding.EncodeToString(raw[:])
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, err error) {
	var apiErr *apiError
	if !errors.As(err, &apiErr) {
		apiErr = errUnavailable
	}
	writeJSON(w, apiErr.status, map[string]string{"error": apiErr.code, "message": apiErr.message})
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// cleanLocale keeps a BCP 47-looking tag ("de", "pt-BR") and drops anything
// else: it ends up in the widget's page.
func cleanLocale(tag string) string {
	if len(tag) > 16 {
		return ""
	}
	for _, r := range tag {
		if !(r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return ""
		}
	}
	return tag
}

// intent is the customer's user, ready for the room's encryption.
func (s *Server) intent(user id.UserID) *appservice.IntentAPI {
	intent := s.opts.AS.Intent(user)
	if s.opts.BindIntent != nil {
		intent = s.opts.BindIntent(intent)
	}
	return intent
}
