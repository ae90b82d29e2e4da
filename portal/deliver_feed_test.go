package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// sendingHS puts message sends, joins and registration in front of fakeHS.
// Sends are recorded and deduplicated by transaction id per access token,
// the way a homeserver does (and the way Dendrite scopes them: not per
// room), so a retried send returns the first event.
type sendingHS struct {
	mu    sync.Mutex
	sends []recordedSend        // every PUT, retries included
	byTxn map[string]id.EventID // txn id → event
	posts []recordedSend        // sends that made a new event
}

type recordedSend struct {
	room, txn, body string
}

func newSendingHS(t *testing.T) (*sendingHS, *httptest.Server) {
	hs := &sendingHS{byTxn: map[string]id.EventID{}}
	return hs, newSendingServer(t, func(mux *http.ServeMux) {
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn}", hs.send)
	})
}

// newSendingServer is the fake homeserver of the delivery tests: the routes
// given here (sends, history), joins and registrations that always work,
// and everything else (room creation, state) from newFakeHS.
func newSendingServer(t *testing.T, routes func(mux *http.ServeMux)) *httptest.Server {
	_, inner := newFakeHS(t, "down.example")
	target, _ := url.Parse(inner.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	mux := http.NewServeMux()
	routes(mux)
	joined := func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]string{"room_id": r.PathValue("room")})
	}
	mux.HandleFunc("POST /_matrix/client/v3/join/{room}", joined)
	mux.HandleFunc("POST /_matrix/client/v3/rooms/{room}/join", joined)
	mux.HandleFunc("POST /_matrix/client/v3/register", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, map[string]string{"user_id": r.URL.Query().Get("user_id")})
	})
	mux.Handle("/", proxy)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func (hs *sendingHS) send(w http.ResponseWriter, r *http.Request) {
	var content struct {
		Body string `json:"body"`
	}
	_ = json.NewDecoder(r.Body).Decode(&content)
	s := recordedSend{room: r.PathValue("room"), txn: r.PathValue("txn"), body: content.Body}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.sends = append(hs.sends, s)
	eventID, seen := hs.byTxn[s.txn]
	if !seen {
		eventID = id.EventID(fmt.Sprintf("$event%d", len(hs.byTxn)+1))
		hs.byTxn[s.txn] = eventID
		hs.posts = append(hs.posts, s)
	}
	reply(w, http.StatusOK, map[string]string{"event_id": string(eventID)})
}

func (hs *sendingHS) recorded() (sends, posts []recordedSend) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return append([]recordedSend(nil), hs.sends...), append([]recordedSend(nil), hs.posts...)
}

func inboxRow(t *testing.T, fixture, customerID string) *database.Event {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixtureDir, fixture))
	if err != nil {
		t.Fatal(err)
	}
	evt := loadEvent(t, fixture)
	return &database.Event{ID: evt.ID, AccountID: "main", CustomerID: customerID, Type: string(evt.Type), Payload: raw}
}

// An event for both audiences is one message in the customer's room and
// one line in the feed room, each with its own deterministic transaction
// id: delivering it again (a crash before the outcome was recorded) makes no
// new message in either room, and both are in the message map.
func TestDeliverCustomerMessageAndFeedLine(t *testing.T) {
	hs, srv := newSendingHS(t)
	m := newTestManager(t, srv)
	ctx := context.Background()
	const customerID = "cus_PRrPqNXdZ3aB1c"
	portal, err := m.EnsurePortal(ctx, "main", customerID, &stripe.Customer{ID: customerID, Name: "Ada Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	opts := RenderOptions{DashboardLink: m.Config.Account("main").DashboardLink}
	row := inboxRow(t, "charge.failed_insufficient_funds.json", customerID)

	first, err := m.Deliver(ctx, row, opts)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := m.DB.Account.Get(ctx, "main")
	if err != nil || acct.FeedRoomID == "" {
		t.Fatalf("no feed room: %+v %v", acct, err)
	}
	again, err := m.Deliver(ctx, row, opts)
	if err != nil {
		t.Fatal(err)
	}

	sends, posts := hs.recorded()
	if len(sends) != 4 || len(posts) != 2 {
		t.Fatalf("%d sends made %d messages, want 4 sends (two deliveries × two rooms) making 2: %+v", len(sends), len(posts), sends)
	}
	customer, feed := posts[0], posts[1]
	if customer.room != string(portal.RoomID) || feed.room != string(acct.FeedRoomID) {
		t.Errorf("posted into %s and %s, want the customer's room %s, then the feed room %s", customer.room, feed.room, portal.RoomID, acct.FeedRoomID)
	}
	ghost := m.Config.GhostMXID("main")
	if customer.txn != TxnID(ghost, row.ID) || feed.txn != FeedTxnID(ghost, row.ID) || customer.txn == feed.txn {
		t.Errorf("transaction ids %s / %s, want TxnID then FeedTxnID", customer.txn, feed.txn)
	}
	if strings.Contains(customer.body, "ch_") || strings.Contains(customer.body, "dashboard") || !strings.Contains(customer.body, "Your payment didn't go through") {
		t.Errorf("customer message %q", customer.body)
	}
	if !strings.Contains(feed.body, "`charge.failed`") || !strings.Contains(feed.body, "dashboard.stripe.com/test/payments/ch_") {
		t.Errorf("feed line %q", feed.body)
	}

	for _, res := range []*Result{first, again} {
		if res.RoomID != portal.RoomID || res.MatrixEventID != "$event1" || len(res.Messages) != 2 {
			t.Fatalf("result %+v, want the customer's message first and two message rows", res)
		}
		if res.Messages[1].RoomID != acct.FeedRoomID || res.Messages[1].MatrixEventID != "$event2" ||
			res.Messages[1].StripeObjectID != "ch_3Of0b3LkdIwHu7ix1Dc1nEd0" || res.Messages[1].StripeEventID != row.ID {
			t.Errorf("feed message row %+v", res.Messages[1])
		}
	}
}

// Types with no customer value post nothing in the customer's room; the
// result says why, and nothing is sent anywhere.
func TestDeliverSkipsWhatSaysNothing(t *testing.T) {
	hs, srv := newSendingHS(t)
	m := newTestManager(t, srv)
	ctx := context.Background()
	const customerID = "cus_PRrPqNXdZ3aB1c"
	if _, err := m.EnsurePortal(ctx, "main", customerID, &stripe.Customer{ID: customerID, Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	for _, fixture := range []string{"payment_intent.succeeded.json", "invoice.payment_succeeded.json", "customer.updated_metadata_only.json"} {
		res, err := m.Deliver(ctx, inboxRow(t, fixture, customerID), RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Skipped || res.SkipReason == "" || len(res.Messages) != 0 {
			t.Errorf("%s: %+v, want skipped with a reason", fixture, res)
		}
	}
	if sends, _ := hs.recorded(); len(sends) != 0 {
		t.Errorf("sent %+v", sends)
	}
}
