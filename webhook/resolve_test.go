package webhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// fakeLookup stands in for Stripe's charge → customer lookup.
type fakeLookup struct {
	mu        sync.Mutex
	customers map[string]string // object id → customer
	err       error
	asked     []string
}

func (l *fakeLookup) lookup(_ context.Context, alias, objectID string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asked = append(l.asked, alias+"/"+objectID)
	if l.err != nil {
		return "", l.err
	}
	return l.customers[objectID], nil
}

func (l *fakeLookup) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.asked...)
}

func TestWebhookResolvesCustomerBeforeQueueing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, raw *dbutil.Database) {
		db := upgraded(t, raw)
		lookup := &fakeLookup{customers: map[string]string{"ch_stripe_only": "cus_from_stripe"}}
		f := newDBFixture(t, db)
		f.handler.resolver = &Resolver{Known: db.Event, Lookup: lookup.lookup}

		// The charge arrives first and names its customer; the inbox remembers it.
		expectStatus(t, f.deliver(eventJSON("evt_charge", "charge.succeeded",
			`{"id":"ch_seen","object":"charge","customer":"cus_seen","payment_intent":"pi_seen"}`)), http.StatusOK)

		cases := []struct {
			name, id, typ, object, customer string
			askedStripe                     bool
		}{
			{"refund of a charge the inbox has seen", "evt_refund_seen", "refund.created",
				`{"id":"re_1","object":"refund","charge":"ch_seen","payment_intent":"pi_seen"}`, "cus_seen", false},
			{"refund update without customer", "evt_refund_updated", "charge.refund.updated",
				`{"id":"re_1","object":"refund","charge":"ch_seen"}`, "cus_seen", false},
			{"detached payment method", "evt_detached", "payment_method.detached",
				`{"id":"pm_1","object":"payment_method","customer":null}`, "cus_prev", false},
			{"dispute with its charge expanded", "evt_dispute_expanded", "charge.dispute.created",
				`{"id":"dp_1","object":"dispute","charge":{"id":"ch_x","object":"charge","customer":"cus_expanded"}}`, "cus_expanded", false},
			{"dispute of a charge only Stripe knows", "evt_dispute_stripe", "charge.dispute.created",
				`{"id":"dp_2","object":"dispute","charge":"ch_stripe_only","payment_intent":"pi_2"}`, "cus_from_stripe", true},
			{"a guest's charge is nobody's", "evt_guest", "charge.succeeded",
				`{"id":"ch_guest","object":"charge","customer":null,"payment_intent":"pi_guest"}`, "", false},
			{"a refund of a guest's charge is nobody's", "evt_guest_refund", "refund.created",
				`{"id":"re_g","object":"refund","charge":"ch_guest_unknown"}`, "", true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := len(lookup.calls())
				payload := eventJSON(tc.id, tc.typ, tc.object)
				if tc.typ == "payment_method.detached" {
					payload = []byte(strings.Replace(string(payload), `"data": {"object": `,
						`"data": {"previous_attributes": {"customer": "cus_prev"}, "object": `, 1))
				}
				expectStatus(t, f.deliver(payload), http.StatusOK)
				got := f.stored(tc.id)
				if got.CustomerID != tc.customer || got.State != database.EventPending {
					t.Errorf("stored with customer %q in state %s, want %q pending", got.CustomerID, got.State, tc.customer)
				}
				if asked := len(lookup.calls()) > before; asked != tc.askedStripe {
					t.Errorf("asked Stripe: %v, want %v (%v)", asked, tc.askedStripe, lookup.calls())
				}
			})
		}
		if got := f.stored("evt_refund_seen").ObjectID; got != "re_1" {
			t.Errorf("object id %q", got)
		}
	})
}

func TestWebhookStoresUnresolvedWhenStripeFails(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, raw *dbutil.Database) {
		db := upgraded(t, raw)
		lookup := &fakeLookup{err: errors.New("stripe unreachable"), customers: map[string]string{"ch_1": "cus_1"}}
		f := newDBFixture(t, db)
		f.handler.resolver = &Resolver{Known: db.Event, Lookup: lookup.lookup}
		payload := eventJSON("evt_refund", "refund.created", `{"id":"re_1","object":"refund","charge":"ch_1"}`)

		// Never lose it: stored and acknowledged, but in nobody's queue yet.
		expectStatus(t, f.deliver(payload), http.StatusOK)
		got := f.stored("evt_refund")
		if got.State != database.EventUnresolved || got.CustomerID != "" {
			t.Fatalf("stored %s with customer %q, want unresolved", got.State, got.CustomerID)
		}
		if !strings.Contains(f.logs.String(), "resolve before delivery") {
			t.Errorf("no warning about the failed lookup:\n%s", f.logs)
		}
		if evt, err := db.Event.ClaimNext(context.Background(), "w", time.Minute, testNow()); err != nil || evt != nil {
			t.Fatalf("an unresolved event was claimed: %v %v", evt, err)
		}

		// Once Stripe answers, the stored payload resolves to the customer.
		lookup.mu.Lock()
		lookup.err = nil
		lookup.mu.Unlock()
		customerID, err := f.handler.resolver.CustomerOf(context.Background(), testAccount, got.Payload)
		if err != nil || customerID != "cus_1" {
			t.Fatalf("CustomerOf = %q, %v", customerID, err)
		}
	})
}

func TestResolverWithoutDependencies(t *testing.T) {
	var r *Resolver
	evt := &database.Event{AccountID: testAccount, Payload: eventJSON("evt_1", "refund.created",
		`{"id":"re_1","object":"refund","charge":{"id":"ch_1","customer":"cus_1"}}`)}
	if err := r.Resolve(context.Background(), evt); err != nil || evt.CustomerID != "cus_1" || evt.ObjectID != "re_1" {
		t.Errorf("nil resolver: %+v, %v", evt, err)
	}
	evt = &database.Event{AccountID: testAccount, Payload: eventJSON("evt_2", "refund.created",
		`{"id":"re_2","object":"refund","charge":"ch_2"}`)}
	if err := r.Resolve(context.Background(), evt); err != nil || evt.CustomerID != "" || evt.State != "" {
		t.Errorf("nil resolver with an unknown charge: %+v, %v", evt, err)
	}
}
