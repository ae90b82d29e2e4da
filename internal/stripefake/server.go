package stripefake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// APIVersion is the Stripe API version whose shapes the fake speaks and
// stamps on events.
const APIVersion = "2023-10-16"

// maxBodyBytes caps request bodies; Stripe's own limit is far above what
// the bridge sends, this only guards the fake against runaway clients.
const maxBodyBytes = 1 << 20

// Options configures a Server. The zero value is usable: any sk_/rk_ key is
// accepted, the clock is time.Now and webhooks go nowhere.
type Options struct {
	// APIKeys are the secret keys accepted in `Authorization: Bearer`.
	// Empty means any key that starts with sk_ or rk_.
	APIKeys []string
	// Account is what GET /v1/account returns; Livemode is stamped on
	// every object.
	Account Account
	// Webhooks are endpoints that receive every event from the start.
	// More can be added with AddWebhookEndpoint or POST /v1/webhook_endpoints.
	Webhooks []WebhookEndpoint
	// ManualDelivery keeps events queued until DeliverPending is called,
	// for tests that want to decide when webhooks arrive.
	ManualDelivery bool
	// MaxDeliveryAttempts bounds retries of one event to one endpoint
	// (default 5). Stripe retries for days; a test should not.
	MaxDeliveryAttempts int
	// RetryBackoff is the wait before the first retry, doubled each time
	// up to 30 s (default 500 ms).
	RetryBackoff time.Duration
	// WebhookClient sends webhooks (default: a client with a 10 s timeout).
	WebhookClient *http.Client
	// EmitSeedEvents delivers the events recorded while loading a scenario
	// to webhook endpoints. They are always listed by GET /v1/events.
	EmitSeedEvents bool
	// Clock is the fake's notion of now (default time.Now). Webhook
	// signatures always use the real time, because receivers check them
	// against their own clock.
	Clock func() time.Time
	// Seed makes generated ids reproducible; 0 picks a random seed.
	Seed uint64
	// Logger receives request and delivery logs (default: discard).
	Logger *zerolog.Logger
}

// Account describes the Stripe account the fake pretends to be.
type Account struct {
	ID              string
	Name            string
	Email           string
	Country         string
	DefaultCurrency string
	Livemode        bool
}

func (a Account) withDefaults() Account {
	if a.ID == "" {
		a.ID = "acct_1FakeStripeAcct00"
	}
	if a.Name == "" {
		a.Name = "Fake Stripe Account"
	}
	if a.Country == "" {
		a.Country = "US"
	}
	if a.DefaultCurrency == "" {
		a.DefaultCurrency = "usd"
	}
	return a
}

// Server is the fake Stripe API. It is an http.Handler; Start or Serve
// put it on a socket of its own.
type Server struct {
	opts   Options
	log    zerolog.Logger
	router *router

	mu sync.Mutex // guards st
	st *state

	hooks *delivery

	lifeMu  sync.Mutex
	httpSrv *http.Server
	url     string
}

// New returns a Server with empty state (load a scenario to seed it).
func New(opts Options) *Server {
	log := zerolog.Nop()
	if opts.Logger != nil {
		log = opts.Logger.With().Str("component", "stripefake").Logger()
	}
	s := &Server{opts: opts, log: log}
	s.st = newState(opts, log)
	s.hooks = newDelivery(opts, log)
	s.st.hooks = s.hooks
	s.router = newRouter(
		accountRoutes(), customerRoutes(), paymentMethodRoutes(), catalogRoutes(),
		subscriptionRoutes(), invoiceRoutes(), paymentRoutes(), refundRoutes(),
		disputeRoutes(), balanceRoutes(), portalRoutes(), eventRoutes(),
		webhookEndpointRoutes(), controlRoutes(),
	)
	for _, w := range opts.Webhooks {
		s.st.addEndpoint(w, "")
	}
	return s
}

// Start listens on addr (for example "127.0.0.1:12111", or port 0 for any)
// and serves in the background until Close.
func (s *Server) Start(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := s.attach(l)
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("Serving the fake Stripe API failed")
		}
	}()
	return nil
}

// Serve answers requests on l until Close. It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	if err := s.attach(l).Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// attach records the listener before serving starts, so URL and Close
// work as soon as Start returns.
func (s *Server) attach(l net.Listener) *http.Server {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.lifeMu.Lock()
	s.httpSrv = srv
	s.url = "http://" + l.Addr().String()
	s.lifeMu.Unlock()
	return srv
}

// URL is the base URL once Start or Serve has been called.
func (s *Server) URL() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.url
}

// Close stops listening (if Start or Serve was used) and stops webhook
// delivery; events still queued are dropped.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	srv := s.httpSrv
	s.lifeMu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
	}
	s.hooks.close()
	return err
}

// NewClient returns a stripe-go client for a fake at baseURL. Retries are
// off so tests see every error, and stripe-go's own logging is silenced.
func NewClient(baseURL, apiKey string) *client.API {
	cfg := func() *stripe.BackendConfig {
		return &stripe.BackendConfig{
			URL:               stripe.String(baseURL),
			MaxNetworkRetries: stripe.Int64(0),
			LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
		}
	}
	return client.New(apiKey, &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg()),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg()),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg()),
	})
}

