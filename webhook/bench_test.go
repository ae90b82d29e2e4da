package webhook

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// BenchmarkIngest measures signed webhook POSTs through the handler into a
// real inbox (verify, store durably, answer 2xx), one client at a time and
// two at once as Stripe sends them during a burst, each beside its
// baseline in the same run: a raw single-row INSERT of a row of the same
// size (the same payload) into a table with only a primary key, through
// the same connection pool at the same concurrency, in rounds that
// alternate with the ingest's so that both see the same disk.
//
// x-raw is the ingest's rate over the raw INSERT loop's (a plain
// parameterised ExecContext, as a raw loop is written); x-prepared is over
// the same loop with a prepared statement, the floor of one round trip and
// one commit per row. Signing each request is part of the ingest's loop; it
// costs microseconds next to the commit.
func BenchmarkIngest(b *testing.B) {
	dialects := []struct {
		name string
		open func(testing.TB) *dbutil.Database
	}{
		{"sqlite", dbtest.SQLite},
		{"postgres", dbtest.Postgres},
	}
	for _, d := range dialects {
		b.Run(d.name, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) { benchIngest(b, d.open(b), 1) })
			b.Run("clients-2", func(b *testing.B) { benchIngest(b, d.open(b), 2) })
		})
	}
}

// ingestRound is how many events each phase of a round stores.
const ingestRound = 200

// rawTable is the baseline's table: the payload and what identifies it.
const rawTable = `CREATE TABLE bench_raw_insert (
	event_id    TEXT   NOT NULL PRIMARY KEY,
	account_id  TEXT   NOT NULL,
	payload     TEXT   NOT NULL,
	received_at BIGINT NOT NULL
)`

const rawInsert = `INSERT INTO bench_raw_insert (event_id, account_id, payload, received_at) VALUES ($1, $2, $3, $4)`

func benchIngest(b *testing.B, raw *dbutil.Database, clients int) {
	ctx := context.Background()
	// The example config's pool, for the ingest and the baselines alike.
	raw.RawDB.SetMaxOpenConns(20)
	raw.RawDB.SetMaxIdleConns(8)
	h, next := benchHandler(b, raw)
	if _, err := raw.Exec(ctx, rawTable); err != nil {
		b.Fatal(err)
	}
	query := rawInsert
	if raw.Dialect == dbutil.SQLite {
		query = strings.NewReplacer("$1", "?1", "$2", "?2", "$3", "?3", "$4", "?4").Replace(query)
	}
	stmt, err := raw.RawDB.PrepareContext(ctx, query)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	var rawN atomic.Int64
	rawRow := func(prepared bool) func() {
		return func() {
			payload := next()
			args := []any{fmt.Sprintf("evt_raw_%d", rawN.Add(1)), testAccount, string(payload), time.Now().UnixMilli()}
			var err error
			if prepared {
				_, err = stmt.ExecContext(ctx, args...)
			} else {
				_, err = raw.RawDB.ExecContext(ctx, query, args...)
			}
			if err != nil {
				b.Error(err)
			}
		}
	}
	ingest := func() { benchPost(b, h, next()) }

	var ingesting, inserting, preparedInserting time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		count := min(ingestRound, b.N-done)
		ingesting += runClients(clients, count, ingest)
		b.StopTimer()
		inserting += runClients(clients, count, rawRow(false))
		preparedInserting += runClients(clients, count, rawRow(true))
		b.StartTimer()
		done += count
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/ingesting.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/inserting.Seconds(), "raw-inserts/s")
	b.ReportMetric(inserting.Seconds()/ingesting.Seconds(), "x-raw")
	b.ReportMetric(preparedInserting.Seconds()/ingesting.Seconds(), "x-prepared")
}

// runClients runs op count times from clients goroutines at once and
// returns how long that took.
func runClients(clients, count int, op func()) time.Duration {
	var left atomic.Int64
	left.Store(int64(count))
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				op()
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// benchHandler returns a handler on db and a source of distinct, realistic
// (about 2 KB) invoice events spread over 50 customers.
func benchHandler(b *testing.B, raw *dbutil.Database) (*Handler, func() []byte) {
	db := upgraded(b, raw)
	h := NewHandler(Options{
		Accounts: []Account{{Alias: testAccount, Secrets: []string{testSecret}}},
		Inbox:    db.Event,
		Log:      zerolog.Nop(),
	})
	lines := strings.Repeat(`{"object":"line_item","amount":1200,"currency":"eur","description":"1 × Pro plan (at €12.00 / month)"},`, 12)
	var n atomic.Int64
	return h, func() []byte {
		i := n.Add(1)
		object := fmt.Sprintf(`{"id":"in_%d","object":"invoice","customer":"cus_%d","amount_due":1200,"currency":"eur","status":"paid","lines":{"object":"list","data":[%s{}]}}`,
			i, i%50, lines)
		return eventJSON(fmt.Sprintf("evt_bench_%d", i), "invoice.paid", object)
	}
}

func benchPost(b *testing.B, h *Handler, payload []byte) {
	req := httptest.NewRequest(http.MethodPost, "/stripe/webhook/"+testAccount, bytes.NewReader(payload))
	req.SetPathValue("account", testAccount)
	req.Header.Set("Stripe-Signature", sign(payload, testSecret, time.Now()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}
