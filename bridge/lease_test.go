package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/appservice"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

var testTiming = leaseTiming{lease: 600 * time.Millisecond, heartbeat: 150 * time.Millisecond, margin: 200 * time.Millisecond}

// leaseBridge is a Bridge with just a database, one pending event and that
// event claimed by "w1" for testTiming.lease.
func leaseBridge(t *testing.T) (*Bridge, *database.Event) {
	t.Helper()
	ctx := context.Background()
	db := database.New(dbtest.SQLite(t))
	if err := db.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Account.Upsert(ctx, &database.Account{ID: "main", DisplayName: "main"}); err != nil {
		t.Fatal(err)
	}
	_, err := db.Event.Insert(ctx, &database.Event{ID: "evt_1", AccountID: "main", CustomerID: "cus_a", Type: "invoice.paid",
		APIVersion: "2023-10-16", Created: time.Unix(10, 0), Payload: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	evt, err := db.Event.ClaimNext(ctx, "w1", testTiming.lease, time.Now())
	if err != nil || evt == nil {
		t.Fatalf("claim: %v, %v", evt, err)
	}
	return &Bridge{DB: db}, evt
}

// The heartbeat keeps a claim that takes many leases; it stops the attempt
// when the claim is taken over, and before the lease runs out when it
// cannot be renewed.
func TestHoldClaim(t *testing.T) {
	for _, tc := range []struct {
		name string
		// interfere happens 2 leases in; nil: nothing does.
		interfere func(t *testing.T, br *Bridge)
		want      error
	}{
		{"kept for many leases", nil, nil},
		{"taken over", func(t *testing.T, br *Bridge) {
			// Another worker's claim, as if the lease had run out.
			if _, err := br.DB.RawDB.Exec(`UPDATE stripe_event SET claimed_by='w2'`); err != nil {
				t.Fatal(err)
			}
		}, errClaimLost},
		{"database unreachable", func(t *testing.T, br *Bridge) {
			if err := br.DB.Close(); err != nil {
				t.Fatal(err)
			}
		}, errLeaseLapsing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br, evt := leaseBridge(t)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			stop := br.holdClaim(ctx, cancel, evt, "w1", testTiming)
			defer stop()

			time.Sleep(2 * testTiming.lease)
			if ctx.Err() != nil {
				t.Fatalf("attempt stopped while the claim was renewed: %v", context.Cause(ctx))
			}
			if got, err := br.DB.Event.ClaimNext(context.Background(), "w3", testTiming.lease, time.Now()); err != nil || got != nil {
				t.Fatalf("another worker claimed %v (%v) two leases in", got, err)
			}
			if tc.interfere == nil {
				return
			}
			stoppedAt := time.Now()
			tc.interfere(t, br)
			select {
			case <-ctx.Done():
			case <-time.After(2 * testTiming.lease):
				t.Fatal("attempt not stopped")
			}
			if cause := context.Cause(ctx); !errors.Is(cause, tc.want) {
				t.Errorf("stopped because %v, want %v", cause, tc.want)
			}
			// Renewed at most a heartbeat ago: it must stop at least the
			// margin before that lease runs out.
			if errors.Is(tc.want, errLeaseLapsing) && time.Since(stoppedAt) > testTiming.lease-testTiming.margin+50*time.Millisecond {
				t.Errorf("stopped %v after the last chance to renew, later than lease - margin", time.Since(stoppedAt))
			}
		})
	}
}

// A successful send's record is retried until the database takes it, and
// given up only a grace period after shutdown.
func TestRecordRetries(t *testing.T) {
	t.Run("until it is written", func(t *testing.T) {
		var calls atomic.Int32
		err := record(context.Background(), func(context.Context) error {
			if calls.Add(1) < 4 {
				return errors.New("connection refused")
			}
			return nil
		})
		if err != nil || calls.Load() != 4 {
			t.Errorf("record = %v after %d writes, want success on the 4th", err, calls.Load())
		}
	})
	t.Run("through shutdown, for the grace period", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var calls atomic.Int32
		start := time.Now()
		err := record(ctx, func(ctx context.Context) error {
			if calls.Add(1) < 3 {
				return errors.New("connection refused")
			}
			return nil
		})
		if err != nil || time.Since(start) > recordGrace {
			t.Errorf("after shutdown: %v after %v", err, time.Since(start))
		}
	})
	if testing.Short() {
		return
	}
	t.Run("given up after the grace period", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		err := record(ctx, func(context.Context) error { return errors.New("connection refused") })
		if took := time.Since(start); err == nil || took < recordGrace || took > recordGrace+recordMaxBackoff+time.Second {
			t.Errorf("record = %v after %v, want an error after about %v", err, took, recordGrace)
		}
	})
}

// On start the bridge frees the claims its predecessor behind the same
// listener left when it died: its customers are due at once, not when the
// leases run out. A sibling behind another address keeps its claims.
func TestStartReleasesPredecessorsClaims(t *testing.T) {
	br, _ := leaseBridge(t)
	ctx := context.Background()
	br.Config = &config.Config{}
	br.AS = &appservice.AppService{Host: appservice.HostConfig{Hostname: "127.0.0.1", Port: 29331}}
	process := br.processPrefix()
	if !strings.HasSuffix(process, "/127.0.0.1:29331/") {
		t.Fatalf("process prefix %q does not name the listener", process)
	}
	_, err := br.DB.Event.Insert(ctx, &database.Event{ID: "evt_2", AccountID: "main", CustomerID: "cus_b", Type: "invoice.paid",
		APIVersion: "2023-10-16", Created: time.Unix(11, 0), Payload: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	// evt_1 is the sibling's ("w1"), evt_2 the dead predecessor's.
	if got, err := br.DB.Event.ClaimNext(ctx, runPrefix(process)+"0", time.Hour, time.Now()); err != nil || got == nil || got.ID != "evt_2" {
		t.Fatalf("predecessor's claim: %v, %v", got, err)
	}

	br.startDelivery(ctx) // no workers configured: only the release runs
	got, err := br.DB.Event.ClaimNext(ctx, "next", time.Hour, time.Now())
	if err != nil || got == nil || got.ID != "evt_2" {
		t.Fatalf("after start, claimable at once: %v (%v), want evt_2", got, err)
	}
	if again, err := br.DB.Event.ClaimNext(ctx, "next", time.Hour, time.Now()); err != nil || again != nil {
		t.Errorf("the sibling's claim was released too: %v, %v", again, err)
	}
	if run := runPrefix(process); !strings.HasPrefix(run, process) || !strings.HasSuffix(run, "/") {
		t.Errorf("run prefix %q: want it under %q", run, process)
	}
}
