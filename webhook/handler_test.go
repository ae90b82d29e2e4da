package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// TestIngest runs every scenario that needs the real inbox against one
// database per dialect: creating a PostgreSQL database is most of the cost,
// and event ids differ between scenarios, so they do not see each other.
func TestIngest(t *testing.T) {
	scenarios := []struct {
		name string
		fn   func(t *testing.T, db *database.Database)
	}{
		{"valid", ingestValid},
		{"rejected signatures", ingestRejectedSignatures},
		{"tolerance edge", ingestToleranceEdge},
		{"rotated secrets", ingestRotatedSecrets},
		{"replay", ingestReplay},
		{"body limit", ingestBodyLimit},
		{"unusable bodies", ingestUnusableBodies},
		{"unknown account", ingestUnknownAccount},
		{"database down then back", ingestDatabaseDownThenBack},
		{"api version mismatch", ingestAPIVersionMismatch},
		{"panic in notify", ingestPanicInNotify},
		{"origin", ingestOrigin},
		{"own account id learned while serving", ingestOwnIDLearned},
	}
	dbtest.Each(t, func(t *testing.T, raw *dbutil.Database) {
		db := upgraded(t, raw)
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) { sc.fn(t, db) })
		}
	})
}

func ingestValid(t *testing.T, db *database.Database) {
	cases := []struct {
		name, id, typ, object, customer string
	}{
		{"customer id string", "evt_string", "invoice.paid", invoiceObject("cus_string"), "cus_string"},
		{"expanded customer", "evt_expanded", "charge.succeeded",
			`{"id":"ch_1","object":"charge","customer":{"id":"cus_expanded","object":"customer","email":"a@example.com"}}`, "cus_expanded"},
		{"customer object", "evt_customer", "customer.created",
			`{"id":"cus_self","object":"customer","email":"b@example.com","customer":"cus_not_this"}`, "cus_self"},
		{"dispute", "evt_dispute", "charge.dispute.created",
			`{"id":"dp_1","object":"dispute","charge":"ch_1","amount":500,"currency":"usd"}`, ""},
		{"null customer", "evt_null", "checkout.session.completed",
			`{"id":"cs_1","object":"checkout.session","customer":null}`, ""},
	}
	f := newDBFixture(t, db)
	for i, tc := range cases {
		payload := eventJSON(tc.id, tc.typ, tc.object)
		expectStatus(t, f.deliver(payload), http.StatusOK)

		got := f.stored(tc.id)
		if got == nil {
			t.Fatalf("%s: not stored", tc.name)
		}
		want := database.Event{
			ID: tc.id, AccountID: testAccount, CustomerID: tc.customer, Type: tc.typ,
			APIVersion: "2023-10-16", Created: time.Unix(eventCreated, 0),
			ReceivedAt: testNow(), State: database.EventPending, NextAttemptAt: testNow(),
		}
		if got.ID != want.ID || got.AccountID != want.AccountID || got.CustomerID != want.CustomerID ||
			got.Type != want.Type || got.APIVersion != want.APIVersion || !got.Created.Equal(want.Created) ||
			!got.ReceivedAt.Equal(want.ReceivedAt) || got.State != want.State ||
			!got.NextAttemptAt.Equal(want.NextAttemptAt) || got.Attempts != 0 {
			t.Errorf("%s: stored %+v, want %+v", tc.name, got, want)
		}
		if !bytes.Equal(got.Payload, payload) {
			t.Errorf("%s: payload not stored byte for byte", tc.name)
		}
		if n := len(f.notifications()); n != i+1 {
			t.Errorf("%s: %d notifications after %d events", tc.name, n, i+1)
		}
	}
	if got := f.notifications(); got[0] != testAccount {
		t.Errorf("notified %v, want the account alias", got)
	}
}

