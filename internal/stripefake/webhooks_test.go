package stripefake

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// receiver is a webhook endpoint that verifies signatures with stripe-go.
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	events []stripe.Event
	fails  int // answer 500 to this many requests first
	seen   int
	opts   webhook.ConstructEventOptions
	srv    *httptest.Server
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen++
	if r.seen <= r.fails {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	ev, err := webhook.ConstructEventWithOptions(body, req.Header.Get("Stripe-Signature"), r.secret, r.opts)
	if err != nil {
		r.t.Errorf("webhook rejected: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.events = append(r.events, ev)
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) got() []stripe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]stripe.Event(nil), r.events...)
}

func flush(t *testing.T, f *fake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mustNoErr(t, f.Flush(ctx))
}

func TestWebhookDeliveryIsSignedLikeStripe(t *testing.T) {
	rcv := newReceiver(t, "whsec_test_secret")
	// The real clock here: stripe-go checks the signature's age.
	f := newFake(t, Options{Clock: time.Now, Webhooks: []WebhookEndpoint{{URL: rcv.srv.URL, Secret: "whsec_test_secret"}}})
	c, err := f.sc.Customers.New(&stripe.CustomerParams{Email: stripe.String("hook@example.com")})
	mustNoErr(t, err)
	_, err = f.sc.Customers.Update(c.ID, &stripe.CustomerParams{Name: stripe.String("Hook")})
	mustNoErr(t, err)
	flush(t, f)

	evs := rcv.got()
	if len(evs) != 2 || evs[0].Type != "customer.created" || evs[1].Type != "customer.updated" {
		t.Fatalf("received %d events", len(evs))
	}
	if evs[0].Data.Object["id"] != c.ID || evs[0].APIVersion != APIVersion || evs[0].PendingWebhooks != 1 ||
		evs[1].GetPreviousValue("name") != "" || evs[1].Data.PreviousAttributes == nil {
		t.Fatalf("event %+v", evs[0])
	}
	d := f.Deliveries()
	if len(d) != 2 || d[0].StatusCode != 200 || d[0].EventID != evs[0].ID {
		t.Fatalf("deliveries %+v", d)
	}
}

