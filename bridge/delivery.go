package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

const (
	// deliveryLease bounds how long a claimed event stays ours; a worker that
	// dies mid-delivery releases its customer's queue after this.
	deliveryLease = 2 * time.Minute
	// deliveryTimeout keeps one attempt well inside the lease, so a slow
	// attempt can never overlap the next claimant's.
	deliveryTimeout = 60 * time.Second
	idlePoll        = time.Second
	maxBackoff      = 5 * time.Minute
)

// wakeWorkers nudges one idle delivery worker; a worker that finds work
// nudges the next, so a burst fans out without waking everyone for nothing.
func (br *Bridge) wakeWorkers(string) {
	select {
	case br.wake <- struct{}{}:
	default:
	}
}

func (br *Bridge) workerPrefix() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), rand.IntN(0x10000))
}

func (br *Bridge) startDelivery(ctx context.Context) {
	prefix := br.workerPrefix()
	for i := range br.Config.Bridge.DeliveryWorkers {
		workerID := fmt.Sprintf("%s-%d", prefix, i)
		log := br.Log.With().Str("component", "delivery").Str("worker_id", workerID).Logger()
		br.workers.Add(1)
		go func() {
			defer br.workers.Done()
			br.deliveryLoop(log.WithContext(ctx), workerID)
		}()
	}
}

func (br *Bridge) deliveryLoop(ctx context.Context, workerID string) {
	log := zerolog.Ctx(ctx)
	for ctx.Err() == nil {
		evt, err := br.DB.Event.ClaimNext(ctx, workerID, deliveryLease, time.Now())
		if err != nil {
			if ctx.Err() == nil {
				log.Err(err).Msg("Failed to claim inbox event")
			}
			sleepCtx(ctx, idlePoll)
			continue
		}
		if evt == nil {
			select {
			case <-ctx.Done():
			case <-br.wake:
			case <-time.After(idlePoll):
			}
			continue
		}
		br.wakeWorkers("")
		br.deliverOne(ctx, evt)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (br *Bridge) renderOptions(alias string) portal.RenderOptions {
	// "feed" (and the older "generic") post unknown types in the feed room.
	opts := portal.RenderOptions{SkipUnknown: br.Config.Bridge.UnknownEvents == "skip"}
	if acct := br.Config.Account(alias); acct != nil {
		opts.DashboardLink = acct.DashboardLink
	}
	return opts
}

// deliverOne runs one attempt and records its outcome. Marking uses a context
// that survives shutdown, so an attempt cut short is rescheduled, not lost.
func (br *Bridge) deliverOne(ctx context.Context, evt *database.Event) {
	log := zerolog.Ctx(ctx).With().
		Str("stripe_event_id", evt.ID).
		Str("event_type", evt.Type).
		Str("account", evt.AccountID).
		Str("customer_id", evt.CustomerID).
		Int("attempt", evt.Attempts).
		Logger()
	attemptCtx, cancel := context.WithTimeout(log.WithContext(ctx), deliveryTimeout)
	res, err := br.Portal.Deliver(attemptCtx, evt, br.renderOptions(evt.AccountID))
	cancel()
	markCtx, cancelMark := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelMark()
	switch {
	case err == nil && res.Skipped:
		err = br.DB.Event.MarkSkipped(markCtx, evt.ID, res.SkipReason)
		log.Debug().Str("reason", res.SkipReason).Msg("Skipped inbox event")
	case err == nil:
		// One commit for all: on PostgreSQL each commit is an fsync. The
		// customer's message and the feed line are recorded together.
		err = br.DB.DoTxn(markCtx, nil, func(ctx context.Context) error {
			for _, msg := range res.Messages {
				if err := br.DB.Message.Insert(ctx, msg); err != nil {
					return err
				}
			}
			return br.DB.Event.MarkDelivered(ctx, evt.ID, res.MatrixEventID, time.Now())
		})
		log.Debug().Str("room_id", res.RoomID.String()).Str("matrix_event_id", res.MatrixEventID.String()).Msg("Delivered inbox event")
	case errors.Is(err, portal.ErrTransient) || ctx.Err() != nil:
		next := time.Now().Add(backoff(evt.Attempts))
		log.Warn().Err(err).Time("next_attempt_at", next).Msg("Delivery failed, will retry")
		err = br.DB.Event.MarkRetry(markCtx, evt.ID, err.Error(), next)
	default:
		log.Error().Err(err).Msg("Delivery failed permanently")
		err = br.DB.Event.MarkFailed(markCtx, evt.ID, err.Error())
	}
	if err != nil {
		// The lease expires and the event is claimed again; the deterministic
		// transaction id keeps a second send from posting twice.
		log.Err(err).Msg("Failed to record delivery outcome")
	}
}

// backoff doubles per attempt up to maxBackoff, with ±20% jitter so that a
// homeserver coming back is not hit by every retry at once.
func backoff(attempts int) time.Duration {
	d := time.Second << min(max(attempts-1, 0), 16)
	d = min(d, maxBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}