// Client returns a stripe-go client for this server (Start first) using
// the first accepted API key.
func (s *Server) Client() *client.API { return NewClient(s.URL(), s.APIKey()) }

// APIKey is a key the server accepts.
func (s *Server) APIKey() string {
	if len(s.opts.APIKeys) > 0 {
		return s.opts.APIKeys[0]
	}
	return "sk_test_fake"
}

// ServeHTTP answers one Stripe API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := "req_" + randomToken(14)
	res := s.serve(r, reqID)

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", reqID)
	h.Set("Stripe-Version", APIVersion)
	if res.replayOf != "" {
		h.Set("Idempotent-Replayed", "true")
		h.Set("Original-Request", res.replayOf)
	}
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body)
	s.log.Debug().
		Str("method", r.Method).
		Str("path", r.URL.Path).
		Int("status", res.status).
		Str("request_id", reqID).
		Dur("duration", time.Since(start)).
		Msg("Served Stripe request")
}

type response struct {
	status   int
	body     []byte
	replayOf string
}

func errorResponse(e *Error) response {
	body, _ := json.Marshal(errorBody(e))
	return response{status: e.Status, body: body}
}

func (s *Server) serve(r *http.Request, reqID string) (res response) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().
				Any("panic", p).
				Str("request_id", reqID).
				Str("stack", string(debug.Stack())).
				Msg("Handler panicked")
			res = errorResponse(errInternal())
		}
	}()
	if e := s.authenticate(r); e != nil {
		return errorResponse(e)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err != nil {
		return errorResponse(errInvalidParam("", "Could not read the request body: %v", err))
	}
	formBody := ""
	// A scenario upload is YAML whatever curl says its content type is.
	if ct := r.Header.Get("Content-Type"); r.URL.Path != "/_fake/scenario" &&
		(ct == "" || strings.HasPrefix(ct, "application/x-www-form-urlencoded")) {
		formBody = string(body)
	}
	root, err := parseForm(r.URL.RawQuery, formBody)
	if err != nil {
		return errorResponse(errInvalidParam("", "%s", err.Error()))
	}
	h, vars, ok := s.router.match(r.Method, r.URL.Path)
	if !ok {
		return errorResponse(errUnknownRoute(r.Method, r.URL.Path))
	}
	c := &call{p: newParams(root), vars: vars, path: r.URL.Path, method: r.Method, body: body}
	idemKey := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if r.Method == http.MethodGet {
		idemKey = ""
	}
	return s.dispatch(h, c, reqID, idemKey, r.URL.RawQuery+"&"+formBody)
}

func (s *Server) dispatch(h handler, c *call, reqID, idemKey, rawParams string) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	if idemKey != "" {
		if res, done := st.idem.replay(idemKey, c.method, c.path, rawParams); done {
			return res
		}
	}
	st.req = &reqInfo{id: reqID, idempotencyKey: idemKey}
	defer func() { st.req = nil }()

	res := st.run(h, c)
	if idemKey != "" && res.status < 500 {
		st.idem.store(idemKey, c.method, c.path, rawParams, reqID, res, time.Now())
	}
	return res
}

// run calls a handler and applies expand[] to what it returns.
func (st *state) run(h handler, c *call) response {
	expand := c.p.strs("expand")
	if e := c.p.check(); e != nil {
		return errorResponse(e)
	}
	out, e := h(st, c)
	if e != nil {
		return errorResponse(e)
	}
	if o, ok := out.(obj); ok && len(expand) > 0 {
		if e := st.expand(o, expand); e != nil {
			return errorResponse(e)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return errorResponse(errInternal())
	}
	return response{status: http.StatusOK, body: body}
}

func (s *Server) authenticate(r *http.Request) *Error {
	key := ""
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "Bearer "):
		key = strings.TrimSpace(strings.TrimPrefix(auth, "Bearer "))
	case strings.HasPrefix(auth, "Basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		if err == nil {
			key, _, _ = strings.Cut(string(raw), ":")
		}
	}
	if key == "" {
		return errAuth("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.")
	}
	if s.keyAccepted(key) {
		return nil
	}
	return errAuth("Invalid API Key provided: " + redactKey(key))
}

func (s *Server) keyAccepted(key string) bool {
	if len(s.opts.APIKeys) == 0 {
		return strings.HasPrefix(key, "sk_") || strings.HasPrefix(key, "rk_")
	}
	for _, k := range s.opts.APIKeys {
		if k == key {
			return true
		}
	}
	return false
}

// redactKey shows a key the way Stripe's 401 does, never in full.
func redactKey(key string) string {
	if len(key) <= 12 {
		return strings.Repeat("*", len(key))
	}
	prefix := key[:strings.LastIndexByte(key[:8], '_')+1]
	return prefix + strings.Repeat("*", 4) + key[len(key)-4:]
}

// randomToken is for values that need not be reproducible (request ids,
// signing secrets), so it does not consume the seeded id generator.
func randomToken(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = idAlphabet[rand.IntN(len(idAlphabet))]
	}
	return string(b)
}
