package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"

	"github.com/matrix-stripe/matrix-stripe/internal/metrics"
)

const (
	readyPath = "/_matrix/mau/ready"
	// readyEvery is how often the database and the homeserver are checked:
	// often enough for a load balancer or orchestrator to notice within a
	// probe period or two, rarely enough to cost nothing.
	readyEvery = 15 * time.Second
	// readyTimeout bounds each check; an answer slower than that is a
	// failure as far as readiness goes.
	readyTimeout = 5 * time.Second
)

// readiness is what /_matrix/mau/ready answers: the bridge has started,
// and at the last check the database and the homeserver answered.
type readiness struct {
	mu         sync.Mutex
	started    bool
	database   bool
	homeserver bool
	checked    bool
}

type readyBody struct {
	Ready      bool     `json:"ready"`
	Started    bool     `json:"started"`
	Database   bool     `json:"database"`
	Homeserver bool     `json:"homeserver"`
	Failing    []string `json:"failing,omitempty"`
}

func (r *readiness) body() readyBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := readyBody{Started: r.started, Database: r.database, Homeserver: r.homeserver}
	for _, part := range []struct {
		name string
		ok   bool
	}{{"started", r.started}, {"database", r.database}, {"homeserver", r.homeserver}} {
		if !part.ok {
			b.Failing = append(b.Failing, part.name)
		}
	}
	b.Ready = len(b.Failing) == 0
	return b
}

// setStarted marks the bridge started (at the end of Start) or stopping.
func (br *Bridge) setStarted(started bool) {
	br.ready.mu.Lock()
	br.ready.started = started
	br.ready.mu.Unlock()
	br.Metrics.SetReady(metrics.ComponentStarted, started)
}

// readyEndpoint answers /_matrix/mau/ready from the checks instead of
// mautrix's handler, which only reads AS.Ready. It sits in front of the
// router: the router has mautrix's pattern for the path already.
func (br *Bridge) readyEndpoint(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != readyPath || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		body := br.ready.body()
		status := http.StatusOK
		if !body.Ready {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	})
}

// readyLoop checks the database and the homeserver every readyEvery until
// ctx ends.
func (br *Bridge) readyLoop(ctx context.Context) {
	ticker := time.NewTicker(readyEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			br.checkReady(ctx)
		}
	}
}

// checkReady pings the database and the homeserver once, each with
// readyTimeout, and records the result. A change is logged once, not on
// every check: an outage is one warning, and its end one line.
func (br *Bridge) checkReady(ctx context.Context) {
	log := zerolog.Ctx(ctx).With().Str("component", "ready").Logger()
	dbErr := br.pingDatabase(ctx)
	hsErr := br.pingHomeserver(ctx)

	br.ready.mu.Lock()
	wasDB, wasHS, first := br.ready.database, br.ready.homeserver, !br.ready.checked
	br.ready.database, br.ready.homeserver, br.ready.checked = dbErr == nil, hsErr == nil, true
	br.ready.mu.Unlock()
	br.Metrics.SetReady(metrics.ComponentDatabase, dbErr == nil)
	br.Metrics.SetReady(metrics.ComponentHomeserver, hsErr == nil)

	report := func(what string, was bool, err error) {
		switch {
		case err != nil && (was || first):
			log.Warn().Err(err).Str("check", what).Msg("Readiness check failed; /_matrix/mau/ready answers 503")
		case err == nil && !was && !first:
			log.Info().Str("check", what).Msg("Readiness check passes again")
		}
	}
	report("database", wasDB, dbErr)
	report("homeserver", wasHS, hsErr)
}

func (br *Bridge) pingDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	return br.DB.RawDB.PingContext(ctx)
}

// pingHomeserver asks for /_matrix/client/versions once: no retries (the
// next check is the retry), and the bot client's request log stays quiet
// below warnings, or every check would be a log line.
func (br *Bridge) pingHomeserver(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	quiet := br.Log.With().Str("component", "ready").Logger().Level(max(br.Log.GetLevel(), zerolog.WarnLevel))
	var versions mautrix.RespVersions
	_, err := br.Bot.Client.MakeFullRequest(ctx, mautrix.FullRequest{
		Method:       http.MethodGet,
		URL:          br.Bot.Client.BuildClientURL("versions"),
		ResponseJSON: &versions,
		MaxAttempts:  1,
		Logger:       &quiet,
	})
	return err
}
