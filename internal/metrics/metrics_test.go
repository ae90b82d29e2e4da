package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/metrics/metricstest"
)

// scrape fetches /metrics from a running listener and parses it.
func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	families, raw, err := metricstest.Scrape(addr)
	if err != nil {
		t.Fatalf("scrape: %v\n%s", err, raw)
	}
	return families, raw
}

func TestMetricsServed(t *testing.T) {
	inboxErr := error(nil)
	m := New(Options{
		Version:  "test",
		Accounts: []string{"main", "eu"},
		Inbox: func(ctx context.Context) ([]InboxCount, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("the inbox query has no deadline")
			}
			return []InboxCount{
				{Account: "main", State: "pending", Count: 3, Oldest: time.Now().Add(-time.Minute)},
				{Account: "main", State: "delivered", Count: 1000}, // not a waiting state: left out
			}, inboxErr
		},
		Log: zerolog.Nop(),
	})
	srv, err := m.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)

	// The webhook wrapper reads the account from the mux's wildcard.
	mux := http.NewServeMux()
	mux.Handle("POST /stripe/webhook/{account}", m.InstrumentWebhook(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("account") != "main" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("{}")) // an implicit 200
	})))
	hooks := httptest.NewServer(mux)
	t.Cleanup(hooks.Close)
	for _, path := range []string{"main", "main", "cus_secret_path"} {
		resp, err := http.Post(hooks.URL+"/stripe/webhook/"+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	now := time.Now()
	m.DeliveryAttempt("main", DeliveryDelivered)
	m.Delivered("main", now.Add(-1500*time.Millisecond), now)
	m.DeliveryAttempt("main", DeliveryRetry)
	m.DeliveryAttempt("main", DeliveryFailed)
	m.CatchUp("main", 10, 2, 4)
	m.Command("refund", "confirm_requested")
	m.AssistantAnswer("next_bill", "de")
	m.AssistantHandoff("de", "asked")
	m.StripeRequest("main", "GET", "/v1/customers/{id}", 200, 30*time.Millisecond, nil)
	m.StripeRequest("main", "GET", "/v1/customers/{id}", 404, 20*time.Millisecond, nil)
	m.StripeRequest("main", "POST", "/v1/refunds", 0, time.Second, errors.New("connection refused"))
	m.StripeRequest("nope", "GET", "/v1/account", 200, time.Millisecond, nil)
	m.WebChatSession("main")
	m.WebChatRefusal("token_expired")
	m.WebChatStream("main", true)
	m.WebChatStream("main", true)
	m.WebChatStream("main", false)
	m.SetReady(ComponentDatabase, true)
	m.SetReady(ComponentHomeserver, false)
	m.EncryptionHeld(true)
	m.EncryptionHandedOver("event")
	m.EncryptionHandedOver("event")
	m.Undecryptable()

	families, raw := scrape(t, srv.Addr().String())
	want := []struct {
		family string
		labels map[string]string
		value  float64
	}{
		{"matrix_stripe_webhook_requests_total", map[string]string{"account": "main", "code": "200"}, 2},
		{"matrix_stripe_webhook_requests_total", map[string]string{"account": "unknown", "code": "404"}, 1},
		{"matrix_stripe_delivery_attempts_total", map[string]string{"account": "main", "outcome": "delivered"}, 1},
		{"matrix_stripe_delivery_attempts_total", map[string]string{"account": "eu", "outcome": "delivered"}, 0},
		{"matrix_stripe_delivery_failures_total", map[string]string{"account": "main", "kind": "transient"}, 1},
		{"matrix_stripe_delivery_failures_total", map[string]string{"account": "main", "kind": "permanent"}, 1},
		{"matrix_stripe_delivery_latency_seconds", map[string]string{"account": "main"}, 1},
		{"matrix_stripe_catchup_events_total", map[string]string{"account": "main", "result": "listed"}, 10},
		{"matrix_stripe_catchup_events_total", map[string]string{"account": "main", "result": "queued"}, 4},
		{"matrix_stripe_commands_total", map[string]string{"command": "refund", "outcome": "confirm_requested"}, 1},
		{"matrix_stripe_assistant_answers_total", map[string]string{"intent": "next_bill", "lang": "de"}, 1},
		{"matrix_stripe_assistant_handoffs_total", map[string]string{"lang": "de", "reason": "asked"}, 1},
		{"matrix_stripe_stripe_request_duration_seconds", map[string]string{"account": "main", "method": "GET", "endpoint": "/v1/customers/{id}"}, 2},
		{"matrix_stripe_stripe_request_duration_seconds", map[string]string{"account": "unknown", "method": "GET", "endpoint": "/v1/account"}, 1},
		{"matrix_stripe_stripe_request_errors_total", map[string]string{"account": "main", "method": "GET", "endpoint": "/v1/customers/{id}", "code": "404"}, 1},
		{"matrix_stripe_stripe_request_errors_total", map[string]string{"account": "main", "method": "POST", "endpoint": "/v1/refunds", "code": "network"}, 1},
		{"matrix_stripe_webchat_sessions_started_total", map[string]string{"account": "main"}, 1},
		{"matrix_stripe_webchat_sign_in_refusals_total", map[string]string{"reason": "token_expired"}, 1},
		{"matrix_stripe_webchat_streams_open", map[string]string{"account": "main"}, 1},
		{"matrix_stripe_webchat_streams_opened_total", map[string]string{"account": "main"}, 2},
		{"matrix_stripe_ready", map[string]string{"component": "database"}, 1},
		{"matrix_stripe_ready", map[string]string{"component": "homeserver"}, 0},
		{"matrix_stripe_ready", map[string]string{"component": "started"}, 0},
		{"matrix_stripe_inbox_events", map[string]string{"account": "main", "state": "pending"}, 3},
		{"matrix_stripe_inbox_events", map[string]string{"account": "eu", "state": "failed"}, 0},
		{"matrix_stripe_inbox_query_success", map[string]string{}, 1},
		{"matrix_stripe_build_info", map[string]string{"version": "test"}, 1},
		{"matrix_stripe_encryption_device_held", map[string]string{}, 1},
		{"matrix_stripe_encryption_handed_over_total", map[string]string{"kind": "event"}, 2},
		{"matrix_stripe_encryption_handed_over_total", map[string]string{"kind": "to_device"}, 0},
		{"matrix_stripe_encryption_undecryptable_total", map[string]string{}, 1},
	}
	for _, w := range want {
		got, ok := metricstest.Value(families, w.family, w.labels)
		if !ok || got != w.value {
			t.Errorf("%s%v = %v (present %t), want %v", w.family, w.labels, got, ok, w.value)
		}
	}
	if _, ok := metricstest.Value(families, "matrix_stripe_inbox_events", map[string]string{"account": "main", "state": "delivered"}); ok {
		t.Error("delivered events are counted in the inbox depth")
	}
	if age, _ := metricstest.Value(families, "matrix_stripe_inbox_oldest_event_age_seconds", map[string]string{"account": "main", "state": "pending"}); age < 59 || age > 120 {
		t.Errorf("oldest pending age %v, want about 60 s", age)
	}
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if families[family] == nil {
			t.Errorf("%s is missing: the Go and process collectors are not registered", family)
		}
	}
	if strings.Contains(raw, "cus_secret_path") {
		t.Error("a path chosen by the caller became a label value")
	}

	// A failing inbox query costs the inbox series, not the scrape.
	inboxErr = errors.New("database is closed")
	families, _ = scrape(t, srv.Addr().String())
	if got, _ := metricstest.Value(families, "matrix_stripe_inbox_query_success", map[string]string{}); got != 0 {
		t.Errorf("inbox_query_success %v after a failed query, want 0", got)
	}
	if families["matrix_stripe_inbox_events"] != nil || families["matrix_stripe_commands_total"] == nil {
		t.Error("a failed inbox query should drop only the inbox series")
	}
}

