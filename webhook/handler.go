// Package webhook receives Stripe webhooks: it verifies each one (its
// signature, and that it belongs to the account: same livemode, and no
// connected account other than the account itself), stores it in the
// database inbox, and only then answers 2xx.
//
// It never touches Matrix: delivery workers pick events up from the inbox.
// Because Stripe retries every non-2xx answer for days, the handler's one
// rule is that a 2xx means the event is committed; everything else (a bad
// signature, a database outage, a panic) is an error answer that Stripe, or
// an attacker, gets without detail.
//
// Webhook endpoints should be created pinned to API version 2023-10-16, the
// version stripe-go v76 understands. Events of any other version are still
// stored, with a warning, and rendered from the fields that are understood.
package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/database"
)

const (
	// DefaultMaxBody is far above any real event (Stripe's are a few KiB,
	// the largest tens of KiB) and low enough that nobody can make the
	// bridge buffer much.
	DefaultMaxBody int64 = 1 << 20
	// DefaultTolerance is Stripe's recommendation: old enough for clock
	// skew and slow deliveries, short enough to limit replays.
	DefaultTolerance = 300 * time.Second

	pattern = "POST /stripe/webhook/{account}"
)

// Inbox is where verified events go (implemented by *database.EventQuery).
type Inbox interface {
	Insert(ctx context.Context, evt *database.Event) (bool, error)
}

// Account is one Stripe account's endpoint: the alias in the URL and the
// signing secrets it accepts, several while a secret is being rolled.
type Account struct {
	Alias   string
	Secrets []string
	// Livemode is the mode the account is configured for; events of the
	// other mode are refused.
	Livemode bool
	// StripeID is the account's own acct_ id if it is known when the
	// handler is built; otherwise SetStripeAccountID supplies it later.
	// Until then, events that name a (connected) account are refused with
	// 503, and events without one are accepted.
	StripeID string
}

// Options configure a Handler; zero values get the documented defaults.
type Options struct {
	Accounts  []Account
	Inbox     Inbox
	Log       zerolog.Logger
	MaxBody   int64            // default 1 MiB
	Tolerance time.Duration    // default 300 s
	Now       func() time.Time // default time.Now; used for the tolerance check and received_at
	// Notify is called (non-blocking, may be nil) after a new event is
	// stored, so delivery workers wake up. It runs on the request's
	// goroutine after the answer is written, so it must not block.
	Notify func(accountAlias string)
	// Resolver finds the customer of events whose object names none before
	// they are stored (nil: from the payload only).
	Resolver *Resolver
}

// Handler is the webhook endpoint for all configured accounts.
type Handler struct {
	accounts  map[string]*endpoint
	inbox     Inbox
	log       zerolog.Logger
	maxBody   int64
	tolerance time.Duration
	now       func() time.Time
	notify    func(accountAlias string)
	resolver  *Resolver

	// warnedVersions remembers which (account, api_version) pairs were
	// already warned about: every event of a mismatched endpoint has the
	// same version, and one warning says all there is to say.
	versionMu      sync.Mutex
	warnedVersions map[accountVersion]struct{}
}

// accountVersion keys the version warnings; listed tells the Events API
// (events keep the version they were created with) from webhooks (the
// endpoint's version).
type accountVersion struct {
	account, version string
	listed           bool
}

// NewHandler builds the handler. Mount it at Pattern.
func NewHandler(opts Options) *Handler {
	h := &Handler{
		accounts:       make(map[string]*endpoint, len(opts.Accounts)),
		inbox:          opts.Inbox,
		log:            opts.Log,
		maxBody:        opts.MaxBody,
		tolerance:      opts.Tolerance,
		now:            opts.Now,
		notify:         opts.Notify,
		resolver:       opts.Resolver,
		warnedVersions: make(map[accountVersion]struct{}),
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.tolerance <= 0 {
		h.tolerance = DefaultTolerance
	}
	if h.now == nil {
		h.now = time.Now
	}
	for _, acct := range opts.Accounts {
		if _, dup := h.accounts[acct.Alias]; dup {
			// Keeping the first stops a copy-pasted entry from quietly
			// widening which secrets an account accepts.
			h.log.Error().Str("account", acct.Alias).Msg("Duplicate webhook account alias; only the first entry is used")
			continue
		}
		var secrets []string
		for _, s := range acct.Secrets {
			if s != "" {
				secrets = append(secrets, s)
			}
		}
		if len(secrets) == 0 {
			h.log.Error().Str("account", acct.Alias).Msg("No webhook signing secret configured; this account's webhooks will be refused")
		}
		ep := &endpoint{secrets: secrets, livemode: acct.Livemode}
		if acct.StripeID != "" {
			ep.stripeID.Store(&acct.StripeID)
		}
		h.accounts[acct.Alias] = ep
	}
	return h
}

// Pattern is where the handler belongs on an http.ServeMux.
func (h *Handler) Pattern() string { return pattern }

// ServeHTTP handles one delivery. See the package doc for what each answer
// means.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answered := false
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		h.log.Error().
			Str("account", r.PathValue("account")).
			Any("panic", p).
			Bytes("stack", debug.Stack()).
			Msg("Panic while handling a Stripe webhook")
		if !answered {
			// Stripe retries a 5xx; whatever broke may not break twice.
			reply(w, http.StatusInternalServerError)
		}
	}()

	status, stored := h.handle(w, r)
	reply(w, status)
	answered = true
	if stored != nil && h.notify != nil {
		h.notify(stored.AccountID)
	}
}

