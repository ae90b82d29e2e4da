package webhook

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	stripewebhook "github.com/stripe/stripe-go/v76/webhook"
	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/database"
)

const (
	testAccount = "main"
	testSecret  = "whsec_test_current_0123456789"
	oldSecret   = "whsec_test_previous_9876543210"
	// testNowUnix is the handler's clock in tests, so tolerance edges are exact.
	testNowUnix = 1_750_000_000
	// eventCreated is a little before the clock, as real events are.
	eventCreated = testNowUnix - 2
)

func testNow() time.Time { return time.Unix(testNowUnix, 0) }

// eventJSON is a Stripe event the way Stripe sends it, around data.object.
func eventJSON(id, typ, object string) []byte {
	return eventJSONVersion(id, typ, "2023-10-16", object)
}

func eventJSONVersion(id, typ, apiVersion, object string) []byte {
	return fmt.Appendf(nil, `{
  "id": %q,
  "object": "event",
  "api_version": %q,
  "created": %d,
  "data": {"object": %s},
  "livemode": false,
  "pending_webhooks": 1,
  "request": {"id": null, "idempotency_key": null},
  "type": %q
}`, id, apiVersion, eventCreated, object, typ)
}

// eventFrom is an invoice.paid event with the given livemode and account
// members, each raw JSON or "" to leave it out (Stripe leaves account out of
// the platform's own events).
func eventFrom(id, livemode, account string) []byte {
	var members string
	if livemode != "" {
		members += `"livemode": ` + livemode + ",\n  "
	}
	if account != "" {
		members += `"account": ` + account + ",\n  "
	}
	base := eventJSON(id, "invoice.paid", invoiceObject("cus_1"))
	line := []byte("\"livemode\": false,\n  ")
	if !bytes.Contains(base, line) {
		panic("eventFrom: eventJSON no longer has the livemode line it replaces")
	}
	return bytes.Replace(base, line, []byte(members), 1)
}

func invoiceObject(customer string) string {
	return fmt.Sprintf(`{"id":"in_1","object":"invoice","customer":%q,"amount_due":1200,"currency":"eur","status":"paid"}`, customer)
}

// sign makes the Stripe-Signature header the way Stripe would.
func sign(payload []byte, secret string, at time.Time) string {
	return stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{
		Payload: payload, Secret: secret, Timestamp: at,
	}).Header
}

// logBuffer collects log lines from concurrent requests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// fixture is a handler mounted as the bridge mounts it, with its logs, the
// wake-ups it sent, and (when it has one) the database behind the inbox.
type fixture struct {
	t       *testing.T
	db      *database.Database
	handler *Handler
	mux     *http.ServeMux
	logs    *logBuffer

	mu       sync.Mutex
	notified []string
	headers  []string // every Stripe-Signature sent, to prove none is logged
}

func newFixture(t *testing.T, inbox Inbox, accounts ...Account) *fixture {
	t.Helper()
	if len(accounts) == 0 {
		accounts = []Account{{Alias: testAccount, Secrets: []string{testSecret}}}
	}
	f := &fixture{t: t, logs: &logBuffer{}, mux: http.NewServeMux()}
	f.handler = NewHandler(Options{
		Accounts: accounts,
		Inbox:    inbox,
		Log:      zerolog.New(f.logs).Level(zerolog.DebugLevel),
		Now:      testNow,
		Notify: func(alias string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.notified = append(f.notified, alias)
		},
	})
	f.mux.Handle(f.handler.Pattern(), f.handler)
	t.Cleanup(func() {
		logs := f.logs.String()
		for _, acct := range accounts {
			for _, secret := range acct.Secrets {
				if secret != "" && strings.Contains(logs, secret) {
					t.Errorf("a webhook secret was logged:\n%s", logs)
				}
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, h := range f.headers {
			_, sig, _ := strings.Cut(h, "v1=")
			if sig != "" && strings.Contains(logs, sig) {
				t.Errorf("a Stripe-Signature header was logged:\n%s", logs)
			}
		}
	})
	return f
}

// newDBFixture is a fixture whose inbox is the real inbox of db.
func newDBFixture(t *testing.T, db *database.Database, accounts ...Account) *fixture {
	t.Helper()
	f := newFixture(t, db.Event, accounts...)
	f.db = db
	return f
}

func upgraded(t testing.TB, raw *dbutil.Database) *database.Database {
	t.Helper()
	db := database.New(raw)
	if err := db.Upgrade(context.Background()); err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
	return db
}

// post delivers payload to the account's endpoint with a signature header
// ("" sends none) and returns the recorded answer.
func (f *fixture) post(alias string, payload []byte, header string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/stripe/webhook/"+alias, bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if header != "" {
		req.Header.Set("Stripe-Signature", header)
		f.mu.Lock()
		f.headers = append(f.headers, header)
		f.mu.Unlock()
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

// deliver posts payload signed now with the current secret.
func (f *fixture) deliver(payload []byte) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.post(testAccount, payload, sign(payload, testSecret, testNow()))
}

func (f *fixture) notifications() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.notified...)
}

func (f *fixture) stored(id string) *database.Event {
	f.t.Helper()
	evt, err := f.db.Event.Get(context.Background(), id)
	if err != nil {
		f.t.Fatalf("Get %s: %v", id, err)
	}
	return evt
}

// rows counts the inbox rows of one event id.
func (f *fixture) rows(id string) int {
	f.t.Helper()
	var n int
	err := f.db.QueryRow(context.Background(), "SELECT COUNT(*) FROM stripe_event WHERE event_id=$1", id).Scan(&n)
	if err != nil {
		f.t.Fatalf("count: %v", err)
	}
	return n
}

// expectStatus checks the answer, and that an error answer says nothing
// beyond the generic text.
func expectStatus(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("status %d, want %d; body %s", rec.Code, want, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	wantBody := map[int]string{
		http.StatusOK:                    `{"received":true}`,
		http.StatusBadRequest:            `{"error":"invalid webhook"}`,
		http.StatusNotFound:              `{"error":"unknown account"}`,
		http.StatusMethodNotAllowed:      `{"error":"method not allowed"}`,
		http.StatusRequestEntityTooLarge: `{"error":"payload too large"}`,
		http.StatusInternalServerError:   `{"error":"internal error"}`,
		http.StatusServiceUnavailable:    `{"error":"temporarily unavailable"}`,
	}[want]
	if got := rec.Body.String(); got != wantBody {
		t.Errorf("body %s, want %s", got, wantBody)
	}
}
