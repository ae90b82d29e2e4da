package bridge

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
	"github.com/matrix-stripe/matrix-stripe/webhook"
)

// catchupPeer is stripefake behind a proxy that can play what the fake does
// not: a restricted key without webhook-read permission, events of another
// API version, charges that cannot be read right now.
type catchupPeer struct {
	fake *stripefake.Server
	srv  *httptest.Server

	listedVersion  atomic.Value // string: api_version stamped on listed events, "" keeps it
	chargesDown    atomic.Bool
	endpointsCalls atomic.Int32
}

func newCatchupPeer(t *testing.T) *catchupPeer {
	t.Helper()
	// Seeded two hours ago, so the seed's events are older than any catch-up window.
	var offset atomic.Int64
	offset.Store(int64(-2 * time.Hour))
	p := &catchupPeer{fake: stripefake.New(stripefake.Options{
		APIKeys:             []string{"sk_test_1", "rk_test_1"},
		MaxDeliveryAttempts: 1,
		Clock:               func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
	})}
	if err := p.fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		t.Fatal(err)
	}
	offset.Store(0)
	p.listedVersion.Store("")
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.srv.Close()
		_ = p.fake.Close()
	})
	return p
}

func (p *catchupPeer) serve(w http.ResponseWriter, r *http.Request) {
	restricted := strings.HasPrefix(r.Header.Get("Authorization"), "Bearer rk_")
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/webhook_endpoints"):
		p.endpointsCalls.Add(1)
		if restricted {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_***1' does not have the required permissions for this endpoint. Having the 'rak_webhook_read' permission would allow this request to continue."}}`))
			return
		}
	case strings.HasPrefix(r.URL.Path, "/v1/charges") && p.chargesDown.Load():
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"try again"}}`))
		return
	case r.URL.Path == "/v1/events":
		if version := p.listedVersion.Load().(string); version != "" {
			rec := httptest.NewRecorder()
			p.fake.ServeHTTP(rec, r)
			body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(`"api_version":"`+stripefake.APIVersion+`"`), []byte(`"api_version":"`+version+`"`))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
			return
		}
	}
	p.fake.ServeHTTP(w, r)
}

// client is a Stripe client of the test itself, through the proxy.
func (p *catchupPeer) client() *client.API { return stripefake.NewClient(p.srv.URL, "sk_test_1") }

// syncBuffer is a log sink for the bridge's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// catchupBridge is the part of a bridge the catch-up uses, on SQLite, with
// its cursor a minute back.
func catchupBridge(t *testing.T, peer *catchupPeer, key string, catchupEvents ...string) (*Bridge, *syncBuffer) {
	t.Helper()
	cfg := testConfig(t)
	cfg.Stripe.Accounts[0].APIKey = key
	cfg.Stripe.Accounts[0].CatchupEvents = catchupEvents
	logs := &syncBuffer{}
	log := zerolog.New(logs)
	db := database.New(dbtest.SQLite(t))
	ctx := context.Background()
	if err := db.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	alias := cfg.Stripe.Accounts[0].Alias
	if err := db.Account.Upsert(ctx, &database.Account{ID: alias, DisplayName: alias}); err != nil {
		t.Fatal(err)
	}
	if err := db.Account.SetCatchupCursor(ctx, alias, "", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	br := &Bridge{Config: cfg, Log: log, DB: db, wake: make(chan struct{}, 1)}
	br.Stripe = []*stripeapi.Client{stripeapi.New(stripeapi.Options{
		Alias: alias, Key: key, URL: peer.srv.URL, MaxNetworkRetries: &zero, Log: zerolog.Nop(),
	})}
	br.Webhook = webhook.NewHandler(webhook.Options{Log: log})
	return br, logs
}

// happenings makes events of five types after the cursor: customer.created,
// customer.updated, product.created, and a refund (charge.refunded,
// refund.created, the refund naming no customer).
func happenings(t *testing.T, peer *catchupPeer) {
	t.Helper()
	sc := peer.client()
	cus, err := sc.Customers.New(&stripe.CustomerParams{Name: stripe.String("Late Webhooks Ltd")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err = sc.Customers.Update(cus.ID, &stripe.CustomerParams{Description: stripe.String("VIP")}); err != nil {
		t.Fatal(err)
	}
	if _, err = sc.Products.New(&stripe.ProductParams{Name: stripe.String("Extra")}); err != nil {
		t.Fatal(err)
	}
	inv, err := sc.Invoices.Get("in_refunded", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice: %v", err)
	}
	if _, err = sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String(inv.Charge.ID), Amount: stripe.Int64(500)}); err != nil {
		t.Fatal(err)
	}
}

// inbox returns type → customer of every stored event.
func inbox(t *testing.T, br *Bridge) map[string]string {
	t.Helper()
	rows, err := br.DB.Query(context.Background(), `SELECT type, COALESCE(customer_id, ''), api_version, state FROM stripe_event`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var typ, customer, version, state string
		if err := rows.Scan(&typ, &customer, &version, &state); err != nil {
			t.Fatal(err)
		}
		out[typ] = customer
	}
	return out
}

func types(m map[string]string) []string {
	var out []string
	for typ := range m {
		out = append(out, typ)
	}
	sort.Strings(out)
	return out
}

func TestCatchUpHonoursTheEndpointSelection(t *testing.T) {
	peer := newCatchupPeer(t)
	// The bridge's endpoint selects two types; another application's
	// endpoint of the same account takes everything, which is not ours.
	peer.fake.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: "http://127.0.0.1:1/stripe/webhook/main",
		EnabledEvents: []string{"customer.created", "refund.created"}})
	peer.fake.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: "http://127.0.0.1:1/crm/hooks"})
	br, _ := catchupBridge(t, peer, "sk_test_1")
	happenings(t, peer)
	if err := br.CatchUp(br.Log.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	got := inbox(t, br)
	if want := []string{"customer.created", "refund.created"}; strings.Join(types(got), " ") != strings.Join(want, " ") {
		t.Fatalf("stored %v, want only %v", types(got), want)
	}
	// The refund names no customer; its charge does.
	if got["refund.created"] != "cus_refund" {
		t.Errorf("refund stored for customer %q, want cus_refund", got["refund.created"])
	}
}

func TestCatchUpRestrictedKeyUsesTheConfigList(t *testing.T) {
	peer := newCatchupPeer(t)
	peer.fake.AddWebhookEndpoint(stripefake.WebhookEndpoint{URL: "http://127.0.0.1:1/stripe/webhook/main",
		EnabledEvents: []string{"customer.created"}})
	br, _ := catchupBridge(t, peer, "rk_test_1", "customer.updated", "product.*")
	happenings(t, peer)
	if err := br.CatchUp(br.Log.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	if got, want := types(inbox(t, br)), []string{"customer.updated", "product.created"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("stored %v, want %v", got, want)
	}
	if n := peer.endpointsCalls.Load(); n != 0 {
		t.Errorf("the endpoints API was asked %d times although the config lists the types", n)
	}
}

func TestCatchUpRestrictedKeyWithoutList(t *testing.T) {
	peer := newCatchupPeer(t)
	br, logs := catchupBridge(t, peer, "rk_test_1")
	happenings(t, peer)
	if err := br.CatchUp(br.Log.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	if n := peer.endpointsCalls.Load(); n != 1 {
		t.Errorf("endpoints API asked %d times", n)
	}
	// Nothing is lost for want of a selection; the operator hears why.
	if got := types(inbox(t, br)); len(got) != 5 {
		t.Errorf("stored %v, want all five types", got)
	}
	if !strings.Contains(logs.String(), "set catchup_events") {
		t.Errorf("no hint to set catchup_events:\n%s", logs)
	}
}

func TestCatchUpStoresOtherAPIVersionsAndWarnsOnce(t *testing.T) {
	peer := newCatchupPeer(t)
	peer.listedVersion.Store("2020-08-27")
	br, logs := catchupBridge(t, peer, "sk_test_1", "customer.*")
	sc := peer.client()
	for range 2 {
		if _, err := sc.Customers.New(&stripe.CustomerParams{Name: stripe.String("Old Version")}); err != nil {
			t.Fatal(err)
		}
		if err := br.CatchUp(br.Log.WithContext(t.Context())); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := br.DB.QueryRow(t.Context(), `SELECT COUNT(*) FROM stripe_event WHERE api_version='2020-08-27' AND state='pending'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d events of version 2020-08-27 queued, want 2 (%v)", n, err)
	}
	if warnings := strings.Count(logs.String(), `"api_version":"2020-08-27"`); warnings != 1 {
		t.Errorf("%d version warnings over two catch-ups, want 1:\n%s", warnings, logs)
	}
}