// handle does the work and says how to answer; stored is the event if it was
// new to the inbox.
func (h *Handler) handle(w http.ResponseWriter, r *http.Request) (status int, stored *database.Event) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return http.StatusMethodNotAllowed, nil
	}
	alias := r.PathValue("account")
	log := h.log.With().Str("account", alias).Logger()
	ep, known := h.accounts[alias]
	if !known {
		log.Warn().Msg("Stripe webhook for an unknown account; check the endpoint URL in Stripe")
		return http.StatusNotFound, nil
	}
	if len(ep.secrets) == 0 {
		log.Error().Msg("Refusing Stripe webhook: the account has no signing secret configured")
		return http.StatusInternalServerError, nil
	}

	payload, status := h.readBody(w, r, log)
	if status != 0 {
		return status, nil
	}
	signedAt, err := verifySignature(payload, r.Header.Get("Stripe-Signature"), ep.secrets, h.tolerance, h.now())
	if err != nil {
		warn := log.Warn().Str("reason", err.Error())
		if errors.Is(err, errTooOld) || errors.Is(err, errFromFuture) {
			// The signature is genuine, so the id is worth logging; the
			// usual cause is a clock that is off.
			warn = warn.Str("stripe_event_id", claimedID(payload)).Time("signed_at", signedAt)
		}
		warn.Msg("Rejected Stripe webhook")
		return http.StatusBadRequest, nil
	}

	// The payload is this request's own buffer: the row keeps it as is.
	evt, envelope, err := decodeEvent(alias, payload, h.now())
	if err != nil {
		log.Warn().Str("reason", err.Error()).Str("stripe_event_id", claimedID(payload)).
			Msg("Rejected validly signed Stripe webhook with an unusable body")
		return http.StatusBadRequest, nil
	}
	log = log.With().
		Str("stripe_event_id", evt.ID).
		Str("event_type", evt.Type).
		Logger()
	if status := ep.checkOrigin(log, envelope); status != 0 {
		return status, nil
	}
	// Before storing: an event queued without its customer could overtake
	// the customer's earlier events. If Stripe cannot say now, the event is
	// stored all the same, to be resolved before anything delivers it.
	if err := h.resolver.Resolve(r.Context(), evt); err != nil {
		log.Warn().Err(err).Msg("Could not resolve the customer of a Stripe webhook yet; storing it to resolve before delivery")
	}
	log = log.With().Str("customer_id", evt.CustomerID).Logger()

	// The request's context: if Stripe stops waiting, nobody reads the
	// answer anyway, and its retry finds the event stored or not.
	inserted, err := h.inbox.Insert(r.Context(), evt)
	if err != nil {
		log.Err(err).Msg("Could not store Stripe webhook; answering 503 so Stripe retries")
		return http.StatusServiceUnavailable, nil
	}
	h.warnVersionMismatch(log, accountVersion{alias, evt.APIVersion, false})
	if !inserted {
		log.Debug().Msg("Stripe webhook was already in the inbox")
		return http.StatusOK, nil
	}
	log.Debug().Msg("Stored Stripe webhook")
	return http.StatusOK, evt
}

// readBody reads the whole body, which must stay byte-for-byte as sent: the
// signature covers the raw bytes. A non-zero status means give up.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, log zerolog.Logger) ([]byte, int) {
	if r.ContentLength > h.maxBody {
		log.Warn().Int64("content_length", r.ContentLength).Msg("Rejected oversized Stripe webhook")
		return nil, http.StatusRequestEntityTooLarge
	}
	body := http.MaxBytesReader(w, r.Body, h.maxBody)
	payload, err := io.ReadAll(body)
	if err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			log.Warn().Msg("Rejected oversized Stripe webhook")
			return nil, http.StatusRequestEntityTooLarge
		}
		log.Warn().Err(err).Msg("Could not read Stripe webhook body")
		return nil, http.StatusBadRequest
	}
	return payload, 0
}

// WarnListedAPIVersion is the webhook's version warning for events the
// Events API catch-up lists: they keep the API version they were created
// with (the account's default then), whatever the request's version. Such
// events are stored and shown from the fields that are understood, like
// webhooks; the operator hears once per account and version.
func (h *Handler) WarnListedAPIVersion(log zerolog.Logger, alias, version string) {
	h.warnVersionMismatch(log, accountVersion{alias, version, true})
}

// warnVersionMismatch tells the operator once per account and version that
// events arrive in a version stripe-go v76 does not fully understand.
func (h *Handler) warnVersionMismatch(log zerolog.Logger, key accountVersion) {
	if key.version == stripe.APIVersion {
		return
	}
	h.versionMu.Lock()
	_, warned := h.warnedVersions[key]
	h.warnedVersions[key] = struct{}{}
	h.versionMu.Unlock()
	if warned {
		return
	}
	msg := "Stripe webhook endpoint sends a different API version than this bridge understands; " +
		"events are stored and shown from the fields it knows, but pin the endpoint to the expected version"
	if key.listed {
		msg = "Stripe events listed by the catch-up were created at a different API version than this bridge understands; " +
			"they are stored and shown from the fields it knows, but set the account's default API version to the expected one"
	}
	log.Warn().
		Str("api_version", key.version).
		Str("expected_api_version", stripe.APIVersion).
		Msg(msg)
}

func reply(w http.ResponseWriter, status int) {
	var body string
	switch status {
	case http.StatusOK:
		body = `{"received":true}`
	case http.StatusBadRequest:
		body = `{"error":"invalid webhook"}`
	case http.StatusNotFound:
		body = `{"error":"unknown account"}`
	case http.StatusMethodNotAllowed:
		body = `{"error":"method not allowed"}`
	case http.StatusRequestEntityTooLarge:
		body = `{"error":"payload too large"}`
	case http.StatusServiceUnavailable:
		body = `{"error":"temporarily unavailable"}`
	default:
		body = `{"error":"internal error"}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}
