package bridge

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

const (
	maintenanceEvery = time.Hour
	// processedRetention outlasts any homeserver's redelivery of a
	// transaction by far (Synapse and Dendrite give up within days).
	processedRetention = 30 * 24 * time.Hour
	// webChatRetention: expired web chat sessions and old sends are kept a
	// day, long enough to tell "expired" from "never issued" in a support
	// case, and a retried send comes within seconds anyway.
	webChatRetention = 24 * time.Hour
)

// maintenanceLoop forgets processed events and transactions old enough that
// no homeserver redelivers them and expired web chat sessions, and marks
// timed-out confirmations and assistant offers expired.
func (br *Bridge) maintenanceLoop(ctx context.Context) {
	log := br.Log.With().Str("component", "maintenance").Logger()
	ctx = log.WithContext(ctx)
	ticker := time.NewTicker(maintenanceEvery)
	defer ticker.Stop()
	for {
		br.maintain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (br *Bridge) maintain(ctx context.Context) {
	log := zerolog.Ctx(ctx)
	now := time.Now()
	steps := []struct {
		what string
		run  func() (int64, error)
	}{
		{"processed events and transactions", func() (int64, error) { return br.DB.Processed.Prune(ctx, now.Add(-processedRetention)) }},
		{"web chat sessions", func() (int64, error) { return 0, br.DB.WebChat.Prune(ctx, now.Add(-webChatRetention)) }},
		{"panel sign-in links", func() (int64, error) { return 0, br.DB.PanelLink.Prune(ctx, now) }},
		{"pending confirmations", func() (int64, error) { return br.DB.PendingAction.ExpireOld(ctx, now) }},
		{"assistant offers", func() (int64, error) { return 0, br.DB.Offer.Prune(ctx, now) }},
	}
	for _, step := range steps {
		n, err := step.run()
		switch {
		case ctx.Err() != nil:
			return // shutting down: the next start catches up
		case err != nil:
			log.Warn().Err(err).Str("cleaning", step.what).Msg("Database clean-up failed")
		case n > 0:
			log.Debug().Int64("rows", n).Str("cleaning", step.what).Msg("Cleaned up the database")
		}
	}
}