func ingestRejectedSignatures(t *testing.T, db *database.Database) {
	payload := eventJSON("evt_forged", "invoice.paid", invoiceObject("cus_1"))
	randomSig := make([]byte, 32)
	_, _ = rand.Read(randomSig)
	cases := []struct{ name, header, reason string }{
		{"forged HMAC", fmt.Sprintf("t=%d,v1=%s", testNowUnix, hex.EncodeToString(randomSig)), errNoValidSignature.Error()},
		{"wrong secret", sign(payload, "whsec_someone_else", testNow()), errNoValidSignature.Error()},
		{"signed for another body", sign([]byte(`{"id":"evt_other"}`), testSecret, testNow()), errNoValidSignature.Error()},
		{"signed at another time", strings.Replace(sign(payload, testSecret, testNow()),
			fmt.Sprint(testNowUnix), fmt.Sprint(testNowUnix-1), 1), errNoValidSignature.Error()},
		{"v0 scheme only", strings.Replace(sign(payload, testSecret, testNow()), "v1=", "v0=", 1), errNoValidSignature.Error()},
		{"missing header", "", errNotSigned.Error()},
		{"garbage header", "not a signature", errInvalidHeader.Error()},
		{"too old", sign(payload, testSecret, testNow().Add(-301*time.Second)), errTooOld.Error()},
	}
	f := newDBFixture(t, db)
	for _, tc := range cases {
		expectStatus(t, f.post(testAccount, payload, tc.header), http.StatusBadRequest)
		if f.stored("evt_forged") != nil {
			t.Fatalf("%s: event was stored", tc.name)
		}
		if !strings.Contains(f.logs.String(), tc.reason) {
			t.Errorf("%s: no warning with reason %q in logs:\n%s", tc.name, tc.reason, f.logs)
		}
	}
	if n := len(f.notifications()); n != 0 {
		t.Errorf("%d notifications for rejected webhooks", n)
	}
	// Only a genuine signature lets the log name the event.
	if strings.Count(f.logs.String(), `"stripe_event_id":"evt_forged"`) != 1 {
		t.Errorf("want the event id logged for the too-old event only:\n%s", f.logs)
	}
}

// ingestToleranceEdge checks the 300 s window on both sides of the clock: a
// genuine signature outside it is refused and logged with the event's id.
func ingestToleranceEdge(t *testing.T, db *database.Database) {
	cases := []struct {
		name   string
		offset time.Duration // signing time relative to the handler's clock
		want   int
		reason error
	}{
		{"exactly 300 s ago", -300 * time.Second, http.StatusOK, nil},
		{"301 s ago", -301 * time.Second, http.StatusBadRequest, errTooOld},
		{"299 s ahead", 299 * time.Second, http.StatusOK, nil},
		{"exactly 300 s ahead", 300 * time.Second, http.StatusOK, nil},
		{"301 s ahead", 301 * time.Second, http.StatusBadRequest, errFromFuture},
		{"a day ahead", 24 * time.Hour, http.StatusBadRequest, errFromFuture},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newDBFixture(t, db)
			id := fmt.Sprintf("evt_edge_%d", i)
			payload := eventJSON(id, "invoice.paid", invoiceObject("cus_1"))
			expectStatus(t, f.post(testAccount, payload, sign(payload, testSecret, testNow().Add(tc.offset))), tc.want)
			if tc.reason == nil {
				if f.rows(id) != 1 {
					t.Fatal("accepted but not stored")
				}
				return
			}
			if f.rows(id) != 0 || len(f.notifications()) != 0 {
				t.Fatal("a refused event was stored or announced")
			}
			logs := f.logs.String()
			if !strings.Contains(logs, tc.reason.Error()) || !strings.Contains(logs, `"stripe_event_id":"`+id+`"`) {
				t.Errorf("want a warning with reason %q and the event id:\n%s", tc.reason, logs)
			}
		})
	}
}

func ingestRotatedSecrets(t *testing.T, db *database.Database) {
	rotating := Account{Alias: testAccount, Secrets: []string{testSecret, oldSecret}}
	f := newDBFixture(t, db, rotating)
	first := eventJSON("evt_old_secret", "invoice.paid", invoiceObject("cus_1"))
	expectStatus(t, f.post(testAccount, first, sign(first, oldSecret, testNow())), http.StatusOK)
	second := eventJSON("evt_new_secret", "invoice.paid", invoiceObject("cus_1"))
	expectStatus(t, f.post(testAccount, second, sign(second, testSecret, testNow())), http.StatusOK)
	if f.stored("evt_old_secret") == nil || f.stored("evt_new_secret") == nil {
		t.Fatal("not both events stored")
	}
	// While Stripe rolls a secret it signs with both, in one header.
	third := eventJSON("evt_both", "invoice.paid", invoiceObject("cus_1"))
	header := sign(third, "whsec_unknown_new", testNow()) + ",v1=" +
		strings.SplitN(sign(third, oldSecret, testNow()), "v1=", 2)[1]
	expectStatus(t, f.post(testAccount, third, header), http.StatusOK)
}

