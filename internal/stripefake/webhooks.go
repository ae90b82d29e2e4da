package stripefake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// WebhookEndpoint is a receiver of events.
type WebhookEndpoint struct {
	URL string
	// Secret signs deliveries (whsec_…); generated when empty.
	Secret string
	// EnabledEvents filters by type (`*`, `invoice.*`, exact); empty is all.
	EnabledEvents []string
	// APIVersion is stamped on delivered events (default 2023-10-16); set
	// another to test how a receiver handles a version mismatch.
	APIVersion string
}

// Delivery is one attempt to deliver an event to an endpoint.
type Delivery struct {
	EventID    string
	EventType  string
	URL        string
	Attempt    int
	StatusCode int // 0 when no HTTP response came back
	Err        string
	At         time.Time
}

type endpoint struct {
	meta
	url           string
	secret        string
	enabledEvents []string
	apiVersion    string
	description   string
	disabled      bool
}

func (ep *endpoint) wants(typ string) bool {
	if ep.disabled {
		return false
	}
	if len(ep.enabledEvents) == 0 {
		return true
	}
	for _, p := range ep.enabledEvents {
		if typeMatches(p, typ) {
			return true
		}
	}
	return false
}

func (st *state) addEndpoint(w WebhookEndpoint, description string) *endpoint {
	ep := &endpoint{
		meta:          st.newMeta("we_", 24),
		url:           w.URL,
		secret:        w.Secret,
		enabledEvents: append([]string(nil), w.EnabledEvents...),
		apiVersion:    w.APIVersion,
		description:   description,
	}
	if ep.secret == "" {
		ep.secret = "whsec_" + randomToken(32)
	}
	if ep.apiVersion == "" {
		ep.apiVersion = APIVersion
	}
	st.endpoints.add(ep)
	return ep
}

// queueEvent hands an event to every endpoint that wants it, rendered with
// that endpoint's API version.
func (st *state) queueEvent(ev *event) {
	var targets []*endpoint
	for _, ep := range st.endpoints.filter(nil) {
		if ep.wants(ev.typ) {
			targets = append(targets, ep)
		}
	}
	ev.pendingWebhooks = len(targets)
	for _, ep := range targets {
		payload, err := json.Marshal(st.renderEventVersion(ev, ep.apiVersion))
		if err != nil {
			panic(err) // rendered objects are always encodable
		}
		st.hooks.enqueue(job{
			endpointID: ep.ID, url: ep.url, secret: ep.secret,
			eventID: ev.ID, eventType: ev.typ, payload: payload,
		})
	}
}

// SignatureHeader is the Stripe-Signature value for payload signed at t.
func SignatureHeader(payload []byte, secret string, t time.Time) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t.Unix())
	mac.Write(payload)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

type job struct {
	endpointID, url, secret string
	eventID, eventType      string
	payload                 []byte
}

// queue is one endpoint's ordered backlog: one event at a time, so a
// receiver sees events in the order they happened.
type queue struct {
	jobs []job
	busy bool
	wake chan struct{}
	stop chan struct{}
}

// delivery sends events to endpoints, one goroutine per endpoint unless
// delivery is manual.
type delivery struct {
	log         zerolog.Logger
	client      *http.Client
	manual      bool
	maxAttempts int
	backoff     time.Duration
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	mu      sync.Mutex
	queues  map[string]*queue
	history []Delivery
}

