// Package metrics is the bridge's Prometheus instrumentation: it owns one
// registry per bridge process, defines every matrix_stripe_ series on it,
// and serves it at /metrics on a listener of its own.
//
// A nil *Metrics is valid and records nothing, so the rest of the bridge
// calls it unconditionally whether metrics are enabled or not. Labels are
// kept to bounded sets (account aliases from the config, HTTP codes,
// command and intent names, fixed outcomes); a customer, room, event or
// Stripe object id is never a label value.
package metrics

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

const namespace = "matrix_stripe"

// UnknownAccount is the account label of a request whose account is not
// configured: the path is chosen by whoever sends the request, so it must
// not become a label value.
const UnknownAccount = "unknown"

// InboxQueryTimeout bounds the inbox query of one scrape: a slow database
// must not hold up Prometheus (whose own timeout is usually 10 s) nor pile
// up queries.
const InboxQueryTimeout = 2 * time.Second

// InboxCount is the number of inbox events of one account in one state.
type InboxCount struct {
	Account string
	State   string
	Count   int64
	// Oldest is when the oldest of them arrived.
	Oldest time.Time
}

// inboxStates are the inbox states the depth gauge reports: the ones that
// are still waiting for something. Delivered and skipped events are kept
// for ever; counting them would make every scrape scan the whole history.
func inboxStates() []string { return []string{"pending", "unresolved", "failed"} }

// Delivery outcomes, the outcome label of delivery attempts.
const (
	DeliveryDelivered = "delivered"
	DeliverySkipped   = "skipped"
	DeliveryRetry     = "retry"
	DeliveryFailed    = "failed"
	DeliveryTakenOver = "taken_over"
)

func deliveryOutcomes() []string {
	return []string{DeliveryDelivered, DeliverySkipped, DeliveryRetry, DeliveryFailed, DeliveryTakenOver}
}

// Ready components, the component label of the ready gauge.
const (
	ComponentStarted    = "started"
	ComponentDatabase   = "database"
	ComponentHomeserver = "homeserver"
)

// Options configure the registry.
type Options struct {
	// Version of the bridge, for matrix_stripe_build_info.
	Version string
	// Accounts are the configured account aliases. Their series start at
	// zero, so rate() and alerts see them before the first event.
	Accounts []string
	// Inbox counts the inbox's waiting events on every scrape (bounded by
	// InboxQueryTimeout); nil leaves the inbox series out.
	Inbox func(ctx context.Context) ([]InboxCount, error)
	// DB is the bridge's connection pool, for go_sql_* pool statistics;
	// nil leaves them out.
	DB  *sql.DB
	Log zerolog.Logger
}

// Metrics is the bridge's registry and its series.
type Metrics struct {
	registry *prometheus.Registry
	accounts []string
	log      zerolog.Logger

	webhookRequests  *prometheus.CounterVec
	deliveryLatency  *prometheus.HistogramVec
	deliveryAttempts *prometheus.CounterVec
	deliveryFailures *prometheus.CounterVec
	catchupEvents    *prometheus.CounterVec
	catchupLast      *prometheus.GaugeVec
	commands         *prometheus.CounterVec
	assistantAnswers *prometheus.CounterVec
	assistantHandoff *prometheus.CounterVec
	stripeDuration   *prometheus.HistogramVec
	stripeErrors     *prometheus.CounterVec
	webchatSessions  *prometheus.CounterVec
	webchatRefusals  *prometheus.CounterVec
	webchatStreams   *prometheus.GaugeVec
	webchatOpened    *prometheus.CounterVec
	ready            *prometheus.GaugeVec
	cryptoHeld       prometheus.Gauge
	cryptoHandedOver *prometheus.CounterVec
	undecryptable    prometheus.Counter
}

// deliveryBuckets span a message posted within the hold window (seconds)
// to one that waited out a homeserver outage (an hour); Stripe's created
// has whole seconds, so the lowest buckets mostly see events from the
// same second.
func deliveryBuckets() []float64 {
	return []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600}
}