// TestNilMetrics: with metrics disabled the bridge holds a nil *Metrics
// and calls it all the same.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Webhook("main", 200)
	m.DeliveryAttempt("main", DeliveryDelivered)
	m.Delivered("main", time.Now(), time.Now())
	m.CatchUp("main", 1, 0, 1)
	m.Command("help", "ok")
	m.AssistantAnswer("greeting", "en")
	m.AssistantHandoff("en", "asked")
	m.StripeRequest("main", "GET", "/v1/account", 200, time.Millisecond, nil)
	m.WebChatSession("main")
	m.WebChatRefusal("bad_request")
	m.WebChatStream("main", true)
	m.SetReady(ComponentStarted, true)
	m.EncryptionHeld(true)
	m.EncryptionHandedOver("event")
	m.Undecryptable()
	if m.Registry() != nil {
		t.Error("a nil Metrics has a registry")
	}
	next := http.NotFoundHandler()
	if h := m.InstrumentWebhook(next); h == nil {
		t.Error("no handler")
	}
	var srv *Server
	srv.Close()
}

// TestEveryRegistryIsItsOwn: two bridges in one process (the e2e tests run
// a second process in-process) must not collide on a global registry.
func TestEveryRegistryIsItsOwn(t *testing.T) {
	a, b := New(Options{Accounts: []string{"main"}}), New(Options{Accounts: []string{"main"}})
	a.Command("help", "ok")
	families, err := b.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "matrix_stripe_commands_total" && len(f.GetMetric()) > 0 {
			t.Error("one bridge's command shows in the other's registry")
		}
	}
}
