package bridge

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
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
	// Stripe lists newest first, and workers must never see a customer's
	// newer event before an older one that a later page brings. So the
	// listing is spooled first (to a file: memory stays the same however
	// long the backlog), then stored oldest first, a batch per transaction
	// (storeMissed): at any moment the inbox holds a prefix of the missed
	// events in time.
	spool := newEventSpool(log)
	defer spool.close()
	var newestID string
	listed, unselected, spooled := 0, 0, 0
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
		if newestID == "" {
			newestID = evt.ID
		}
		if err := spool.add(raw); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		if spooled++; spooled%1000 == 0 {
			log.Info().Int("listed", spooled).Msg("Catch-up in progress")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list events: %s: %w", stripeapi.Describe(err), err)
	}
	inserted, err := br.storeMissed(ctx, log, client.Alias, spool)
	if err != nil {
		return fmt.Errorf("store missed events: %w", err)
	}
	if newestID == "" {
		newestID = acct.CatchupCursor
	}
	if err = br.DB.Account.SetCatchupCursor(ctx, client.Alias, newestID, started); err != nil {
		return err
	}
	log.Info().Int("listed", listed).Int("not_selected", unselected).Int("new", inserted).
		Dur("took", time.Since(started)).Msg("Catch-up finished")
	br.Metrics.CatchUp(client.Alias, listed, unselected, inserted)
	if inserted >= bigCatchup {
		br.noticeAdmins(ctx, fmt.Sprintf("Caught up on %d Stripe events for account `%s` that never arrived by webhook; they are being posted now.", inserted, client.Alias))
	}
	return nil
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

const (
	// missedBatch is how many missed events one transaction stores, unless
	// the events of one second go on past it: those are stored together
	// (within a second, Stripe's causal order decides, and a customer's
	// later stage must not be delivered before an earlier one arrives),
	// up to maxMissedBatch. A batch holds a few strings per event in
	// memory, the payloads stay in the spool.
	missedBatch    = 500
	maxMissedBatch = 50_000
)

// missedResolution is what resolving a missed event decided, kept between
// resolving a batch and storing it.
type missedResolution struct {
	customerID, objectID string
	state                database.EventState
}

