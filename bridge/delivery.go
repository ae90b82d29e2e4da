package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/logctx"
	"github.com/matrix-stripe/matrix-stripe/portal"
)

const (
	// deliveryTimeout bounds one attempt; the heartbeat (lease.go) keeps
	// its claim meanwhile, and stops it if the claim cannot be kept.
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

// startDelivery starts twice as many workers as bridge.delivery_workers,
// which bounds the sends to the homeserver in flight at once (the portal
// manager's send gate): while one worker waits for its send, another does
// the database work before or after one (claiming, reading the customer's
// room and happening, recording), so that work does not leave a send slot
// idle. The order holds whatever the number of workers: a customer's next
// event cannot be claimed until the outcome of the one before is recorded.
func (br *Bridge) startDelivery(ctx context.Context) {
	process := br.processPrefix()
	br.releaseStaleClaims(ctx, process)
	run := runPrefix(process)
	for i := range 2 * br.Config.Bridge.DeliveryWorkers {
		workerID := fmt.Sprintf("%s%d", run, i)
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
		now := time.Now()
		evt, err := br.DB.Event.ClaimNextHeld(ctx, workerID, deliveryLease, br.Config.Bridge.Hold(), now)
		if err != nil {
			if ctx.Err() == nil {
				log.Err(err).Msg("Failed to claim inbox event")
			}
			sleepCtx(ctx, idlePoll)
			continue
		}
		if evt == nil {
			br.idle(ctx, now)
			continue
		}
		br.wakeWorkers("")
		br.deliverOne(ctx, workerID, evt)
	}
}

// idle waits for something to claim after a claim at now found nothing: a
// new event (wakeWorkers), the end of a hold window or backoff, or at most
// idlePoll. The poll is for what nothing announces: an event stored by
// another process, a lease that ran out. The worker that ends a delivery
// claims again itself, so the next event of that customer does not wait.
func (br *Bridge) idle(ctx context.Context, now time.Time) {
	wait := idlePoll
	next, err := br.DB.Event.NextClaimable(ctx, br.Config.Bridge.Hold(), now)
	if err != nil && ctx.Err() == nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("Failed to find when the next inbox event is due; polling")
	} else if !next.IsZero() {
		wait = min(wait, time.Until(next))
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-br.wake:
	case <-timer.C:
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

// deliverOne runs one attempt, holding its claim, and records its outcome.
// Recording is retried until it succeeds and outlives shutdown by a grace
// period (record), so an attempt cut short is rescheduled and a send that
// succeeded is recorded even while the database is briefly down; a crash
// before the record is covered by the marker look-up of the next attempt.
func (br *Bridge) deliverOne(ctx context.Context, workerID string, evt *database.Event) {
	log := zerolog.Ctx(ctx).With().
		Str("stripe_event_id", evt.ID).
		Str("event_type", evt.Type).
		Int("attempt", evt.Attempts).
		Logger()
	ctx = logctx.With(logctx.With(log.WithContext(ctx), "account", evt.AccountID), "customer_id", evt.CustomerID)
	log = *zerolog.Ctx(ctx)
	timed, cancelTimeout := context.WithTimeout(ctx, deliveryTimeout)
	attemptCtx, cancel := context.WithCancelCause(timed)
	stopHeartbeat := br.holdClaim(attemptCtx, cancel, evt, workerID, deliveryTiming())
	res, err := br.Portal.Deliver(attemptCtx, evt, br.renderOptions(evt.AccountID))
	stopHeartbeat()
	// Read before the cancels below, which end attemptCtx in any case.
	stopped, cut := context.Cause(attemptCtx), attemptCtx.Err() != nil
	cancel(nil)
	cancelTimeout()

	var write func(context.Context) error
	result := outcome(err, res, stopped, cut)
	br.countDelivery(evt, result, time.Now())
	switch result {
	case outcomeSkipped:
		log.Debug().Str("reason", res.SkipReason).Msg("Skipped inbox event")
		write = func(ctx context.Context) error {
			return br.DB.Event.MarkSkipped(ctx, evt.ID, workerID, res.SkipReason)
		}
	case outcomeDelivered:
		// Recorded even if the claim was lost meanwhile: the send happened.
		// One commit for all: on PostgreSQL each commit is an fsync. The
		// customer's message and the feed line are recorded together.
		log.Debug().Str("room_id", res.RoomID.String()).Str("matrix_event_id", res.MatrixEventID.String()).Msg("Delivered inbox event")
		write = func(ctx context.Context) error {
			return br.Portal.RecordDelivered(ctx, evt, res)
		}
	case outcomeTakenOver:
		log.Warn().Err(err).Msg("Delivery attempt stopped: the claim was taken over")
		return
	case outcomeRetry:
		next := time.Now().Add(backoff(evt.Attempts))
		if errors.Is(stopped, errLeaseLapsing) {
			err = fmt.Errorf("%w: %w", stopped, err)
		}
		log.Warn().Err(err).Time("next_attempt_at", next).Msg("Delivery failed, will retry")
		write = func(ctx context.Context) error {
			return br.DB.Event.MarkRetry(ctx, evt.ID, workerID, err.Error(), next)
		}
	default:
		log.Error().Err(err).Msg("Delivery failed permanently")
		write = func(ctx context.Context) error {
			return br.DB.Event.MarkFailed(ctx, evt.ID, workerID, err.Error())
		}
	}
	if err := record(ctx, write); err != nil {
		// Given up at shutdown: the lease runs out (or the next start
		// releases it) and the next attempt looks for the marker first.
		log.Err(err).Msg("Failed to record delivery outcome")
	}
}

type deliveryOutcome int

const (
	outcomeDelivered deliveryOutcome = iota
	outcomeSkipped
	// outcomeTakenOver: another worker has the event now; its outcome is
	// theirs to record.
	outcomeTakenOver
	outcomeRetry
	outcomeFailed
)

// outcome classifies an attempt by its result, the reason it was stopped
// from outside (nil if it was not) and whether it was cut short (stopped,
// or past its deadline): an error of an attempt cut short says nothing
// about the event, so it is retried.
func outcome(err error, res *portal.Result, stopped error, cut bool) deliveryOutcome {
	switch {
	case err == nil && res.Skipped:
		return outcomeSkipped
	case err == nil:
		return outcomeDelivered
	case errors.Is(stopped, errClaimLost):
		return outcomeTakenOver
	case errors.Is(err, portal.ErrTransient) || cut:
		return outcomeRetry
	default:
		return outcomeFailed
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
