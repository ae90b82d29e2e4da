package commands

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	matrixstripe "github.com/matrix-stripe/matrix-stripe"
	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// BenchmarkCommandOverhead measures what a read command costs beyond the
// Stripe calls it makes: `!stripe summary` sent by the room's customer,
// through the processor as the bridge wires it (the sender's role and the
// room's customer looked up in PostgreSQL, the reply sent to a homeserver
// that answers at once), with Stripe answering from memory; and, beside
// each command in the same run, the same four Stripe calls (customer,
// subscriptions, open invoices, last charge) made directly through the
// same client. overhead-p50-ms is the median of command minus calls.
func BenchmarkCommandOverhead(b *testing.B) {
	ctx := context.Background()
	fake := stripefake.New(stripefake.Options{Seed: 11})
	if err := fake.LoadScenarioFile("../internal/stripefake/testdata/basic.yaml"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fake.Close() })
	stripeSrv := httptest.NewServer(&replayStripe{next: fake})
	b.Cleanup(stripeSrv.Close)
	zero := int64(0)
	api := stripeapi.New(stripeapi.Options{Alias: "main", Key: fake.APIKey(), URL: stripeSrv.URL, MaxNetworkRetries: &zero, Log: zerolog.Nop()})

	db := database.New(dbtest.Postgres(b))
	if err := db.Upgrade(ctx); err != nil {
		b.Fatal(err)
	}
	const customerID = "cus_paid"
	if err := db.Account.Upsert(ctx, &database.Account{ID: "main", DisplayName: "main"}); err != nil {
		b.Fatal(err)
	}
	portal := database.NewPortal("main", customerID)
	portal.RoomID, portal.Name, portal.MatrixUserID = customerRoom, "Paula Paid", customer
	if err := db.Portal.Upsert(ctx, portal); err != nil {
		b.Fatal(err)
	}

	rec := &recorder{}
	hs := httptest.NewServer(rec)
	b.Cleanup(hs.Close)
	cli, err := mautrix.NewClient(hs.URL, "@stripebot:example.com", "token")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse([]byte(matrixstripe.ExampleConfig))
	if err != nil {
		b.Fatal(err)
	}
	// The per-sender rate limit would answer most of a benchmark's
	// commands with "too fast": each command comes a refill later.
	var clock atomic.Int64
	proc := NewProcessor(cli, &Deps{
		Config: cfg, Version: "bench", StartedAt: time.Now(),
		// As the bridge's roleIn answers for a customer: from the room's portal.
		Role: func(ctx context.Context, room id.RoomID, user id.UserID) config.Role {
			p, err := db.Portal.GetByRoom(ctx, room)
			if err == nil && p != nil && p.MatrixUserID == user {
				return config.RoleCustomer
			}
			return config.RoleNone
		},
		IsManagementRoom: func(context.Context, id.UserID, id.RoomID) bool { return false },
		Portal:           db.Portal.GetByRoom,
		API:              func(string) CustomerAPI { return api },
		Now:              func() time.Time { return time.Now().Add(time.Duration(clock.Load())) },
	})
	direct := func() {
		if _, err := api.Customer(ctx, customerID); err != nil {
			b.Fatal(err)
		}
		if _, err := api.Subscriptions(ctx, customerID); err != nil {
			b.Fatal(err)
		}
		if _, err := api.Invoices(ctx, customerID, string(stripe.InvoiceStatusOpen), maxShown); err != nil {
			b.Fatal(err)
		}
		if _, err := api.Charges(ctx, customerID, 1); err != nil {
			b.Fatal(err)
		}
	}
	command := func() {
		clock.Add(int64(commandBurst * commandRefill))
		proc.Handle(ctx, message(customerRoom, customer, "!stripe summary"))
	}
	// Warm-up: fills the replay, the pools and the statement caches.
	for range 10 {
		command()
		direct()
	}
	var commands, calls, overheads []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		command()
		took := time.Since(start)
		b.StopTimer()
		start = time.Now()
		direct()
		callsTook := time.Since(start)
		b.StartTimer()
		commands = append(commands, took)
		calls = append(calls, callsTook)
		overheads = append(overheads, took-callsTook)
	}
	b.StopTimer()
	replies := rec.replies()
	if len(replies) != 10+b.N {
		b.Fatalf("%d replies to %d commands", len(replies), 10+b.N)
	}
	if last := replies[len(replies)-1].Body; !strings.Contains(last, "Paula Paid") || !strings.Contains(last, "Subscription") {
		b.Fatalf("summary reply: %s", last)
	}
	overhead := median(overheads)
	b.ReportMetric(ms(median(commands)), "command-p50-ms")
	b.ReportMetric(ms(median(calls)), "stripe-calls-p50-ms")
	b.ReportMetric(ms(overhead), "overhead-p50-ms")
	b.ReportMetric(2/max(ms(overhead), 0.001), "x-target")
}

func median(d []time.Duration) time.Duration {
	sorted := slices.Clone(d)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// replayStripe answers each GET from memory after the first time it has
// asked next for it: a Stripe that answers at once, so that what is left
// of a command's time is the bridge's.
type replayStripe struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string]*httptest.ResponseRecorder
}

func (r *replayStripe) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		r.next.ServeHTTP(w, req)
		return
	}
	key := req.URL.RequestURI()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]*httptest.ResponseRecorder{}
	}
	answer := r.seen[key]
	if answer == nil {
		answer = httptest.NewRecorder()
		r.next.ServeHTTP(answer, req)
		r.seen[key] = answer
	}
	for k, v := range answer.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(answer.Code)
	_, _ = w.Write(answer.Body.Bytes())
}