func ingestReplay(t *testing.T, db *database.Database) {
	f := newDBFixture(t, db)
	payload := eventJSON("evt_replay", "invoice.paid", invoiceObject("cus_1"))
	expectStatus(t, f.deliver(payload), http.StatusOK)
	// Stripe's retry carries a fresh signature over the same event.
	later := testNow().Add(time.Minute)
	f.handler.now = func() time.Time { return later }
	expectStatus(t, f.post(testAccount, payload, sign(payload, testSecret, later)), http.StatusOK)

	if n := f.rows("evt_replay"); n != 1 {
		t.Fatalf("%d rows after a replay, want 1", n)
	}
	if got := f.stored("evt_replay"); !got.ReceivedAt.Equal(testNow()) {
		t.Errorf("replay overwrote received_at: %v", got.ReceivedAt)
	}
	if n := len(f.notifications()); n != 1 {
		t.Errorf("%d notifications, want 1 (none for the duplicate)", n)
	}
	if !strings.Contains(f.logs.String(), "already in the inbox") {
		t.Errorf("no debug line for the duplicate:\n%s", f.logs)
	}
}

// paddedEvent is a valid event of exactly size bytes.
func paddedEvent(t *testing.T, id string, size int) []byte {
	t.Helper()
	base := eventJSON(id, "invoice.paid", `{"id":"in_1","object":"invoice","customer":"cus_1","description":""}`)
	pad := size - len(base)
	if pad < 0 {
		t.Fatalf("size %d is below the base event", size)
	}
	return bytes.Replace(base, []byte(`"description":""`), []byte(`"description":"`+strings.Repeat("x", pad)+`"`), 1)
}

func ingestBodyLimit(t *testing.T, db *database.Database) {
	f := newDBFixture(t, db)
	tooBig := paddedEvent(t, "evt_too_big", int(DefaultMaxBody)+1)
	header := sign(tooBig, testSecret, testNow())
	expectStatus(t, f.post(testAccount, tooBig, header), http.StatusRequestEntityTooLarge)

	// Without a Content-Length the cap is enforced while reading.
	req := httptest.NewRequest(http.MethodPost, "/stripe/webhook/"+testAccount, bytes.NewReader(tooBig))
	req.ContentLength = -1
	req.Header.Set("Stripe-Signature", header)
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	expectStatus(t, rec, http.StatusRequestEntityTooLarge)

	if f.stored("evt_too_big") != nil {
		t.Fatal("oversized event was stored")
	}

	atLimit := paddedEvent(t, "evt_at_limit", int(DefaultMaxBody))
	expectStatus(t, f.deliver(atLimit), http.StatusOK)
	if got := f.stored("evt_at_limit"); got == nil || !bytes.Equal(got.Payload, atLimit) {
		t.Fatal("a body of exactly the limit was not stored intact")
	}
}

func ingestUnusableBodies(t *testing.T, db *database.Database) {
	cases := []struct{ name, body, reason string }{
		{"garbage", `this is not json {`, "malformed event JSON"},
		{"truncated", `{"id":"evt_cut","type":"invoice.paid","created":1`, "malformed event JSON"},
		{"array", `[1,2,3]`, "malformed event JSON"},
		{"no id", `{"type":"invoice.paid","created":1750000000,"data":{"object":{}}}`, "no id"},
		{"no type", `{"id":"evt_notype","created":1750000000,"data":{"object":{}}}`, "no type"},
		{"no created", `{"id":"evt_nocreated","type":"invoice.paid","data":{"object":{}}}`, "no created"},
	}
	f := newDBFixture(t, db)
	for _, tc := range cases {
		expectStatus(t, f.deliver([]byte(tc.body)), http.StatusBadRequest)
		if !strings.Contains(f.logs.String(), tc.reason) {
			t.Errorf("%s: reason %q not logged:\n%s", tc.name, tc.reason, f.logs)
		}
	}
	for _, id := range []string{"evt_cut", "evt_notype", "evt_nocreated"} {
		if f.rows(id) != 0 {
			t.Errorf("%s stored from an unusable body", id)
		}
	}
	if !strings.Contains(f.logs.String(), `"stripe_event_id":"evt_notype"`) {
		t.Errorf("the id of a signed event without a type was not logged:\n%s", f.logs)
	}
}

