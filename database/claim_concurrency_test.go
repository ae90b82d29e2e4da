package database_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// TestClaimConcurrent stands in for two bridge processes: two workers, each
// with its own connection pool, drain one inbox. SQLite runs it too, as two
// pools on one file.
func TestClaimConcurrent(t *testing.T) {
	dialects := []struct {
		name, driver string
		uri          func(testing.TB) string
	}{
		{"sqlite", "sqlite3-fk-wal", dbtest.SQLiteURI},
		{"postgres", "postgres", dbtest.PostgresURI},
	}
	for _, dialect := range dialects {
		t.Run(dialect.name, func(t *testing.T) {
			uri := dialect.uri(t)
			open := func() *database.Database {
				raw, err := dbutil.NewWithDialect(uri, dialect.driver)
				must(t, err)
				t.Cleanup(func() { _ = raw.Close() })
				return upgraded(t, raw)
			}
			runClaimRace(t, open(), open())
		})
	}
}

func runClaimRace(t *testing.T, workers ...*database.Database) {
	const customers, perCustomer = 20, 10
	const total = customers * perCustomer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Insert in shuffled order so arrival order says nothing about created order.
	var events []*database.Event
	for c := range customers {
		for i := range perCustomer {
			// Created interleaves customers; each customer's events are 1..10 s apart.
			events = append(events, inboxEvent(fmt.Sprintf("evt_%02d_%02d", c, i), fmt.Sprintf("cus_%02d", c), int64(i*customers+c)))
		}
	}
	rand.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	insertEvents(t, workers[0], events...)

	var (
		mu        sync.Mutex
		claimedBy = map[string]string{}
		delivered = map[string][]string{} // customer → event ids in MarkDelivered order
		perWorker = make([]int, len(workers))
		done      atomic.Int64
		wg        sync.WaitGroup
		start     = make(chan struct{})
		errs      = make(chan error, len(workers))
	)
	for w, db := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			workerID := fmt.Sprintf("worker-%d", w)
			<-start
			for done.Load() < total {
				evt, err := db.Event.ClaimNext(ctx, workerID, time.Minute, time.Now())
				if err != nil {
					errs <- fmt.Errorf("%s: ClaimNext: %w", workerID, err)
					return
				}
				if evt == nil {
					// Every customer's head is with the other worker.
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				if other, dup := claimedBy[evt.ID]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("%s claimed by both %s and %s", evt.ID, other, workerID)
					return
				}
				claimedBy[evt.ID] = workerID
				perWorker[w]++
				// Recorded before MarkDelivered: the customer's next event
				// cannot be claimed until that has committed.
				delivered[evt.CustomerID] = append(delivered[evt.CustomerID], evt.ID)
				mu.Unlock()
				// Stands in for the Matrix send; without it one SQLite pool
				// can win every write lock and the race is never run.
				time.Sleep(300 * time.Microsecond)
				if err = db.Event.MarkDelivered(ctx, evt.ID, id.EventID("$"+evt.ID), time.Now()); err != nil {
					errs <- fmt.Errorf("%s: MarkDelivered: %w", workerID, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	if len(claimedBy) != total {
		t.Errorf("claimed %d events, want %d", len(claimedBy), total)
	}
	for c := range customers {
		customerID := fmt.Sprintf("cus_%02d", c)
		var want []string
		for i := range perCustomer {
			want = append(want, fmt.Sprintf("evt_%02d_%02d", c, i))
		}
		if got := delivered[customerID]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s delivered as %v, want %v", customerID, got, want)
		}
	}
	for w, n := range perWorker {
		if n == 0 {
			t.Errorf("worker-%d claimed nothing: the race was not exercised", w)
		}
	}
	t.Logf("claims per worker: %v", perWorker)
}

// TestClaimConcurrentLateArrivals is the race the per-customer claim lock
// exists for: while a customer's event is claimed, an earlier event of the
// customer arrives (Stripe does not send in order), and another process's
// claim sees the newcomer as the customer's head. It must not claim it
// until the first delivery is recorded: one delivery per customer at a
// time. Four workers over two pools; every event is claimed once. (Without
// the lock, a run catches the race about 6 times in 10.)
func TestClaimConcurrentLateArrivals(t *testing.T) {
	dialects := []struct {
		name, driver string
		uri          func(testing.TB) string
	}{
		{"sqlite", "sqlite3-fk-wal", dbtest.SQLiteURI},
		{"postgres", "postgres", dbtest.PostgresURI},
	}
	for _, dialect := range dialects {
		t.Run(dialect.name, func(t *testing.T) {
			uri := dialect.uri(t)
			open := func() *database.Database {
				raw, err := dbutil.NewWithDialect(uri, dialect.driver)
				must(t, err)
				t.Cleanup(func() { _ = raw.Close() })
				return upgraded(t, raw)
			}
			first, second := open(), open()
			runLateArrivalRace(t, first, second, first, second)
		})
	}
}

func runLateArrivalRace(t *testing.T, workers ...*database.Database) {
	const customers, perCustomer = 4, 100
	const total = customers * perCustomer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var (
		mu        sync.Mutex
		inFlight  = map[string]string{} // customer → the event being "sent"
		claimedBy = map[string]string{}
		overlaps  atomic.Int64
		done      atomic.Int64
		wg        sync.WaitGroup
		errs      = make(chan error, len(workers)+1)
	)
	// Each customer's events arrive newest first, a few at a time, so the
	// customer's head keeps moving back while its later events are claimed.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := perCustomer - 1; i >= 0; i-- {
			for c := range customers {
				evt := inboxEvent(fmt.Sprintf("evt_%02d_%02d", c, i), fmt.Sprintf("cus_%02d", c), int64(1000+i))
				if _, err := workers[0].Event.Insert(ctx, evt); err != nil {
					errs <- fmt.Errorf("insert: %w", err)
					return
				}
			}
			time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		}
	}()
	for w, db := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			workerID := fmt.Sprintf("worker-%d", w)
			for done.Load() < total && ctx.Err() == nil {
				evt, err := db.Event.ClaimNext(ctx, workerID, time.Minute, time.Now())
				if err != nil {
					errs <- fmt.Errorf("%s: ClaimNext: %w", workerID, err)
					return
				}
				if evt == nil {
					time.Sleep(100 * time.Microsecond)
					continue
				}
				mu.Lock()
				if other, dup := claimedBy[evt.ID]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("%s claimed by both %s and %s", evt.ID, other, workerID)
					return
				}
				claimedBy[evt.ID] = workerID
				if other, busy := inFlight[evt.CustomerID]; busy {
					overlaps.Add(1)
					t.Errorf("%s claimed %s while %s of the same customer was being delivered", workerID, evt.ID, other)
				}
				inFlight[evt.CustomerID] = evt.ID
				mu.Unlock()
				time.Sleep(time.Duration(200+rand.IntN(800)) * time.Microsecond)
				// Out of flight before the record commits: the customer's
				// next claim can only follow the commit.
				mu.Lock()
				delete(inFlight, evt.CustomerID)
				mu.Unlock()
				if err = db.Event.MarkDelivered(ctx, evt.ID, id.EventID("$"+evt.ID), time.Now()); err != nil {
					errs <- fmt.Errorf("%s: MarkDelivered: %w", workerID, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(claimedBy); got != total {
		t.Errorf("claimed %d events, want %d", got, total)
	}
	if n := overlaps.Load(); n > 0 {
		t.Errorf("%d claims while the customer was busy", n)
	}
}