// stripeBuckets span one Stripe API call: tens of milliseconds usually,
// up to stripe-go's 80 s client timeout.
func stripeBuckets() []float64 { return []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 80} }

// New builds the registry with every series, the Go runtime and process
// collectors, and the inbox collector. It does no I/O.
func New(opts Options) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{registry: reg, accounts: slices.Clone(opts.Accounts), log: opts.Log}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
		reg.MustRegister(h)
		return h
	}

	m.webhookRequests = counter("webhook_requests_total",
		"Stripe webhook requests answered, by account and HTTP status code.", "account", "code")
	m.deliveryLatency = histogram("delivery_latency_seconds",
		"Time from a Stripe event's created to its message being posted in Matrix.", deliveryBuckets(), "account")
	m.deliveryAttempts = counter("delivery_attempts_total",
		"Delivery attempts of inbox events, by account and outcome (delivered, skipped, retry, failed, taken_over).", "account", "outcome")
	m.deliveryFailures = counter("delivery_failures_total",
		"Delivery attempts that failed, by account and kind (transient: retried later; permanent: the event is marked failed).", "account", "kind")
	m.catchupEvents = counter("catchup_events_total",
		"Events the Events API catch-up found, by account and result (listed, not_selected, queued).", "account", "result")
	m.catchupLast = gauge("catchup_last_success_timestamp_seconds",
		"When the catch-up of the account last finished (Unix time).", "account")
	m.commands = counter("commands_total",
		"Bot commands run, by command name and outcome.", "command", "outcome")
	m.assistantAnswers = counter("assistant_answers_total",
		"Assistant replies in customer rooms, by intent and language (handoffs included).", "intent", "lang")
	m.assistantHandoff = counter("assistant_handoffs_total",
		"Assistant handoffs to an agent, by language and reason (asked, unsure, error).", "lang", "reason")
	m.stripeDuration = histogram("stripe_request_duration_seconds",
		"Stripe API requests (each retry is one), by account, method and endpoint (ids replaced by {id}).", stripeBuckets(),
		"account", "method", "endpoint")
	m.stripeErrors = counter("stripe_request_errors_total",
		"Stripe API requests that failed, by account, method, endpoint and code (the HTTP status, or network).",
		"account", "method", "endpoint", "code")
	m.webchatSessions = counter("webchat_sessions_started_total",
		"Web chat sessions started (a merchant token exchanged for a session), by account.", "account")
	m.webchatRefusals = counter("webchat_sign_in_refusals_total",
		"Web chat sign-ins refused, by reason (the API's error code).", "reason")
	m.webchatStreams = gauge("webchat_streams_open",
		"Web chat live streams (Server-Sent Events) open on this process, by account.", "account")
	m.webchatOpened = counter("webchat_streams_opened_total",
		"Web chat live streams opened on this process, by account.", "account")
	m.ready = gauge("ready",
		"Whether the bridge is ready, by component (started, database, homeserver): 1 ready, 0 not.", "component")

	m.cryptoHeld = gauge("encryption_device_held",
		"1 while this process holds the encryption device, 0 otherwise.").WithLabelValues()
	m.cryptoHandedOver = counter("encryption_handed_over_total",
		"Encrypted work this process, without the encryption device, handed to the one with it, by kind.", "kind")
	m.undecryptable = counter("encryption_undecryptable_total",
		"Encrypted messages whose keys never reached the encryption device.").WithLabelValues()

	build := gauge("build_info", "The running bridge's version; always 1.", "version")
	build.WithLabelValues(opts.Version).Set(1)

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.DB != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(opts.DB, "matrix_stripe"))
	}
	if opts.Inbox != nil {
		reg.MustRegister(newInboxCollector(opts.Inbox, m.accounts, opts.Log))
	}

	for _, acct := range m.accounts {
		for _, outcome := range deliveryOutcomes() {
			m.deliveryAttempts.WithLabelValues(acct, outcome)
		}
		for _, kind := range []string{"transient", "permanent"} {
			m.deliveryFailures.WithLabelValues(acct, kind)
		}
		for _, result := range []string{"listed", "not_selected", "queued"} {
			m.catchupEvents.WithLabelValues(acct, result)
		}
	}
	for _, c := range []string{ComponentStarted, ComponentDatabase, ComponentHomeserver} {
		m.ready.WithLabelValues(c)
	}
	for _, kind := range []string{"event", "to_device", "device_lists", "otk_count"} {
		m.cryptoHandedOver.WithLabelValues(kind)
	}
	return m
}