func ingestUnknownAccount(t *testing.T, db *database.Database) {
	f := newDBFixture(t, db)
	payload := eventJSON("evt_elsewhere", "invoice.paid", invoiceObject("cus_1"))
	expectStatus(t, f.post("other", payload, sign(payload, testSecret, testNow())), http.StatusNotFound)
	if f.rows("evt_elsewhere") != 0 {
		t.Fatal("event for an unknown account was stored")
	}
}

func TestAccountWithoutSecretRefusesEverything(t *testing.T) {
	f := newFixture(t, failingInbox{}, Account{Alias: testAccount, Secrets: []string{""}})
	payload := eventJSON("evt_1", "invoice.paid", invoiceObject("cus_1"))
	// An empty key is one anybody can sign with.
	expectStatus(t, f.post(testAccount, payload, sign(payload, "", testNow())), http.StatusInternalServerError)
	if !strings.Contains(f.logs.String(), "No webhook signing secret configured") {
		t.Errorf("misconfiguration not logged at start:\n%s", f.logs)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, failingInbox{})
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodHead} {
		// Directly, as if mounted on a router that does not filter methods…
		req := httptest.NewRequest(method, "/stripe/webhook/"+testAccount, nil)
		req.SetPathValue("account", testAccount)
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
			t.Errorf("%s direct: %d, Allow %q", method, rec.Code, rec.Header().Get("Allow"))
		}
		// …and through the mux, as the bridge mounts it.
		rec = httptest.NewRecorder()
		f.mux.ServeHTTP(rec, httptest.NewRequest(method, "/stripe/webhook/"+testAccount, nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s via mux: %d", method, rec.Code)
		}
	}
	if f.handler.Pattern() != "POST /stripe/webhook/{account}" {
		t.Errorf("Pattern %q", f.handler.Pattern())
	}
}

// failingInbox is a database that is down.
type failingInbox struct{}

func (failingInbox) Insert(context.Context, *database.Event) (bool, error) {
	return false, errors.New("connection refused")
}

// flakyInbox is the real inbox behind a switch that takes the database down.
type flakyInbox struct {
	Inbox
	down atomic.Bool
}

func (fi *flakyInbox) Insert(ctx context.Context, evt *database.Event) (bool, error) {
	if fi.down.Load() {
		return false, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return fi.Inbox.Insert(ctx, evt)
}

func ingestDatabaseDownThenBack(t *testing.T, db *database.Database) {
	inbox := &flakyInbox{Inbox: db.Event}
	f := newFixture(t, inbox)
	f.db = db

	payload := eventJSON("evt_outage", "invoice.paid", invoiceObject("cus_1"))
	inbox.down.Store(true)
	expectStatus(t, f.deliver(payload), http.StatusServiceUnavailable)
	if n := len(f.notifications()); n != 0 {
		t.Fatalf("%d notifications for an event that was not stored", n)
	}
	if !strings.Contains(f.logs.String(), "connection refused") {
		t.Errorf("database error not logged:\n%s", f.logs)
	}

	inbox.down.Store(false)
	expectStatus(t, f.deliver(payload), http.StatusOK)
	if f.stored("evt_outage") == nil || len(f.notifications()) != 1 {
		t.Fatal("the retried event was not stored and announced")
	}
}

// TestClosedDatabase uses a real connection pool that is gone, then a new
// one (as after a bridge restart) for Stripe's retry.
func TestClosedDatabase(t *testing.T) {
	run := func(t *testing.T, uri, driver string) {
		open := func() *database.Database {
			raw, err := dbutil.NewWithDialect(uri, driver)
			if err != nil {
				t.Fatal(err)
			}
			return upgraded(t, raw)
		}
		payload := eventJSON("evt_closed", "invoice.paid", invoiceObject("cus_1"))

		gone := open()
		if err := gone.Close(); err != nil {
			t.Fatal(err)
		}
		expectStatus(t, newFixture(t, gone.Event).deliver(payload), http.StatusServiceUnavailable)

		back := open()
		t.Cleanup(func() { _ = back.Close() })
		f := newFixture(t, back.Event)
		f.db = back
		expectStatus(t, f.deliver(payload), http.StatusOK)
		if f.stored("evt_closed") == nil {
			t.Fatal("not stored after the database came back")
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, dbtest.SQLiteURI(t), "sqlite3-fk-wal") })
	t.Run("postgres", func(t *testing.T) { run(t, dbtest.PostgresURI(t), "postgres") })
}

