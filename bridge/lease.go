package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// Claims are short leases kept alive by a heartbeat, so that the customers
// of a process that died are delivered again within seconds, not minutes.
const deliveryLease = 15 * time.Second

// leaseTiming is how a claim is held; deliveryTiming in production, shorter
// in tests.
type leaseTiming struct {
	// lease is how long a claim outlives its last heartbeat.
	lease time.Duration
	// heartbeat renews the lease well inside it: two renewals may fail
	// before the attempt has to stop.
	heartbeat time.Duration
	// margin: an attempt whose lease could not be renewed stops this long
	// before the lease runs out, so a request it had in flight is over
	// before another worker may take the event over and look for it.
	margin time.Duration
}

// deliveryTiming is the production timing (a function: no mutable globals).
func deliveryTiming() leaseTiming {
	return leaseTiming{lease: deliveryLease, heartbeat: deliveryLease / 3, margin: deliveryLease / 3}
}

// Why an attempt was stopped from outside (context.Cause).
var (
	errClaimLost    = errors.New("the claim was taken over by another worker")
	errLeaseLapsing = errors.New("the claim could not be renewed before its lease runs out")
)

// processPrefix begins the worker ids of every process that runs on this
// host behind this listener address: <host>/<address>/. Such a process is
// the only one alive at a time (the address is bound exclusively, and the
// listener is open before delivery starts), so on start the claims under
// this prefix belong to a predecessor that died, and are released.
func (br *Bridge) processPrefix() string {
	host, _ := os.Hostname()
	addr := br.AS.Host.Address()
	if br.server != nil {
		addr = br.server.listener.Addr().String()
	}
	return host + "/" + addr + "/"
}

// runPrefix adds what tells this run apart from its predecessors (pid and a
// random number: pids are reused), so that a dead predecessor's late write
// can never pass for ours.
func runPrefix(processPrefix string) string {
	return fmt.Sprintf("%s%d-%04x/", processPrefix, os.Getpid(), rand.IntN(0x10000))
}

// releaseStaleClaims frees the claims a predecessor of this process left
// when it died, so its customers are due at once rather than when its
// leases run out.
func (br *Bridge) releaseStaleClaims(ctx context.Context, prefix string) {
	log := zerolog.Ctx(ctx)
	released, err := br.DB.Event.ReleaseClaims(ctx, prefix)
	switch {
	case err != nil:
		log.Warn().Err(err).Msg("Failed to release the claims of this bridge's previous run; they are due when their leases run out")
	case released > 0:
		log.Info().Int64("released", released).Str("worker_prefix", prefix).Msg("Released the claims of this bridge's previous run")
	}
}

// holdClaim renews the worker's claim of evt every timing.heartbeat until
// the returned stop is called. It cancels the attempt (cancel, with the
// reason) when the claim was taken over, or when it could not be renewed up
// to timing.margin before it runs out: past that another worker may take
// the event, and two workers must never send one event at once.
func (br *Bridge) holdClaim(ctx context.Context, cancel context.CancelCauseFunc, evt *database.Event, workerID string, timing leaseTiming) (stop func()) {
	log := zerolog.Ctx(ctx)
	expire := time.AfterFunc(time.Until(evt.ClaimedUntil)-timing.margin, func() { cancel(errLeaseLapsing) })
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ticker := time.NewTicker(timing.heartbeat)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			until := time.Now().Add(timing.lease)
			renewCtx, cancelRenew := context.WithTimeout(ctx, timing.heartbeat)
			renewed, err := br.DB.Event.RenewClaim(renewCtx, evt.ID, workerID, until)
			cancelRenew()
			switch {
			case err != nil:
				log.Warn().Err(err).Msg("Failed to renew the claim; the attempt stops if this goes on")
			case !renewed:
				log.Warn().Msg("The claim was taken over; stopping the attempt")
				cancel(errClaimLost)
				return
			default:
				expire.Reset(time.Until(until) - timing.margin)
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		expire.Stop()
	}
}

// Recording an outcome is retried while the database is unreachable: for a
// send that succeeded, the record is what keeps it from being sent again.
const (
	recordTryTimeout = 10 * time.Second
	recordMaxBackoff = 5 * time.Second
	// recordGrace is how long recording goes on once shutdown has begun.
	// After it, an unrecorded send is found by its marker when the event is
	// delivered again.
	recordGrace = 10 * time.Second
)

// record runs write until it succeeds, with backoff, giving up only
// recordGrace after ctx (the bridge's run) ends.
func record(ctx context.Context, write func(context.Context) error) error {
	recCtx, stop := afterGrace(ctx, recordGrace)
	defer stop()
	log := zerolog.Ctx(ctx)
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		tryCtx, cancel := context.WithTimeout(recCtx, recordTryTimeout)
		err := write(tryCtx)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info().Int("record_attempts", attempt).Msg("Recorded the delivery outcome after the database came back")
			}
			return nil
		}
		if recCtx.Err() != nil {
			return err
		}
		log.Warn().Err(err).Int("record_attempts", attempt).Dur("retry_in", delay).Msg("Failed to record the delivery outcome, retrying")
		select {
		case <-recCtx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(delay*2, recordMaxBackoff)
	}
}

// afterGrace returns a context that ends grace after ctx does.
func afterGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopAfter := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(grace, cancel)
		context.AfterFunc(out, func() { timer.Stop() })
	})
	return out, func() {
		stopAfter()
		cancel()
	}
}