func TestWebhookRetriesThenSucceeds(t *testing.T) {
	rcv := newReceiver(t, "whsec_retry")
	rcv.fails = 2
	f := newFake(t, Options{Clock: time.Now, RetryBackoff: 5 * time.Millisecond,
		Webhooks: []WebhookEndpoint{{URL: rcv.srv.URL, Secret: "whsec_retry"}}})
	c, err := f.sc.Customers.New(&stripe.CustomerParams{})
	mustNoErr(t, err)
	_, err = f.sc.Customers.Del(c.ID, nil)
	mustNoErr(t, err)
	flush(t, f)

	evs := rcv.got()
	if len(evs) != 2 || evs[0].Type != "customer.created" || evs[1].Type != "customer.deleted" {
		t.Fatalf("events arrived out of order or missing: %v", evs)
	}
	d := f.Deliveries()
	if len(d) != 4 || d[0].StatusCode != 500 || d[1].StatusCode != 500 || d[2].StatusCode != 200 || d[2].Attempt != 3 ||
		d[3].EventType != "customer.deleted" || d[3].Attempt != 1 {
		t.Fatalf("deliveries %+v", d)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer dead.Close()
	f := newFake(t, Options{ManualDelivery: true, MaxDeliveryAttempts: 2, RetryBackoff: time.Millisecond,
		Webhooks: []WebhookEndpoint{{URL: dead.URL}}})
	_, err := f.sc.Customers.New(&stripe.CustomerParams{})
	mustNoErr(t, err)
	sent, err := f.DeliverPending(context.Background())
	if sent != 0 || err == nil || len(f.Deliveries()) != 2 {
		t.Fatalf("sent=%d err=%v deliveries=%d", sent, err, len(f.Deliveries()))
	}
}

func TestManualDelivery(t *testing.T) {
	rcv := newReceiver(t, "whsec_manual")
	f := newFake(t, Options{Clock: time.Now, ManualDelivery: true,
		Webhooks: []WebhookEndpoint{{URL: rcv.srv.URL, Secret: "whsec_manual", EnabledEvents: []string{"customer.*"}}}})
	_, err := f.sc.Customers.New(&stripe.CustomerParams{})
	mustNoErr(t, err)
	_, err = f.sc.Products.New(&stripe.ProductParams{Name: stripe.String("not wanted")})
	mustNoErr(t, err)
	time.Sleep(20 * time.Millisecond)
	if len(rcv.got()) != 0 {
		t.Fatal("manual delivery sent on its own")
	}
	sent, err := f.DeliverPending(context.Background())
	mustNoErr(t, err)
	if sent != 1 || len(rcv.got()) != 1 || rcv.got()[0].Type != "customer.created" {
		t.Fatalf("sent %d: %v", sent, rcv.got())
	}
}

func TestWebhookEndpointsAPI(t *testing.T) {
	f := newFake(t, Options{Clock: time.Now})
	rcv := newReceiver(t, "")
	we, err := f.sc.WebhookEndpoints.New(&stripe.WebhookEndpointParams{
		URL: stripe.String(rcv.srv.URL), EnabledEvents: []*string{stripe.String("invoice.*"), stripe.String("customer.created")},
		APIVersion: stripe.String(APIVersion)})
	mustNoErr(t, err)
	if !strings.HasPrefix(we.Secret, "whsec_") || we.ID[:3] != "we_" {
		t.Fatalf("endpoint %+v", we)
	}
	rcv.mu.Lock()
	rcv.secret = we.Secret
	rcv.mu.Unlock()
	got, err := f.sc.WebhookEndpoints.Get(we.ID, nil)
	mustNoErr(t, err)
	if got.Secret != "" || got.URL != rcv.srv.URL || len(got.EnabledEvents) != 2 {
		t.Fatalf("retrieved %+v (the secret is only shown on create)", got)
	}
	_, err = f.sc.Customers.New(&stripe.CustomerParams{})
	mustNoErr(t, err)
	flush(t, f)
	if len(rcv.got()) != 1 {
		t.Fatalf("received %d events", len(rcv.got()))
	}
	_, err = f.sc.WebhookEndpoints.Del(we.ID, nil)
	mustNoErr(t, err)
	_, err = f.sc.Customers.New(&stripe.CustomerParams{})
	mustNoErr(t, err)
	flush(t, f)
	if len(rcv.got()) != 1 {
		t.Fatal("a deleted endpoint still receives events")
	}
}

func TestWebhookAPIVersionMismatch(t *testing.T) {
	rcv := newReceiver(t, "whsec_old")
	rcv.opts = webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true}
	f := newFake(t, Options{Clock: time.Now,
		Webhooks: []WebhookEndpoint{{URL: rcv.srv.URL, Secret: "whsec_old", APIVersion: "2020-08-27"}}})
	_, err := f.sc.Customers.New(&stripe.CustomerParams{})
	mustNoErr(t, err)
	flush(t, f)
	evs := rcv.got()
	if len(evs) != 1 || evs[0].APIVersion != "2020-08-27" {
		t.Fatalf("events %+v", evs)
	}
	raw := f.Events()[0].JSON
	if _, err := webhook.ConstructEvent(raw, SignatureHeader(raw, "s", time.Now()), "s"); err != nil {
		t.Fatalf("the stored event itself is %s: %v", APIVersion, err)
	}
	old := strings.Replace(string(raw), APIVersion, "2020-08-27", 1)
	if _, err := webhook.ConstructEvent([]byte(old), SignatureHeader([]byte(old), "s", time.Now()), "s"); err == nil {
		t.Fatal("stripe-go should refuse a mismatched version without the option")
	}
}

func TestSeedEventsDeliveredOldestFirst(t *testing.T) {
	rcv := newReceiver(t, "whsec_seed")
	f := newFake(t, Options{Clock: time.Now, EmitSeedEvents: true,
		Webhooks: []WebhookEndpoint{{URL: rcv.srv.URL, Secret: "whsec_seed"}}})
	mustNoErr(t, f.LoadScenarioFile("testdata/basic.yaml"))
	flush(t, f)
	evs := rcv.got()
	if len(evs) != len(f.Events()) || len(evs) < 50 {
		t.Fatalf("delivered %d of %d seed events", len(evs), len(f.Events()))
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Created < evs[i-1].Created {
			t.Fatalf("event %d (%s) is older than the one before", i, evs[i].Type)
		}
	}

	quiet := newFake(t, Options{Webhooks: []WebhookEndpoint{{URL: rcv.srv.URL, Secret: "whsec_seed"}}})
	mustNoErr(t, quiet.LoadScenarioFile("testdata/basic.yaml"))
	flush(t, quiet)
	if len(quiet.Deliveries()) != 0 || len(quiet.Events()) == 0 {
		t.Fatal("without EmitSeedEvents the history is listed but not sent")
	}
}

func TestCloseStopsDelivery(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	s := New(Options{Webhooks: []WebhookEndpoint{{URL: slow.URL}}})
	mustNoErr(t, s.LoadScenario(strings.NewReader(DemoScenario)))
	s.mu.Lock()
	s.st.queueEvent(s.st.events.filter(nil)[0])
	s.mu.Unlock()
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		mustNoErr(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a stuck webhook")
	}
}
