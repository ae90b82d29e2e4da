package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"

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
	// resolveEvery is how often events stored without their customer (Stripe
	// was unreachable when they arrived) are looked up again; they are rare,
	// and the query is one index range.
	resolveEvery = time.Second
	// webhookPath is where the bridge's endpoint for an account ends (see
	// webhook.Handler.Pattern): the Stripe endpoints that deliver to it.
	webhookPath = "/stripe/webhook/"
)

// catchupLoop runs catch-up at start and then on the configured interval;
// beside it, it resolves the customers of events stored without one, until
// ctx ends.
func (br *Bridge) catchupLoop(ctx context.Context) {
	log := br.Log.With().Str("component", "catchup").Logger()
	ctx = log.WithContext(ctx)
	resolved := make(chan struct{})
	go func() {
		defer close(resolved)
		br.resolveLoop(ctx)
	}()
	defer func() { <-resolved }()
	interval := br.Config.Bridge.CatchupEvery()
	for {
		if err := br.CatchUp(ctx); err != nil && ctx.Err() == nil {
			log.Err(err).Msg("Catch-up failed; will try again")
		}
		if interval <= 0 {
			<-ctx.Done()
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
	selected, err := br.catchupSelection(ctx, log, client)
	if err != nil {
		return err
	}
	// Collected first and stored in one transaction: workers must see the
	// missed events all at once, or they could post a customer's newer event
	// before an older one from the next page (Stripe lists newest first).
	var missed []*database.Event
	listed, unselected := 0, 0
	err = client.EventsSince(ctx, since, func(raw json.RawMessage) error {
		listed++
		evt, err := webhook.InboxEvent(client.Alias, raw, time.Now())
		if err != nil {
			log.Warn().Err(err).Msg("Skipping malformed event from the Events API")
			return nil
		}
		if !selected.has(evt.Type) {
			unselected++
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
	br.prepareMissed(ctx, log, client.Alias, missed)
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
	if newestID == "" {
		newestID = acct.CatchupCursor
	}
	if err = br.DB.Account.SetCatchupCursor(ctx, client.Alias, newestID, started); err != nil {
		return err
	}
	log.Info().Int("listed", listed).Int("not_selected", unselected).Int("new", inserted).
		Dur("took", time.Since(started)).Msg("Catch-up finished")
	if inserted >= bigCatchup {
		br.noticeAdmins(ctx, fmt.Sprintf("Caught up on %d Stripe events for account `%s` that never arrived by webhook; they are being posted now.", inserted, client.Alias))
	}
	return nil
}

// prepareMissed does for listed events what the webhook does on arrival:
// warns about API versions it does not fully understand (the Events API
// renders each event at the version it was created with, not the
// request's), and resolves customers before queueing. missed is newest
// first; resolution walks it oldest first, so a refund finds its charge's
// customer in an earlier event of the same batch before asking Stripe.
func (br *Bridge) prepareMissed(ctx context.Context, log zerolog.Logger, alias string, missed []*database.Event) {
	batch := &batchCustomers{objects: make(map[string]string), next: br.DB.Event}
	resolver := br.customerResolver()
	resolver.Known = batch
	for i := len(missed) - 1; i >= 0; i-- {
		evt := missed[i]
		if evt.APIVersion != stripe.APIVersion && br.Webhook != nil {
			br.Webhook.WarnListedAPIVersion(log, alias, evt.APIVersion)
		}
		if err := resolver.Resolve(ctx, evt); err != nil {
			log.Warn().Err(err).Str("stripe_event_id", evt.ID).
				Msg("Could not resolve the customer of a missed event yet; storing it to resolve before delivery")
		}
		if evt.CustomerID != "" && evt.ObjectID != "" {
			batch.objects[evt.ObjectID] = evt.CustomerID
		}
	}
}

// batchCustomers answers from the catch-up's own batch first: its events
// are not in the inbox yet.
type batchCustomers struct {
	objects map[string]string
	next    webhook.KnownCustomers
}

func (b *batchCustomers) CustomerOfObject(ctx context.Context, accountID, objectID string) (string, error) {
	if customerID := b.objects[objectID]; customerID != "" {
		return customerID, nil
	}
	return b.next.CustomerOfObject(ctx, accountID, objectID)
}

// typeSelection is the set of event types an account's webhook endpoints
// deliver; all means every type.
type typeSelection struct {
	all      bool
	patterns []string
}

func (s typeSelection) has(eventType string) bool {
	if s.all {
		return true
	}
	for _, p := range s.patterns {
		if p == "*" || p == eventType {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, ".*"); ok && strings.HasPrefix(eventType, prefix+".") {
			return true
		}
	}
	return false
}

// catchupSelection decides which listed types enter the inbox: the
// Events API returns every type, but the room should show only what the
// webhook would have delivered. The config's catchup_events wins; else the
// enabled_events of the endpoints that deliver to this bridge. When neither
// says (no endpoint points here, or the key may not read endpoints), every
// type enters, as the webhook of a "*" endpoint would bring it.
func (br *Bridge) catchupSelection(ctx context.Context, log zerolog.Logger, client *stripeapi.Client) (typeSelection, error) {
	if acct := br.Config.Account(client.Alias); acct != nil && len(acct.CatchupEvents) > 0 {
		return typeSelection{patterns: acct.CatchupEvents}, nil
	}
	endpoints, err := client.WebhookEndpoints(ctx)
	if stripeapi.IsPermissionDenied(err) {
		log.Warn().Msg("The API key may not read webhook endpoints, so catch-up stores every event type; " +
			"set catchup_events for this account to the types its endpoint selects")
		return typeSelection{all: true}, nil
	}
	if err != nil {
		return typeSelection{}, fmt.Errorf("list webhook endpoints: %s: %w", stripeapi.Describe(err), err)
	}
	var sel typeSelection
	found := false
	for _, ep := range endpoints {
		if !strings.HasSuffix(strings.TrimSuffix(ep.URL, "/"), webhookPath+client.Alias) {
			continue
		}
		found = true
		sel.patterns = append(sel.patterns, ep.EnabledEvents...)
	}
	if !found {
		log.Warn().Int("endpoints", len(endpoints)).
			Msg("No webhook endpoint of this account delivers to " + webhookPath + client.Alias + ", so catch-up stores every event type; " +
				"set catchup_events for this account to choose")
		return typeSelection{all: true}, nil
	}
	return sel, nil
}

// customerResolver is how the webhook and the catch-up find the customer of
// an event whose object names none: the inbox and message map first, then
// one Stripe lookup.
func (br *Bridge) customerResolver() *webhook.Resolver {
	return &webhook.Resolver{Known: br.DB.Event, Lookup: br.lookupCustomer}
}

func (br *Bridge) lookupCustomer(ctx context.Context, alias, objectID string) (string, error) {
	for _, client := range br.Stripe {
		if client.Alias != alias {
			continue
		}
		customerID, err := client.CustomerOfPayment(ctx, objectID)
		if stripeapi.IsPermissionDenied(err) {
			log := zerolog.Ctx(ctx)
			if log.GetLevel() == zerolog.Disabled {
				// A webhook request's context carries no logger.
				log = &br.Log
			}
			// Asking again will not help: the event is the account's.
			log.Warn().Str("account", alias).Str("stripe_object_id", objectID).
				Msg("The API key may not read charges or payment intents; refunds and disputes go to the account's feed room")
			return "", nil
		}
		return customerID, err
	}
	return "", nil
}

// resolveLoop gives events stored without their customer (Stripe was
// unreachable) their customer as soon as Stripe answers; until then no
// worker delivers them.
func (br *Bridge) resolveLoop(ctx context.Context) {
	resolver := br.customerResolver()
	for {
		if br.resolvePending(ctx, resolver, time.Now()) > 0 {
			br.wakeWorkers("")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(resolveEvery):
		}
	}
}

// resolvePending resolves the unresolved events due at now and reports
// how many entered a queue.
func (br *Bridge) resolvePending(ctx context.Context, resolver *webhook.Resolver, now time.Time) int {
	log := zerolog.Ctx(ctx)
	due, err := br.DB.Event.ListUnresolved(ctx, now, 100)
	if err != nil {
		if ctx.Err() == nil {
			log.Err(err).Msg("Failed to list events waiting for their customer")
		}
		return 0
	}
	queued := 0
	for _, evt := range due {
		evtLog := log.With().Str("stripe_event_id", evt.ID).Str("account", evt.AccountID).Logger()
		customerID, err := resolver.CustomerOf(ctx, evt.AccountID, evt.Payload)
		if err != nil {
			next := now.Add(backoff(evt.Attempts + 1))
			evtLog.Warn().Err(err).Time("next_attempt_at", next).Msg("Could not resolve the customer of an event yet")
			if err = br.DB.Event.MarkUnresolvedRetry(ctx, evt.ID, err.Error(), next); err != nil {
				evtLog.Err(err).Msg("Failed to record the failed customer lookup")
			}
			continue
		}
		ok, err := br.DB.Event.Resolve(ctx, evt.ID, customerID, now)
		if err != nil {
			evtLog.Err(err).Msg("Failed to queue an event with its customer")
			continue
		}
		if ok {
			queued++
			evtLog.Debug().Str("customer_id", customerID).Msg("Resolved the customer of an event")
		}
	}
	return queued
}
