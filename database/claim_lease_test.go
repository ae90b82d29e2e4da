package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// A short lease renewed by its holder stays the holder's; once renewals
// stop, the event is anyone's again one lease later.
func TestClaimHeartbeat(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		insertEvents(t, db, inboxEvent("evt_1", "cus_a", 10))
		if got := claim(t, db, "w1", t0); got != "evt_1" {
			t.Fatalf("first claim = %q", got)
		}
		// The lease (30 s in claim) is renewed at 20 s and 40 s.
		for _, at := range []time.Duration{20 * time.Second, 40 * time.Second} {
			renewed, err := eq.RenewClaim(ctx, "evt_1", "w1", t0.Add(at+30*time.Second))
			must(t, err)
			if !renewed {
				t.Fatalf("renewal at %s refused", at)
			}
		}
		if got := claim(t, db, "w2", t0.Add(69*time.Second)); got != "" {
			t.Fatalf("claimed %q inside the renewed lease (claimed until 70 s)", got)
		}
		if got := claim(t, db, "w2", t0.Add(70*time.Second)); got != "evt_1" {
			t.Fatalf("claim once renewals stopped = %q", got)
		}
		// The old holder's heartbeat now fails: it must stop.
		renewed, err := eq.RenewClaim(ctx, "evt_1", "w1", t0.Add(100*time.Second))
		must(t, err)
		if renewed {
			t.Error("a taken-over claim was renewed by its old holder")
		}
		evt, err := eq.Get(ctx, "evt_1")
		must(t, err)
		if evt.ClaimedBy != "w2" || !evt.ClaimedUntil.Equal(t0.Add(100*time.Second)) {
			t.Errorf("after the old holder's renewal: claimed by %q until %v", evt.ClaimedBy, evt.ClaimedUntil)
		}
		must(t, eq.MarkDelivered(ctx, "evt_1", "$1", t0.Add(71*time.Second)))
		if renewed, err = eq.RenewClaim(ctx, "evt_1", "w2", t0.Add(200*time.Second)); err != nil || renewed {
			t.Errorf("renewal of a delivered event: %v, %v", renewed, err)
		}
	})
}

// A stale worker's release (retry, failed, skipped) must not free a claim
// another worker took over: a third would then send the same event again.
func TestStaleWorkerCannotReleaseTakenOverClaim(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		insertEvents(t, db, inboxEvent("evt_1", "cus_a", 10))
		claim(t, db, "w1", t0)
		if got := claim(t, db, "w2", t0.Add(30*time.Second)); got != "evt_1" {
			t.Fatalf("takeover = %q", got)
		}
		must(t, eq.MarkRetry(ctx, "evt_1", "w1", "w1 timed out", t0))
		must(t, eq.MarkFailed(ctx, "evt_1", "w1", "w1 gave up"))
		must(t, eq.MarkSkipped(ctx, "evt_1", "w1", "w1 skipped"))
		if got := claim(t, db, "w3", t0.Add(31*time.Second)); got != "" {
			t.Fatalf("w3 claimed %q while w2 holds it", got)
		}
		evt, err := eq.Get(ctx, "evt_1")
		must(t, err)
		if evt.State != database.EventPending || evt.ClaimedBy != "w2" || evt.LastError != "" {
			t.Errorf("after the stale worker's marks: state %s, claimed by %q, last error %q", evt.State, evt.ClaimedBy, evt.LastError)
		}
		must(t, eq.MarkRetry(ctx, "evt_1", "w2", "homeserver down", t0.Add(40*time.Second)))
		if evt, err = eq.Get(ctx, "evt_1"); err != nil || evt.ClaimedBy != "" || evt.LastError != "homeserver down" {
			t.Errorf("holder's retry: %+v, %v", evt, err)
		}
	})
}

// On start the bridge releases the claims its dead predecessor (same host
// and listener, any pid) left behind, and nobody else's.
func TestReleaseClaims(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		insertEvents(t, db, inboxEvent("evt_a", "cus_a", 10), inboxEvent("evt_b", "cus_b", 11), inboxEvent("evt_c", "cus_c", 12))
		claim(t, db, "host/127.0.0.1:29331/4242-beef/0", t0)
		claim(t, db, "host/127.0.0.1:29331/4242-beef/1", t0)
		claim(t, db, "host/127.0.0.1:2933/777-cafe/0", t0) // a sibling on another port
		if _, err := eq.ReleaseClaims(ctx, ""); err == nil {
			t.Error("an empty prefix was accepted")
		}
		released, err := eq.ReleaseClaims(ctx, "host/127.0.0.1:29331/")
		must(t, err)
		if released != 2 {
			t.Errorf("released %d claims, want 2", released)
		}
		var got []string
		for id := claim(t, db, "host/127.0.0.1:29331/5151-f00d/0", t0); id != ""; id = claim(t, db, "host/127.0.0.1:29331/5151-f00d/0", t0) {
			got = append(got, id)
		}
		if len(got) != 2 || got[0] != "evt_a" || got[1] != "evt_b" {
			t.Errorf("claimable at once after release: %v, want evt_a, evt_b (evt_c is the sibling's)", got)
		}
	})
}

// The first claim is remembered across retries, takeovers and an
// operator's retry: the look-up of an unknown outcome starts there. A first
// attempt's outcome is known (nothing can have been sent), later ones not.
func TestFirstClaimAndOutcomeUnknown(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		eq := db.Event
		insertEvents(t, db, inboxEvent("evt_1", "cus_a", 10))
		fresh, err := eq.Get(ctx, "evt_1")
		must(t, err)
		if !fresh.FirstClaimedAt.IsZero() || fresh.OutcomeUnknown() {
			t.Fatalf("unclaimed: first claimed %v, outcome unknown %v", fresh.FirstClaimedAt, fresh.OutcomeUnknown())
		}
		steps := []struct {
			name    string
			claim   func() *database.Event
			unknown bool
		}{
			{"first attempt", func() *database.Event { return mustClaim(t, db, "w1", t0) }, false},
			{"takeover after the lease ran out", func() *database.Event { return mustClaim(t, db, "w2", t0.Add(30*time.Second)) }, true},
			{"retry after a transient error", func() *database.Event {
				must(t, eq.MarkRetry(ctx, "evt_1", "w2", "homeserver down", t0.Add(31*time.Second)))
				return mustClaim(t, db, "w2", t0.Add(40*time.Second))
			}, true},
			{"operator retry after a failure", func() *database.Event {
				must(t, eq.MarkFailed(ctx, "evt_1", "w2", "forbidden"))
				retried, err := eq.Retry(ctx, "evt_1")
				must(t, err)
				if !retried {
					t.Fatal("not retried")
				}
				return mustClaim(t, db, "w3", t0.Add(50*time.Second))
			}, true},
		}
		for _, step := range steps {
			evt := step.claim()
			if !evt.FirstClaimedAt.Equal(t0) {
				t.Errorf("%s: first claimed %v, want %v", step.name, evt.FirstClaimedAt, t0)
			}
			if evt.OutcomeUnknown() != step.unknown {
				t.Errorf("%s: outcome unknown %v (attempts %d, last error %q), want %v", step.name, evt.OutcomeUnknown(), evt.Attempts, evt.LastError, step.unknown)
			}
		}
	})
}

func mustClaim(t *testing.T, db *database.Database, worker string, now time.Time) *database.Event {
	t.Helper()
	evt, err := db.Event.ClaimNext(context.Background(), worker, 30*time.Second, now)
	must(t, err)
	if evt == nil {
		t.Fatalf("%s claimed nothing at %v", worker, now)
	}
	return evt
}
