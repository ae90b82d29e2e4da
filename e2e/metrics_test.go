package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/localstack"
	"github.com/matrix-stripe/matrix-stripe/internal/metrics/metricstest"
)

// TestMetricsEndpoint runs a bridge with metrics on, through real Dendrite
// and the fake Stripe: a customer is created (a webhook, a delivery), signs
// in to the web chat, opens its stream, asks the assistant and runs a
// command. /metrics, on its own listener, then shows each of those as the
// documented series with the right labels — and none of the ids.
func TestMetricsEndpoint(t *testing.T) {
	fake := newFake(t)
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := startStack(t, stackOptions{fake: fake, configure: func(cfg *config.Config) {
		enableWebChat(cfg)
		cfg.Metrics = config.MetricsConfig{Enabled: true, Listen: fmt.Sprintf("127.0.0.1:%d", port)}
	}})
	addr := s.bridge.MetricsAddr()
	if addr != s.cfg.Metrics.Listen {
		t.Fatalf("metrics served on %q, want %q", addr, s.cfg.Metrics.Listen)
	}
	// /metrics is not on the appservice listener, which faces the internet.
	if resp, err := http.Get(s.cfg.AppService.Address + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("/metrics is served on the appservice listener too")
		}
	}

	customerID := webChatCustomer(t, fake)
	room := waitPortal(t, s, customerID).RoomID
	waitInboxSettled(t, s, 1)
	chat := signIn(t, s.cfg.AppService.Address, mintToken(t, customerID, 10*time.Minute))
	events := chat.stream("")
	if first := <-events; first.name != "ready" {
		t.Fatalf("stream began with %q", first.name)
	}
	for i, body := range []string{"When is my next bill?", "!stripe help"} {
		if code, apiErr := chat.call("POST", "messages", map[string]string{"txn_id": fmt.Sprint("m", i), "body": body}, nil); code != 200 {
			t.Fatalf("send %q: %d %v", body, code, apiErr)
		}
	}

	acct := map[string]string{"account": "main"}
	want := []struct {
		family string
		labels map[string]string
		min    float64 // at least this, or exactly this when exact
		exact  bool
	}{
		{"matrix_stripe_webhook_requests_total", map[string]string{"account": "main", "code": "200"}, 1, false},
		{"matrix_stripe_delivery_attempts_total", map[string]string{"account": "main", "outcome": "delivered"}, 1, false},
		{"matrix_stripe_delivery_failures_total", map[string]string{"account": "main", "kind": "permanent"}, 0, true},
		{"matrix_stripe_delivery_latency_seconds", acct, 1, false},
		{"matrix_stripe_inbox_events", map[string]string{"account": "main", "state": "failed"}, 0, true},
		{"matrix_stripe_inbox_events", map[string]string{"account": "main", "state": "pending"}, 0, false},
		{"matrix_stripe_inbox_query_success", map[string]string{}, 1, true},
		{"matrix_stripe_catchup_events_total", map[string]string{"account": "main", "result": "queued"}, 0, false},
		{"matrix_stripe_stripe_request_duration_seconds", map[string]string{"account": "main", "method": "GET", "endpoint": "/v1/account"}, 1, false},
		{"matrix_stripe_stripe_request_duration_seconds", map[string]string{"account": "main", "method": "GET", "endpoint": "/v1/customers/{id}"}, 1, false},
		{"matrix_stripe_commands_total", map[string]string{"command": "help", "outcome": "ok"}, 1, false},
		{"matrix_stripe_assistant_answers_total", map[string]string{"intent": "next_bill", "lang": "en"}, 1, false},
		{"matrix_stripe_webchat_sessions_started_total", acct, 1, true},
		{"matrix_stripe_webchat_streams_open", acct, 1, true},
		{"matrix_stripe_webchat_streams_opened_total", acct, 1, true},
		{"matrix_stripe_ready", map[string]string{"component": "started"}, 1, true},
		{"matrix_stripe_ready", map[string]string{"component": "database"}, 1, true},
		{"matrix_stripe_ready", map[string]string{"component": "homeserver"}, 1, true},
		{"matrix_stripe_build_info", map[string]string{"version": "e2e"}, 1, true},
	}
	var families map[string]*dto.MetricFamily
	var raw string
	waitFor(t, 30*time.Second, "the series on /metrics", func() (bool, string) {
		families, raw, err = metricstest.Scrape(addr)
		if err != nil {
			return false, err.Error()
		}
		var missing []string
		for _, w := range want {
			got, ok := metricstest.Value(families, w.family, w.labels)
			if !ok || got < w.min || (w.exact && got != w.min) {
				missing = append(missing, fmt.Sprintf("%s%v=%v(present %t)", w.family, w.labels, got, ok))
			}
		}
		return len(missing) == 0, strings.Join(missing, "; ")
	})
	for _, family := range []string{"go_goroutines", "process_resident_memory_bytes", "go_sql_open_connections"} {
		if families[family] == nil {
			t.Errorf("%s is missing", family)
		}
	}
	for _, secret := range []string{customerID, strings.ToLower(customerID), string(room), "evt_", "wcs_", "sk_test"} {
		if strings.Contains(raw, secret) {
			t.Errorf("/metrics shows %q", secret)
		}
	}
}
