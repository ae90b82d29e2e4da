package bridge

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

// guardOn builds the transaction guard of a bridge on db around a handler
// that counts the transactions it is given, as mautrix's would handle them.
func guardOn(t *testing.T, cfg *config.Config, db *database.Database) (http.Handler, *atomic.Int32) {
	t.Helper()
	br := New(cfg, zerolog.Nop(), "test")
	br.DB = db
	var handled atomic.Int32
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+br.Config.AppService.HSToken {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		handled.Add(1)
		_, _ = w.Write([]byte("{}"))
	})
	return br.transactionGuard(inner), &handled
}

func putTxn(t *testing.T, h http.Handler, txnID, token string, body []byte) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPut, transactionPath+txnID, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestTransactionGuard(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, raw *dbutil.Database) {
		db := database.New(raw)
		if err := db.Upgrade(context.Background()); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(t)
		guard, handled := guardOn(t, cfg, db)
		token := cfg.AppService.HSToken
		body := []byte(`{"events":[]}`)

		t.Run("a re-PUT transaction is handled once, even by a new process", func(t *testing.T) {
			if code := putTxn(t, guard, "txn-1", token, body); code != http.StatusOK {
				t.Fatalf("first PUT: %d", code)
			}
			if code := putTxn(t, guard, "txn-1", token, body); code != http.StatusOK {
				t.Fatalf("second PUT: %d", code)
			}
			restarted, handledAfterRestart := guardOn(t, cfg, db)
			if code := putTxn(t, restarted, "txn-1", token, body); code != http.StatusOK {
				t.Fatalf("PUT after restart: %d", code)
			}
			if handled.Load() != 1 || handledAfterRestart.Load() != 0 {
				t.Fatalf("handled %d + %d times, want once", handled.Load(), handledAfterRestart.Load())
			}
		})

		t.Run("a forged token is not recorded and goes to mautrix", func(t *testing.T) {
			if code := putTxn(t, guard, "txn-forged", "wrong", body); code != http.StatusForbidden {
				t.Fatalf("forged PUT: %d", code)
			}
			if seen, _ := db.Processed.TransactionSeen(context.Background(), "txn-forged"); seen {
				t.Fatal("a forged transaction id was recorded: it could block the real one")
			}
		})

		t.Run("an oversized transaction is refused and not recorded", func(t *testing.T) {
			before := handled.Load()
			big := []byte(`{"events":[],"pad":"` + strings.Repeat("x", int(cfg.AppService.Limits.MaxTransactionBytes)) + `"}`)
			if code := putTxn(t, guard, "txn-big", token, big); code != http.StatusRequestEntityTooLarge {
				t.Fatalf("oversized PUT: %d", code)
			}
			if handled.Load() != before {
				t.Fatal("the oversized transaction reached the handler")
			}
			if seen, _ := db.Processed.TransactionSeen(context.Background(), "txn-big"); seen {
				t.Fatal("a refused transaction was recorded")
			}
		})
	})
}