func ingestAPIVersionMismatch(t *testing.T, db *database.Database) {
	accounts := []Account{
		{Alias: testAccount, Secrets: []string{testSecret}},
		{Alias: "second", Secrets: []string{testSecret}},
	}
	const newer = "2025-01-27.acacia"
	f := newDBFixture(t, db, accounts...)
	// Concurrent deliveries, to show the warning is still said once.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			payload := eventJSONVersion(fmt.Sprintf("evt_acacia_%d", i), "invoice.paid", newer, invoiceObject("cus_1"))
			if rec := f.deliver(payload); rec.Code != http.StatusOK {
				t.Errorf("event %d: %d", i, rec.Code)
			}
		})
	}
	wg.Wait()
	if got := f.stored("evt_acacia_3"); got == nil || got.APIVersion != newer {
		t.Fatalf("mismatched event stored as %+v", got)
	}
	if n := strings.Count(f.logs.String(), `"api_version":"`+newer+`"`); n != 1 {
		t.Errorf("%d warnings for one mismatched version, want 1:\n%s", n, f.logs)
	}
	if !strings.Contains(f.logs.String(), `"level":"warn"`) {
		t.Error("the mismatch is not a warning")
	}

	// Another account with the same mismatch is another endpoint to fix.
	payload := eventJSONVersion("evt_second", "invoice.paid", newer, invoiceObject("cus_1"))
	expectStatus(t, f.post("second", payload, sign(payload, testSecret, testNow())), http.StatusOK)
	// Matching events say nothing.
	expectStatus(t, f.deliver(eventJSON("evt_pinned", "invoice.paid", invoiceObject("cus_1"))), http.StatusOK)
	if n := strings.Count(f.logs.String(), "expected_api_version"); n != 2 {
		t.Errorf("%d version warnings, want one per account:\n%s", n, f.logs)
	}
}

// panickingInbox stands for a bug anywhere below the handler.
type panickingInbox struct{}

func (panickingInbox) Insert(context.Context, *database.Event) (bool, error) {
	panic("bug in the inbox")
}

func TestPanicAnswers500(t *testing.T) {
	f := newFixture(t, panickingInbox{})
	expectStatus(t, f.deliver(eventJSON("evt_panic", "invoice.paid", invoiceObject("cus_1"))), http.StatusInternalServerError)
	if logs := f.logs.String(); !strings.Contains(logs, "bug in the inbox") || !strings.Contains(logs, `"level":"error"`) {
		t.Errorf("panic not logged as an error:\n%s", logs)
	}
	if n := len(f.notifications()); n != 0 {
		t.Errorf("%d notifications after a panic", n)
	}
}

func ingestPanicInNotify(t *testing.T, db *database.Database) {
	f := newDBFixture(t, db)
	f.handler.notify = func(string) { panic("bug in notify") }
	expectStatus(t, f.deliver(eventJSON("evt_notify_panic", "invoice.paid", invoiceObject("cus_1"))), http.StatusOK)
	if !strings.Contains(f.logs.String(), "bug in notify") {
		t.Errorf("panic not logged:\n%s", f.logs)
	}
}