// Registry is the registry the metrics are on (for tests and extra
// collectors).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// account maps an alias to itself if it is configured, and to
// UnknownAccount otherwise.
func (m *Metrics) account(alias string) string {
	if slices.Contains(m.accounts, alias) {
		return alias
	}
	return UnknownAccount
}

// Webhook counts one webhook answer.
func (m *Metrics) Webhook(alias string, status int) {
	if m == nil {
		return
	}
	m.webhookRequests.WithLabelValues(m.account(alias), strconv.Itoa(status)).Inc()
}

// DeliveryAttempt counts one delivery attempt's outcome (Delivery*).
func (m *Metrics) DeliveryAttempt(alias, outcome string) {
	if m == nil {
		return
	}
	acct := m.account(alias)
	m.deliveryAttempts.WithLabelValues(acct, outcome).Inc()
	switch outcome {
	case DeliveryRetry:
		m.deliveryFailures.WithLabelValues(acct, "transient").Inc()
	case DeliveryFailed:
		m.deliveryFailures.WithLabelValues(acct, "permanent").Inc()
	}
}

// Delivered records how long an event took from Stripe's created to its
// post in Matrix. A created in the future (clock skew) counts as zero.
func (m *Metrics) Delivered(alias string, created, posted time.Time) {
	if m == nil {
		return
	}
	m.deliveryLatency.WithLabelValues(m.account(alias)).Observe(max(posted.Sub(created).Seconds(), 0))
}

// CatchUp records one finished catch-up of an account: how many events
// Stripe listed, how many were of types the account does not select, and
// how many were new to the inbox.
func (m *Metrics) CatchUp(alias string, listed, notSelected, queued int) {
	if m == nil {
		return
	}
	acct := m.account(alias)
	m.catchupEvents.WithLabelValues(acct, "listed").Add(float64(listed))
	m.catchupEvents.WithLabelValues(acct, "not_selected").Add(float64(notSelected))
	m.catchupEvents.WithLabelValues(acct, "queued").Add(float64(queued))
	m.catchupLast.WithLabelValues(acct).SetToCurrentTime()
}

// Command counts one command run. The caller passes a registered command
// name (or "unknown") and one of its fixed outcomes.
func (m *Metrics) Command(command, outcome string) {
	if m == nil {
		return
	}
	m.commands.WithLabelValues(command, outcome).Inc()
}

// AssistantAnswer counts one assistant reply; intent and lang come from
// the assistant's fixed lists.
func (m *Metrics) AssistantAnswer(intent, lang string) {
	if m == nil {
		return
	}
	m.assistantAnswers.WithLabelValues(intent, lang).Inc()
}

// AssistantHandoff counts one handoff to an agent.
func (m *Metrics) AssistantHandoff(lang, reason string) {
	if m == nil {
		return
	}
	m.assistantHandoff.WithLabelValues(lang, reason).Inc()
}

// StripeRequest records one HTTP request to Stripe; endpoint is already
// normalised (no ids). status is 0 when no response came (err says why).
func (m *Metrics) StripeRequest(alias, method, endpoint string, status int, took time.Duration, err error) {
	if m == nil {
		return
	}
	acct := m.account(alias)
	m.stripeDuration.WithLabelValues(acct, method, endpoint).Observe(took.Seconds())
	code := ""
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		code = "canceled"
	case err != nil:
		code = "network"
	case status >= 400:
		code = strconv.Itoa(status)
	}
	if code != "" {
		m.stripeErrors.WithLabelValues(acct, method, endpoint, code).Inc()
	}
}

