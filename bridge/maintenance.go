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
// timed-out confirmations expired.
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
	if n, err := br.DB.Processed.Prune(ctx, now.Add(-processedRetention)); err != nil {
		log.Warn().Err(err).Msg("Failed to prune processed events")
	} else if n > 0 {
		log.Debug().Int64("pruned", n).Msg("Pruned processed events and transactions")
	}
	if err := br.DB.WebChat.Prune(ctx, now.Add(-webChatRetention)); err != nil {
		log.Warn().Err(err).Msg("Failed to prune web chat sessions")
	}
	if err := br.DB.PanelLink.Prune(ctx, now); err != nil {
		log.Warn().Err(err).Msg("Failed to prune panel sign-in links")
	}
	if n, err := br.DB.PendingAction.ExpireOld(ctx, now); err != nil {
		log.Warn().Err(err).Msg("Failed to expire pending actions")
	} else if n > 0 {
		log.Debug().Int64("expired", n).Msg("Expired pending confirmations")
	}
}
