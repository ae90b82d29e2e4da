package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/webhook"
)

const benchCustomers = 10

// chargeEvent is a small, realistic charge.succeeded event for customer.
func chargeEvent(n int, customer string) []byte {
	return fmt.Appendf(nil, `{"id":"evt_bench_%06d","object":"event","api_version":"2023-10-16","created":%d,"type":"charge.succeeded","livemode":false,
"data":{"object":{"id":"ch_bench_%06d","object":"charge","amount":1250,"currency":"usd","customer":%q,"status":"succeeded","paid":true,
"payment_method_details":{"type":"card","card":{"brand":"visa","last4":"4242"}},"receipt_url":"https://pay.stripe.com/receipts/x"}}}`,
		n, time.Now().Unix(), n, customer)
}

func deliveredCount(b *testing.B, s *stack) int {
	var n int
	if err := s.bridge.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM stripe_event WHERE state='delivered'").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkDelivery measures inbox → Matrix throughput with the bridge's
// delivery workers over benchCustomers rooms that already exist.
func BenchmarkDelivery(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchDelivery(b, "", "") })
	b.Run("postgres", func(b *testing.B) { benchDelivery(b, "postgres", dbtest.PostgresURI(b)) })
}

func benchDelivery(b *testing.B, dbType, dbURI string) {
	fake := newFake(b)
	s := startStack(b, stackOptions{stripeURL: fake.URL(), dbType: dbType, dbURI: dbURI})
	ctx := context.Background()
	var customers []string
	for i := range benchCustomers {
		cus, err := fake.Client().Customers.New(&stripe.CustomerParams{Name: stripe.String(fmt.Sprintf("Bench %d", i))})
		if err != nil {
			b.Fatal(err)
		}
		customers = append(customers, cus.ID)
	}
	insert := func(from, count int) {
		for i := from; i < from+count; i++ {
			row, err := webhook.InboxEvent("main", chargeEvent(i, customers[i%len(customers)]), time.Now())
			if err != nil {
				b.Fatal(err)
			}
			if _, err = s.bridge.DB.Event.Insert(ctx, row); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Rooms are created outside the measurement.
	insert(0, benchCustomers)
	waitFor(b, 60*time.Second, "rooms", func() (bool, string) { return deliveredCount(b, s) == benchCustomers, "" })

	b.ResetTimer()
	start := time.Now()
	insert(benchCustomers, b.N)
	waitFor(b, 10*time.Minute, "delivery", func() (bool, string) {
		return deliveredCount(b, s) == benchCustomers+b.N, ""
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkBareSend is the ceiling: the same homeserver, rooms with the same
// members as customer rooms (bot, ghost, an invited agent: Dendrite's cost
// per send grows with members), as many concurrent senders as delivery
// workers, and nothing but sends.
func BenchmarkBareSend(b *testing.B) {
	s := startStack(b, stackOptions{stripeURL: newFake(b).URL()})
	ctx := context.Background()
	ghost := s.bridge.Portal.Ghost("main")
	var rooms []id.RoomID
	for range benchCustomers {
		resp, err := s.bridge.Bot.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Preset: "private_chat", Invite: []id.UserID{ghost.UserID, "@agent:localhost"},
		})
		if err != nil {
			b.Fatal(err)
		}
		if err = ghost.EnsureJoined(ctx, resp.RoomID); err != nil {
			b.Fatal(err)
		}
		rooms = append(rooms, resp.RoomID)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range s.cfg.Bridge.DeliveryWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1)) - 1
				if n >= b.N {
					return
				}
				content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: fmt.Sprintf("bare send %d", n)}
				if _, err := ghost.SendMessageEvent(ctx, rooms[n%len(rooms)], event.EventMessage, content); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sends/s")
}