// WebChatSession counts a web chat session started.
func (m *Metrics) WebChatSession(alias string) {
	if m == nil {
		return
	}
	m.webchatSessions.WithLabelValues(m.account(alias)).Inc()
}

// WebChatRefusal counts a refused web chat sign-in; reason is one of the
// web chat API's fixed error codes.
func (m *Metrics) WebChatRefusal(reason string) {
	if m == nil {
		return
	}
	m.webchatRefusals.WithLabelValues(reason).Inc()
}

// WebChatStream tracks a live stream: opened true when it starts, false
// when it ends.
func (m *Metrics) WebChatStream(alias string, opened bool) {
	if m == nil {
		return
	}
	acct := m.account(alias)
	if opened {
		m.webchatOpened.WithLabelValues(acct).Inc()
		m.webchatStreams.WithLabelValues(acct).Inc()
	} else {
		m.webchatStreams.WithLabelValues(acct).Dec()
	}
}

// SetReady sets one component of the ready gauge.
func (m *Metrics) SetReady(component string, ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.ready.WithLabelValues(component).Set(v)
}

// EncryptionHeld sets whether this process holds the encryption device.
func (m *Metrics) EncryptionHeld(held bool) {
	if m == nil {
		return
	}
	v := 0.0
	if held {
		v = 1
	}
	m.cryptoHeld.Set(v)
}

// EncryptionHandedOver counts encrypted work handed to the device's
// holder; kind is one of e2ee's (event, to_device, device_lists,
// otk_count).
func (m *Metrics) EncryptionHandedOver(kind string) {
	if m == nil {
		return
	}
	m.cryptoHandedOver.WithLabelValues(kind).Inc()
}

// Undecryptable counts a message reported as undecryptable.
func (m *Metrics) Undecryptable() {
	if m == nil {
		return
	}
	m.undecryptable.Inc()
}

// InstrumentWebhook wraps the webhook handler so that every answer is
// counted by account and status code. The account comes from the
// pattern's {account} wildcard, so the wrapper must sit between the mux
// and the handler. A nil *Metrics returns next itself.
func (m *Metrics) InstrumentWebhook(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			// Nothing written at all: net/http answers 200.
			status = http.StatusOK
		}
		m.Webhook(r.PathValue("account"), status)
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Handler serves the registry in Prometheus' exposition formats. A
// collector that fails is logged and left out; the rest is still served.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      errorLog{m.log},
		ErrorHandling: promhttp.ContinueOnError,
		// An HA pair of Prometheus servers scrapes twice; more at once
		// would only multiply the inbox query.
		MaxRequestsInFlight: 2,
		Timeout:             10 * time.Second,
	})
}

type errorLog struct{ log zerolog.Logger }

func (e errorLog) Println(v ...any) {
	e.log.Warn().Str("component", "metrics").Msgf("Metrics scrape: %v", v)
}

// Server is the metrics listener.
type Server struct {
	http     *http.Server
	listener net.Listener
	done     chan struct{}
}

// Listen opens addr (host:port) and serves /metrics on it in the
// background. Opening first means a taken port is an error here, not a
// log line later.
func (m *Metrics) Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &Server{
		http: &http.Server{
			Handler: mux,
			// Timeouts, as on the appservice listener: a client that never
			// finishes its request must not hold a connection for ever.
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
		},
		listener: ln,
		done:     make(chan struct{}),
	}
	go func() {
		defer close(srv.done)
		if err := srv.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error().Err(err).Str("component", "metrics").Msg("Metrics listener failed; /metrics is not served any more")
		}
	}()
	return srv, nil
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Close stops the server, letting a scrape in flight finish for a moment.
func (s *Server) Close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
	<-s.done
}
