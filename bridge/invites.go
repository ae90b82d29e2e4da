package bridge

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/portal"
)

const (
	// inviteRetryEvery is how often the invite loop looks for due invites.
	// Backoff starts at a minute, so looking more often would find nothing.
	inviteRetryEvery = 30 * time.Second
	// invitesPerPass bounds one pass, so a long queue (a big remote server
	// down) cannot keep the loop from noticing shutdown for long.
	invitesPerPass = 100
)

// inviteLoop retries invites that failed (a remote homeserver that could not
// be reached) until they go through or are no longer wanted.
func (br *Bridge) inviteLoop(ctx context.Context) {
	log := br.Log.With().Str("component", "invites").Logger()
	ctx = log.WithContext(ctx)
	for {
		// A pass at start too: invites left by a stopped process are due.
		if _, err := br.RetryInvites(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Invite retry pass failed; will try again")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(inviteRetryEvery):
		}
	}
}

// RetryInvites makes one pass over the invites that are due now and reports
// how many it tried. Each invite is claimed first, so two bridge processes on
// one database never try the same invite at once.
func (br *Bridge) RetryInvites(ctx context.Context) (int, error) {
	tried := 0
	for tried < invitesPerPass && ctx.Err() == nil {
		inv, err := br.DB.Invite.ClaimNext(ctx, time.Now(), portal.InviteLease)
		if err != nil || inv == nil {
			return tried, err
		}
		tried++
		log := zerolog.Ctx(ctx).With().Str("account", inv.AccountID).Logger()
		if err = br.Portal.RetryInvite(log.WithContext(ctx), inv); err != nil {
			// The claim runs out and a later pass tries again.
			log.Err(err).Str("room_id", inv.RoomID.String()).Str("user_id", inv.UserID.String()).
				Str("customer_id", inv.CustomerID).Msg("Failed to retry invite")
		}
	}
	return tried, nil
}
