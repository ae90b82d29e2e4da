package portal

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// LimitSends bounds the deliveries' sends in flight at once, however many
// workers deliver: bridge.delivery_workers is the bridge's concurrency
// towards the homeserver, while more workers do the database work around
// the sends.
func TestLimitSendsBoundsSendsInFlight(t *testing.T) {
	const slots, deliveries = 2, 8
	var inFlight, most atomic.Int32
	arrived := make(chan struct{}, deliveries)
	release := make(chan struct{})
	srv := newSendingServer(t, func(mux *http.ServeMux) {
		mux.HandleFunc("PUT /_matrix/client/v3/rooms/{room}/send/{type}/{txn}", func(w http.ResponseWriter, r *http.Request) {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			arrived <- struct{}{}
			<-release
			inFlight.Add(-1)
			reply(w, http.StatusOK, map[string]string{"event_id": "$" + r.PathValue("txn")})
		})
	})
	// Before the server's own cleanup: a failed test leaves sends held.
	t.Cleanup(func() { close(release) })
	m := newTestManager(t, srv)
	m.LimitSends(slots)
	const customerID = "cus_PRrPqNXdZ3aB1c"
	portal, err := m.EnsurePortal(context.Background(), "main", customerID, &stripe.Customer{ID: customerID, Name: "Ada Lovelace"})
	if err != nil {
		t.Fatal(err)
	}
	ghost := m.Ghost("main")
	var wg sync.WaitGroup
	errs := make(chan error, deliveries)
	for i := range deliveries {
		row := inboxRow(t, "charge.failed_insufficient_funds.json", customerID)
		row.ID = fmt.Sprintf("evt_slot_%d", i)
		row.Attempts = 1
		rendering, err := Render(decodeStored(row), RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.sendOnce(context.Background(), ghost, portal.RoomID, row, rendering.Customer, CopyCustomer, TxnID(ghost.UserID, row.ID))
			errs <- err
		}()
	}
	// The first slots sends arrive and are held; the others wait for a
	// slot, however long the held ones take.
	for range slots {
		<-arrived
	}
	select {
	case <-arrived:
		t.Fatalf("a send arrived while %d were in flight", slots)
	case <-time.After(200 * time.Millisecond):
	}
	// Each send that ends lets one waiting send in.
	for i := range deliveries {
		release <- struct{}{}
		if i+slots < deliveries {
			<-arrived
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := most.Load(); got != slots {
		t.Errorf("at most %d sends were in flight at once, want %d", got, slots)
	}
}