// storeMissed stores the spooled events oldest first, a batch per
// transaction, each batch resolved first (resolveMissed), and wakes the
// workers after each: they may deliver an earlier batch while a later one
// is stored, since every event still missing is newer than every event
// stored. It returns how many events were new to the inbox.
func (br *Bridge) storeMissed(ctx context.Context, log zerolog.Logger, alias string, spool *eventSpool) (int, error) {
	inserted := 0
	for start := 0; start < spool.len(); {
		batch, err := br.resolveMissed(ctx, log, alias, spool, start)
		if err != nil {
			return inserted, err
		}
		err = br.DB.DoTxn(ctx, nil, func(ctx context.Context) error {
			for i, res := range batch {
				evt, err := spooledEvent(alias, spool, start+i)
				if err != nil {
					return err
				}
				evt.CustomerID, evt.ObjectID, evt.State = res.customerID, res.objectID, res.state
				ok, err := br.DB.Event.Insert(ctx, evt)
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
			return inserted, err
		}
		br.wakeWorkers(alias)
		start += len(batch)
	}
	return inserted, nil
}

// resolveMissed does for the spooled events from start on what the webhook
// does on arrival, for one batch (the events up to where batchFull says to
// stop): it warns about API versions it does not fully understand (the
// Events API renders each event at the version it was created with, not
// the request's), and resolves customers before queueing, oldest first,
// so that a refund finds its charge's customer in an earlier event of the
// same batch, or of an earlier batch (in the inbox by then), before asking
// Stripe.
func (br *Bridge) resolveMissed(ctx context.Context, log zerolog.Logger, alias string, spool *eventSpool, start int) ([]missedResolution, error) {
	known := &batchCustomers{objects: make(map[string]string), next: br.DB.Event}
	resolver := br.customerResolver()
	resolver.Known = known
	var batch []missedResolution
	var last time.Time
	for i := start; i < spool.len(); i++ {
		evt, err := spooledEvent(alias, spool, i)
		if err != nil {
			return nil, err
		}
		if batchFull(len(batch), last, evt.Created) {
			break
		}
		last = evt.Created
		if evt.APIVersion != stripe.APIVersion && br.Webhook != nil {
			br.Webhook.WarnListedAPIVersion(log, alias, evt.APIVersion)
		}
		if err := resolver.Resolve(ctx, evt); err != nil {
			log.Warn().Err(err).Str("stripe_event_id", evt.ID).
				Msg("Could not resolve the customer of a missed event yet; storing it to resolve before delivery")
		}
		if evt.CustomerID != "" && evt.ObjectID != "" {
			known.objects[evt.ObjectID] = evt.CustomerID
		}
		batch = append(batch, missedResolution{customerID: evt.CustomerID, objectID: evt.ObjectID, state: evt.State})
	}
	return batch, nil
}

// batchFull reports whether a batch of n events, the last created at last,
// is to be stored before an event created at next joins it.
func batchFull(n int, last, next time.Time) bool {
	return n >= maxMissedBatch || n >= missedBatch && !next.Equal(last)
}

// spooledEvent is the spool's i-th event, oldest first, as an inbox row.
func spooledEvent(alias string, spool *eventSpool, i int) (*database.Event, error) {
	raw, err := spool.at(i)
	if err != nil {
		return nil, err
	}
	// Spooled only once it had decoded, so this cannot fail but for a
	// corrupt spool.
	evt, err := webhook.InboxEvent(alias, raw, time.Now())
	if err != nil {
		return nil, fmt.Errorf("spooled event %d: %w", i, err)
	}
	return evt, nil
}

// spoolChunk is how many events the spool reads back at a time.
const spoolChunk = 100

// eventSpool keeps listed events in listing order (newest first) and gives
// them back oldest first, reading a chunk at a time: in a temporary file,
// removed as soon as it is created (it goes with the process, however that
// ends), so that the catch-up's memory does not grow with the backlog; in
// memory if no file can be made. The file holds what the inbox holds
// (payloads), readable only by the bridge's user.
type eventSpool struct {
	file   *os.File      // nil: in mem
	w      *bufio.Writer // buffers writes to file
	mem    []byte
	size   int64
	chunks []int64 // where every spoolChunk-th event starts
	count  int

	// The chunk read last, split into its events.
	chunk   int
	buf     []byte
	records [][]byte
}

func newEventSpool(log zerolog.Logger) *eventSpool {
	file, err := os.CreateTemp("", "matrix-stripe-catchup-*")
	if err != nil {
		log.Warn().Err(err).Msg("Cannot create a temporary file for the catch-up; holding the missed events in memory")
		return &eventSpool{chunk: -1}
	}
	if err = os.Remove(file.Name()); err != nil {
		log.Warn().Err(err).Str("path", file.Name()).Msg("Cannot unlink the catch-up's temporary file; it is removed when the catch-up ends")
	}
	return &eventSpool{file: file, w: bufio.NewWriterSize(file, 64<<10), chunk: -1}
}

func (s *eventSpool) add(raw []byte) error {
	if s.count%spoolChunk == 0 {
		s.chunks = append(s.chunks, s.size)
	}
	s.count++
	s.chunk = -1
	var head [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(head[:], uint64(len(raw)))
	s.size += int64(n + len(raw))
	if s.file == nil {
		s.mem = append(append(s.mem, head[:n]...), raw...)
		return nil
	}
	if _, err := s.w.Write(head[:n]); err != nil {
		return err
	}
	_, err := s.w.Write(raw)
	return err
}

func (s *eventSpool) len() int { return s.count }

// at returns the i-th event, oldest first (the last added is the 0th). It
// stays valid until a call reads another chunk.
func (s *eventSpool) at(i int) ([]byte, error) {
	if i < 0 || i >= s.count {
		return nil, fmt.Errorf("catch-up spool has no event %d", i)
	}
	listed := s.count - 1 - i
	if chunk := listed / spoolChunk; chunk != s.chunk {
		if err := s.read(chunk); err != nil {
			return nil, err
		}
	}
	return s.records[listed%spoolChunk], nil
}

func (s *eventSpool) read(chunk int) error {
	start, end := s.chunks[chunk], s.size
	if chunk+1 < len(s.chunks) {
		end = s.chunks[chunk+1]
	}
	if s.file == nil {
		s.buf = s.mem[start:end]
	} else {
		if err := s.w.Flush(); err != nil {
			return err
		}
		s.buf = slices.Grow(s.buf[:0], int(end-start))[:end-start]
		if _, err := s.file.ReadAt(s.buf, start); err != nil {
			return err
		}
	}
	s.records = s.records[:0]
	for rest := s.buf; len(rest) > 0; {
		size, n := binary.Uvarint(rest)
		if n <= 0 || size > uint64(len(rest)-n) {
			return errors.New("catch-up spool is corrupt")
		}
		s.records = append(s.records, rest[n:n+int(size)])
		rest = rest[n+int(size):]
	}
	s.chunk = chunk
	return nil
}

func (s *eventSpool) close() {
	if s.file != nil {
		name := s.file.Name()
		_ = s.file.Close()
		_ = os.Remove(name) // already gone unless unlinking failed
	}
	s.mem, s.buf, s.records = nil, nil, nil
}
