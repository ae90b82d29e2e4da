package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
	"github.com/matrix-stripe/matrix-stripe/webhook"
)

const (
	// catchupOverlap re-lists a little before the cursor: events created
	// in the same second as the last one seen must not be missed, and
	// duplicates are no-ops in the inbox.
	catchupOverlap = 5 * time.Minute
	// stripeEventRetention is how far back the Events API goes.
	stripeEventRetention = 30 * 24 * time.Hour
	// bigCatchup is when admins hear about a catch-up in their management room.
	bigCatchup = 100
)

// catchupLoop runs catch-up at start and then on the configured interval.
func (br *Bridge) catchupLoop(ctx context.Context) {
	log := br.Log.With().Str("component", "catchup").Logger()
	ctx = log.WithContext(ctx)
	interval := br.Config.Bridge.CatchupEvery()
	for {
		if err := br.CatchUp(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Catch-up failed; will try again")
		}
		if interval <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// CatchUp lists missed events of every account into the inbox now.
func (br *Bridge) CatchUp(ctx context.Context) error {
	var errs []error
	for _, client := range br.Stripe {
		if err := br.catchup(ctx, client); err != nil {
			errs = append(errs, fmt.Errorf("account %s: %w", client.Alias, err))
		}
	}
	return errors.Join(errs...)
}

// catchup feeds events missed while webhooks were not arriving into the
// inbox. On the very first start there is no cursor: history is not
// replayed into rooms, only events from now on.
func (br *Bridge) catchup(ctx context.Context, client *stripeapi.Client) error {
	log := zerolog.Ctx(ctx).With().Str("account", client.Alias).Logger()
	acct, err := br.DB.Account.Get(ctx, client.Alias)
	if err != nil {
		return err
	}
	started := time.Now()
	if acct == nil || acct.CatchupAt.IsZero() {
		log.Info().Msg("First start for this account: catch-up begins now, earlier history is not replayed")
		return br.DB.Account.SetCatchupCursor(ctx, client.Alias, "", started)
	}
	since := acct.CatchupAt.Add(-catchupOverlap)
	if oldest := started.Add(-stripeEventRetention); since.Before(oldest) {
		log.Warn().Time("cursor", acct.CatchupAt).Msg("Bridge was down longer than Stripe keeps events; some may be lost")
		since = oldest
	}
	// Collected first and stored in one transaction: workers must see the
	// missed events all at once, or they could post a customer's newer event
	// before an older one from the next page (Stripe lists newest first).
	var missed []*database.Event
	err = client.EventsSince(ctx, since, func(raw json.RawMessage) error {
		evt, err := webhook.InboxEvent(client.Alias, raw, time.Now())
		if err != nil {
			log.Warn().Err(err).Msg("Skipping malformed event from the Events API")
			return nil
		}
		missed = append(missed, evt)
		if len(missed)%1000 == 0 {
			log.Info().Int("listed", len(missed)).Msg("Catch-up in progress")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list events: %s: %w", stripeapi.Describe(err), err)
	}
	var newestID string
	if len(missed) > 0 {
		newestID = missed[0].ID
	}
	inserted := 0
	err = br.DB.DoTxn(ctx, nil, func(ctx context.Context) error {
		for i := len(missed) - 1; i >= 0; i-- {
			ok, err := br.DB.Event.Insert(ctx, missed[i])
			if err != nil {
				return err
			}
			if ok {
				inserted++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store missed events: %w", err)
	}
	if inserted > 0 {
		br.wakeWorkers(client.Alias)
	}
	listed := len(missed)
	if newestID == "" {
		newestID = acct.CatchupCursor
	}
	if err = br.DB.Account.SetCatchupCursor(ctx, client.Alias, newestID, started); err != nil {
		return err
	}
	log.Info().Int("listed", listed).Int("new", inserted).Dur("took", time.Since(started)).Msg("Catch-up finished")
	if inserted >= bigCatchup {
		br.noticeAdmins(ctx, fmt.Sprintf("Caught up on %d Stripe events for account `%s` that never arrived by webhook; they are being posted now.", inserted, client.Alias))
	}
	return nil
}