func TestResolvePending(t *testing.T) {
	peer := newCatchupPeer(t)
	br, _ := catchupBridge(t, peer, "sk_test_1")
	ctx := t.Context()
	inv, err := peer.client().Invoices.Get("in_refunded", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice: %v", err)
	}
	payload := []byte(`{"id":"evt_refund","object":"event","api_version":"2023-10-16","created":1700000000,"type":"refund.created",
"data":{"object":{"id":"re_x","object":"refund","charge":"` + inv.Charge.ID + `"}}}`)

	// Stripe is down when the webhook arrives: stored, in no queue.
	peer.chargesDown.Store(true)
	evt, err := webhook.InboxEvent("main", payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err = br.customerResolver().Resolve(ctx, evt); err == nil || evt.State != database.EventUnresolved {
		t.Fatalf("resolve while Stripe is down: %v, state %s", err, evt.State)
	}
	if _, err = br.DB.Event.Insert(ctx, evt); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if n := br.resolvePending(ctx, br.customerResolver(), now); n != 0 {
		t.Fatalf("resolved %d while Stripe is down", n)
	}
	row, _ := br.DB.Event.Get(ctx, "evt_refund")
	if row.State != database.EventUnresolved || row.Attempts != 1 || !row.NextAttemptAt.After(now) {
		t.Fatalf("after a failed lookup: %+v", row)
	}

	// Stripe is back: the next pass after the backoff queues it for its customer.
	peer.chargesDown.Store(false)
	if n := br.resolvePending(ctx, br.customerResolver(), row.NextAttemptAt); n != 1 {
		t.Fatalf("resolved %d, want 1", n)
	}
	row, _ = br.DB.Event.Get(ctx, "evt_refund")
	if row.State != database.EventPending || row.CustomerID != "cus_refund" {
		t.Errorf("after resolution: state %s customer %q", row.State, row.CustomerID)
	}
}
