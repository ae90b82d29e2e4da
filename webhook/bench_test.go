package webhook

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// BenchmarkIngest measures signed webhook POSTs through the handler into a
// real inbox: one delivery at a time, and concurrent ones as Stripe sends
// them during a burst. Signing each request is part of the loop; it costs
// microseconds next to the insert.
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
			b.Run("serial", func(b *testing.B) {
				h, next := benchHandler(b, d.open(b))
				for b.Loop() {
					benchPost(b, h, next())
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
			b.Run("parallel", func(b *testing.B) {
				h, next := benchHandler(b, d.open(b))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						benchPost(b, h, next())
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		})
	}
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
