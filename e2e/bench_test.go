package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/portal"
	"github.com/matrix-stripe/matrix-stripe/webhook"
)

const benchCustomers = 10

// chargeEvent is a small, realistic charge.succeeded event for customer. It
// belongs to a happening (its charge), so the hold window applies to it.
func chargeEvent(n int, customer string) []byte {
	return fmt.Appendf(nil, `{"id":"evt_bench_%06d","object":"event","api_version":"2023-10-16","created":%d,"type":"charge.succeeded","livemode":false,
"data":{"object":{"id":"ch_bench_%06d","object":"charge","amount":1250,"currency":"usd","customer":%q,"status":"succeeded","paid":true,
"payment_method_details":{"type":"card","card":{"brand":"visa","last4":"4242"}},"receipt_url":"https://pay.stripe.com/receipts/x"}}}`,
		n, time.Now().Unix(), n, customer)
}

// benchStack is a bridge with benchCustomers customers whose rooms exist.
type benchStack struct {
	*stack
	fake      *stripefake.Server
	customers []string
}

// startBenchStack starts the stack with the given hold window (the example
// config's 3 s otherwise) and creates the customers' rooms.
func startBenchStack(b *testing.B, dbType, dbURI, hold string) *benchStack {
	b.Helper()
	fake := newFake(b)
	s := &benchStack{stack: startStack(b, stackOptions{stripeURL: fake.URL(), dbType: dbType, dbURI: dbURI}), fake: fake}
	if s.cfg.Bridge.HoldWindow != hold {
		// Before any customer exists, so that the restart's catch-up finds
		// nothing to deliver.
		s.bridge.Stop()
		cfg := *s.cfg
		cfg.Bridge.HoldWindow = hold
		s.cfg = &cfg
		s.bridge = s.startBridge(b, &cfg)
	}
	for i := range benchCustomers {
		cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String(fmt.Sprintf("Bench %d", i))})
		if err != nil {
			b.Fatal(err)
		}
		s.customers = append(s.customers, cus.ID)
	}
	for i := range benchCustomers {
		s.post(b, i)
	}
	waitFor(b, 60*time.Second, "rooms", func() (bool, string) { return s.delivered(b) == benchCustomers, "" })
	return s
}

// post hands the bridge event n (for customer n mod benchCustomers) the way
// Stripe does, through the webhook handler (signature, storing, waking the
// workers), without the network in between.
func (s *benchStack) post(b *testing.B, n int) {
	payload := chargeEvent(n, s.customers[n%len(s.customers)])
	req := httptest.NewRequest(http.MethodPost, "/stripe/webhook/main", bytes.NewReader(payload))
	req.SetPathValue("account", "main")
	req.Header.Set("Stripe-Signature", stripefake.SignatureHeader(payload, webhookSecret, time.Now()))
	rec := httptest.NewRecorder()
	s.bridge.Webhook.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("webhook answered %d", rec.Code)
	}
}

// store puts event n in the inbox the way another bridge process's webhook
// would: nothing tells this process's workers.
func (s *benchStack) store(b *testing.B, n int) {
	row, err := webhook.InboxEvent("main", chargeEvent(n, s.customers[n%len(s.customers)]), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if _, err = s.bridge.DB.Event.Insert(context.Background(), row); err != nil {
		b.Fatal(err)
	}
}

func (s *benchStack) delivered(b *testing.B) int {
	var n int
	err := s.bridge.DB.QueryRow(context.Background(),
		"SELECT COUNT(*) FROM stripe_event WHERE state='delivered' AND event_id LIKE 'evt_bench_%'").Scan(&n)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkDelivery measures webhook → inbox → Matrix throughput with the
// bridge's delivery workers over benchCustomers rooms that already exist.
// The hold window is off: it is latency, which BenchmarkHoldLatency
// measures, not work.
//
// It also measures the ceiling itself, as BenchmarkBareSend does, on the
// same homeserver in rounds of benchRound that alternate with the
// delivery's, and reports the ratio (x-bare): on a shared machine the
// homeserver's pace drifts by more than the difference being measured
// between two benchmarks run a minute apart.
func BenchmarkDelivery(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchDelivery(b, "", "") })
	b.Run("postgres", func(b *testing.B) { benchDelivery(b, "postgres", dbtest.PostgresURI(b)) })
}

const benchRound = 100

func benchDelivery(b *testing.B, dbType, dbURI string) {
	s := startBenchStack(b, dbType, dbURI, "0s")
	bare := newBareSender(b, s.stack, s.fake)
	bare.copyDelivered(b, fmt.Sprintf("evt_bench_%06d", 0))
	ctx := context.Background()
	var delivering, sending time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		count := min(benchRound, b.N-done)
		from := benchCustomers + done
		start := time.Now()
		for i := range count {
			s.post(b, from+i)
		}
		waitFor(b, 10*time.Minute, "delivery", func() (bool, string) {
			return s.delivered(b) == from+count, ""
		})
		// The round ends when its last event was recorded, not when the
		// poll above noticed.
		var last int64
		err := s.bridge.DB.QueryRow(ctx, "SELECT MAX(delivered_at) FROM stripe_event WHERE event_id LIKE 'evt_bench_%'").Scan(&last)
		if err != nil {
			b.Fatal(err)
		}
		delivering += time.UnixMilli(last).Sub(start)
		b.StopTimer()
		sending += bare.send(b, done, count)
		b.StartTimer()
		done += count
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/delivering.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/sending.Seconds(), "bare-sends/s")
	b.ReportMetric(sending.Seconds()/delivering.Seconds(), "x-bare")
}