func newDelivery(opts Options, log zerolog.Logger) *delivery {
	d := &delivery{
		log:         log,
		client:      opts.WebhookClient,
		manual:      opts.ManualDelivery,
		maxAttempts: opts.MaxDeliveryAttempts,
		backoff:     opts.RetryBackoff,
		queues:      map[string]*queue{},
	}
	if d.client == nil {
		d.client = &http.Client{Timeout: 10 * time.Second}
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = 5
	}
	if d.backoff <= 0 {
		d.backoff = 500 * time.Millisecond
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

func (d *delivery) enqueue(j job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return
	}
	q, ok := d.queues[j.endpointID]
	if !ok {
		q = &queue{wake: make(chan struct{}, 1), stop: make(chan struct{})}
		d.queues[j.endpointID] = q
		if !d.manual {
			d.wg.Add(1)
			go d.work(q)
		}
	}
	q.jobs = append(q.jobs, j)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drop forgets an endpoint's backlog (the endpoint was deleted).
func (d *delivery) drop(endpointID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if q, ok := d.queues[endpointID]; ok {
		close(q.stop)
		q.jobs = nil
		delete(d.queues, endpointID)
	}
}

func (d *delivery) next(q *queue) (job, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(q.jobs) == 0 {
		return job{}, false
	}
	j := q.jobs[0]
	q.jobs = q.jobs[1:]
	q.busy = true
	return j, true
}

func (d *delivery) idle(q *queue) {
	d.mu.Lock()
	q.busy = false
	d.mu.Unlock()
}

func (d *delivery) work(q *queue) {
	defer d.wg.Done()
	for {
		select {
		case <-q.stop:
			return
		default:
		}
		j, ok := d.next(q)
		if !ok {
			select {
			case <-q.wake:
				continue
			case <-q.stop:
				return
			case <-d.ctx.Done():
				return
			}
		}
		_ = d.send(d.ctx, j)
		d.idle(q)
	}
}

// send delivers one event with bounded retries and exponential backoff.
func (d *delivery) send(ctx context.Context, j job) error {
	wait := d.backoff
	var last error
	for attempt := 1; attempt <= d.maxAttempts; attempt++ {
		status, err := d.post(ctx, j)
		rec := Delivery{EventID: j.eventID, EventType: j.eventType, URL: j.url, Attempt: attempt, StatusCode: status, At: time.Now()}
		if err == nil && (status < 200 || status > 299) {
			err = fmt.Errorf("endpoint answered %d", status)
		}
		if err != nil {
			rec.Err = err.Error()
		}
		d.mu.Lock()
		d.history = append(d.history, rec)
		d.mu.Unlock()
		if err == nil {
			return nil
		}
		last = err
		d.log.Warn().Err(err).
			Str("stripe_event_id", j.eventID).
			Str("webhook_url", j.url).
			Int("attempt", attempt).
			Msg("Webhook delivery failed")
		if attempt == d.maxAttempts {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(wait*2, 30*time.Second)
	}
	d.log.Error().Str("stripe_event_id", j.eventID).Str("webhook_url", j.url).Msg("Gave up delivering webhook")
	return fmt.Errorf("delivering %s to %s: %w", j.eventID, j.url, last)
}

func (d *delivery) post(ctx context.Context, j job) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.url, bytes.NewReader(j.payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	// Signed at send time with the real clock: receivers enforce a
	// tolerance against their own clock, and Stripe re-signs each retry.
	req.Header.Set("Stripe-Signature", SignatureHeader(j.payload, j.secret, time.Now()))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func (d *delivery) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, q := range d.queues {
		n += len(q.jobs)
		if q.busy {
			n++
		}
	}
	return n
}

// drain delivers every queued event now, in the caller's goroutine.
func (d *delivery) drain(ctx context.Context) (int, error) {
	d.mu.Lock()
	ids := make([]string, 0, len(d.queues))
	for id := range d.queues {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	sort.Strings(ids)
	sent := 0
	var firstErr error
	for _, id := range ids {
		d.mu.Lock()
		q := d.queues[id]
		d.mu.Unlock()
		if q == nil {
			continue
		}
		for {
			j, ok := d.next(q)
			if !ok {
				break
			}
			err := d.send(ctx, j)
			d.idle(q)
			if err == nil {
				sent++
			} else if firstErr == nil {
				firstErr = err
			}
		}
	}
	return sent, firstErr
}

func (d *delivery) close() {
	d.cancel()
	d.wg.Wait()
}

// Flush waits until every queued webhook has been delivered or given up.
func (s *Server) Flush(ctx context.Context) error {
	if s.opts.ManualDelivery {
		_, err := s.DeliverPending(ctx)
		return err
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.hooks.pending() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// DeliverPending sends queued webhooks now (for Options.ManualDelivery) and
// returns how many were delivered and the first failure. With automatic
// delivery it is Flush.
func (s *Server) DeliverPending(ctx context.Context) (int, error) {
	if !s.opts.ManualDelivery {
		return 0, s.Flush(ctx)
	}
	return s.hooks.drain(ctx)
}

// Deliveries lists every delivery attempt so far, in order.
func (s *Server) Deliveries() []Delivery {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return append([]Delivery(nil), s.hooks.history...)
}

// AddWebhookEndpoint registers a receiver for events from now on and
// returns its id and signing secret.
func (s *Server) AddWebhookEndpoint(w WebhookEndpoint) (id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ep := s.st.addEndpoint(w, "")
	return ep.ID, ep.secret
}
