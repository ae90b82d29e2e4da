package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/internal/metrics"
)

// readyState GETs /_matrix/mau/ready from the bridge's listener.
func readyState(t *testing.T, br *Bridge) (int, readyBody) {
	t.Helper()
	resp, err := http.Get("http://" + br.server.listener.Addr().String() + readyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body readyBody
	if err = json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("ready body: %v", err)
	}
	return resp.StatusCode, body
}

func readyGauge(t *testing.T, br *Bridge, component string) float64 {
	t.Helper()
	families, err := br.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "matrix_stripe_ready" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == component {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no matrix_stripe_ready{component=%q}", component)
	return 0
}

// TestReadyFollowsDatabaseAndHomeserver: ready is 200 only while the
// bridge has started and the last check reached both the database and the
// homeserver; otherwise 503, naming what fails. live stays 200.
func TestReadyFollowsDatabaseAndHomeserver(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_matrix/client/versions" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"versions":["v1.2"]}`))
	}))
	defer hs.Close()
	cfg := testConfig(t)
	cfg.Homeserver.Address = hs.URL
	cfg.Metrics.Enabled = true
	br := New(cfg, zerolog.Nop(), "test")
	ctx := context.Background()
	if err := br.openDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	br.initMetrics()
	if err := br.initAppservice(); err != nil {
		t.Fatal(err)
	}
	if err := br.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(br.Stop)

	if status, body := readyState(t, br); status != http.StatusServiceUnavailable ||
		!reflect.DeepEqual(body.Failing, []string{"started", "database", "homeserver"}) {
		t.Errorf("before start and any check: %d %+v", status, body)
	}

	br.checkReady(ctx)
	br.setStarted(true)
	if status, body := readyState(t, br); status != http.StatusOK || !body.Ready || len(body.Failing) != 0 {
		t.Errorf("started, both reachable: %d %+v", status, body)
	}
	if readyGauge(t, br, metrics.ComponentHomeserver) != 1 || readyGauge(t, br, metrics.ComponentDatabase) != 1 {
		t.Error("the ready gauge does not say ready")
	}

	hs.Close()
	br.checkReady(ctx)
	if status, body := readyState(t, br); status != http.StatusServiceUnavailable ||
		!body.Database || body.Homeserver || !reflect.DeepEqual(body.Failing, []string{"homeserver"}) {
		t.Errorf("homeserver down: %d %+v", status, body)
	}
	if readyGauge(t, br, metrics.ComponentHomeserver) != 0 {
		t.Error("the ready gauge missed the homeserver outage")
	}

	if err := br.DB.Close(); err != nil {
		t.Fatal(err)
	}
	br.checkReady(ctx)
	if status, body := readyState(t, br); status != http.StatusServiceUnavailable ||
		body.Database || !reflect.DeepEqual(body.Failing, []string{"database", "homeserver"}) {
		t.Errorf("database closed too: %d %+v", status, body)
	}

	resp, err := http.Get("http://" + br.server.listener.Addr().String() + "/_matrix/mau/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("live answered %d while the process runs", resp.StatusCode)
	}
}