// BenchmarkHoldLatency measures how long a single event (nothing else
// waiting) takes from its arrival (received_at) to its delivery
// (delivered_at), with the hold window off and at the example config's
// 3 s, for an event that arrives by webhook at this process (which wakes
// its workers) and for one that another process stored (nothing wakes
// them: they find it when they poll). Each op is one event, so a few ops
// suffice: -benchtime 10x.
func BenchmarkHoldLatency(b *testing.B) {
	for _, dialect := range []struct{ name, dbType string }{{"sqlite", ""}, {"postgres", "postgres"}} {
		b.Run(dialect.name, func(b *testing.B) {
			for _, hold := range []string{"0s", "3s"} {
				b.Run("hold="+hold, func(b *testing.B) {
					uri := ""
					if dialect.dbType != "" {
						uri = dbtest.PostgresURI(b)
					}
					s := startBenchStack(b, dialect.dbType, uri, hold)
					next := benchCustomers
					b.Run("webhook", func(b *testing.B) { benchHoldLatency(b, s, &next, s.post) })
					b.Run("elsewhere", func(b *testing.B) { benchHoldLatency(b, s, &next, s.store) })
				})
			}
		})
	}
}

func benchHoldLatency(b *testing.B, s *benchStack, next *int, arrive func(b *testing.B, n int)) {
	var latencies []time.Duration
	b.ResetTimer()
	for range b.N {
		n := *next
		*next++
		arrive(b, n)
		eventID := fmt.Sprintf("evt_bench_%06d", n)
		var ms int64
		waitFor(b, 30*time.Second, eventID+" delivered", func() (bool, string) {
			err := s.bridge.DB.QueryRow(context.Background(),
				"SELECT delivered_at - received_at FROM stripe_event WHERE event_id=$1 AND state='delivered'", eventID).Scan(&ms)
			if errors.Is(err, sql.ErrNoRows) {
				return false, "not delivered"
			} else if err != nil {
				b.Fatal(err)
			}
			return true, ""
		})
		latencies = append(latencies, time.Duration(ms)*time.Millisecond)
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	var sum time.Duration
	for _, l := range latencies {
		sum += l
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(latencies)), "mean-ms")
	b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Milliseconds()), "max-ms")
}

// BenchmarkBareSend is the ceiling on its own: plain notices into customer
// rooms, as many at once as delivery workers, and nothing but sends.
func BenchmarkBareSend(b *testing.B) {
	fake := newFake(b)
	s := startStack(b, stackOptions{stripeURL: fake.URL()})
	bare := newBareSender(b, s, fake)
	b.ResetTimer()
	took := bare.send(b, 0, b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/took.Seconds(), "sends/s")
}

// bareSender sends messages as the account's ghost into customer rooms of
// its own, made by the bridge's room code for customers that get no events
// (the homeserver's cost per send grows with a room's state: a room of its
// own making, with fewer state events, made the ceiling 20% higher), as
// many at once as the bridge has delivery workers.
type bareSender struct {
	s     *stack
	ghost *appservice.IntentAPI
	rooms []id.RoomID
	// content is a delivered message to send copies of (copyDelivered); nil:
	// plain notices.
	content map[string]any
}

func newBareSender(b *testing.B, s *stack, fake *stripefake.Server) *bareSender {
	ctx := context.Background()
	bs := &bareSender{s: s, ghost: s.bridge.Portal.Ghost("main")}
	for i := range benchCustomers {
		cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String(fmt.Sprintf("Bare %d", i))})
		if err != nil {
			b.Fatal(err)
		}
		room, err := s.bridge.Portal.EnsurePortal(ctx, "main", cus.ID, cus)
		if err != nil {
			b.Fatal(err)
		}
		bs.rooms = append(bs.rooms, room.RoomID)
	}
	return bs
}

// copyDelivered makes the sender send copies of the message the bridge
// delivered for stripeEventID: the homeserver's cost per send grows with
// the content too.
func (bs *bareSender) copyDelivered(b *testing.B, stripeEventID string) {
	ctx := context.Background()
	var room id.RoomID
	var eventID id.EventID
	err := bs.s.bridge.DB.QueryRow(ctx, `SELECT room_id, matrix_event_id FROM message WHERE stripe_event_id=$1`, stripeEventID).Scan(&room, &eventID)
	if err != nil {
		b.Fatalf("find the message of %s: %v", stripeEventID, err)
	}
	evt, err := bs.s.bridge.Bot.GetEvent(ctx, room, eventID)
	if err != nil {
		b.Fatal(err)
	}
	bs.content = evt.Content.Raw
}

// send sends messages from..from+count and returns how long they took.
func (bs *bareSender) send(b *testing.B, from, count int) time.Duration {
	ctx := context.Background()
	next := atomic.Int64{}
	next.Store(int64(from))
	var wg sync.WaitGroup
	start := time.Now()
	for range bs.s.cfg.Bridge.DeliveryWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1)) - 1
				if n >= from+count {
					return
				}
				var content any = &event.MessageEventContent{MsgType: event.MsgNotice, Body: fmt.Sprintf("bare send %d", n)}
				if bs.content != nil {
					copied := maps.Clone(bs.content)
					// Each copy is a new message, as each delivery is.
					copied[portal.MarkerEventKey] = fmt.Sprintf("evt_bare_%06d", n)
					content = copied
				}
				if _, err := bs.ghost.SendMessageEvent(ctx, bs.rooms[n%len(bs.rooms)], event.EventMessage, content); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
