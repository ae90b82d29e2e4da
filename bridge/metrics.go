package bridge

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/matrix-stripe/matrix-stripe/assistant"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/metrics"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
	"github.com/matrix-stripe/matrix-stripe/webchat"
)

// initMetrics builds the registry when metrics are enabled; otherwise
// br.Metrics stays nil and every recording call is a no-op.
func (br *Bridge) initMetrics() {
	if !br.Config.Metrics.Enabled {
		return
	}
	aliases := make([]string, 0, len(br.Config.Stripe.Accounts))
	for _, acct := range br.Config.Stripe.Accounts {
		aliases = append(aliases, acct.Alias)
	}
	br.Metrics = metrics.New(metrics.Options{
		Version:  br.Version,
		Accounts: aliases,
		Inbox:    br.inboxDepth,
		DB:       br.DB.RawDB,
		Log:      br.Log,
	})
}

// listenMetrics opens the metrics listener, so a taken port fails Start.
func (br *Bridge) listenMetrics() error {
	if br.Metrics == nil {
		return nil
	}
	srv, err := br.Metrics.Listen(br.Config.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics listener on %s: %w", br.Config.Metrics.Listen, err)
	}
	br.metricsServer = srv
	br.Log.Info().Str("address", srv.Addr().String()).Msg("Serving /metrics")
	return nil
}

// MetricsAddr is where /metrics is served, or "" when metrics are off.
func (br *Bridge) MetricsAddr() string {
	if br.metricsServer == nil {
		return ""
	}
	return br.metricsServer.Addr().String()
}

func (br *Bridge) inboxDepth(ctx context.Context) ([]metrics.InboxCount, error) {
	depth, err := br.DB.Event.Depth(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metrics.InboxCount, len(depth))
	for i, d := range depth {
		out[i] = metrics.InboxCount{Account: d.AccountID, State: string(d.State), Count: d.Count, Oldest: d.OldestReceived}
	}
	return out, nil
}

// stripeObserver reports an account's Stripe requests, or is nil when
// metrics are off (the client then keeps its transport as it is).
func (br *Bridge) stripeObserver(alias string) stripeapi.Observer {
	if br.Metrics == nil {
		return nil
	}
	return func(r stripeapi.Request) {
		br.Metrics.StripeRequest(alias, r.Method, r.Endpoint, r.Status, r.Duration, r.Err)
	}
}

// webChatObserver is nil when metrics are off: a nil *Metrics in the
// interface would work too, but would look like an observer to the web chat.
func (br *Bridge) webChatObserver() webchat.Observer {
	if br.Metrics == nil {
		return nil
	}
	return br.Metrics
}

// Handoff reasons, the reason label of assistant handoffs.
const (
	handoffAsked  = "asked"  // the customer asked for a person
	handoffUnsure = "unsure" // the assistant could not answer with confidence
	handoffError  = "error"  // the answer failed (Stripe or the LLM)
)

// countAssistant records one assistant reply. Intents and languages are
// checked against the assistant's fixed lists, so that nothing else (an
// LLM's idea of an intent, say) can become a label value.
func (br *Bridge) countAssistant(res *assistant.Result, failed bool) {
	if br.Metrics == nil {
		return
	}
	intent, lang := "other", "other"
	if slices.Contains(assistant.Intents, res.Intent) {
		intent = string(res.Intent)
	}
	if slices.Contains(assistant.Languages, res.Lang) {
		lang = string(res.Lang)
	}
	br.Metrics.AssistantAnswer(intent, lang)
	if !res.Handoff {
		return
	}
	reason := handoffUnsure
	switch {
	case failed:
		reason = handoffError
	case res.Intent == assistant.IntentHuman:
		reason = handoffAsked
	}
	br.Metrics.AssistantHandoff(lang, reason)
}

// countDelivery records an attempt's outcome and, for a post, how long the
// event took from Stripe's created to posted (the send returned then).
func (br *Bridge) countDelivery(evt *database.Event, result deliveryOutcome, posted time.Time) {
	if br.Metrics == nil {
		return
	}
	label := metrics.DeliveryFailed
	switch result {
	case outcomeDelivered:
		label = metrics.DeliveryDelivered
	case outcomeSkipped:
		label = metrics.DeliverySkipped
	case outcomeTakenOver:
		label = metrics.DeliveryTakenOver
	case outcomeRetry:
		label = metrics.DeliveryRetry
	}
	br.Metrics.DeliveryAttempt(evt.AccountID, label)
	if result == outcomeDelivered {
		br.Metrics.Delivered(evt.AccountID, evt.Created, posted)
	}
}
