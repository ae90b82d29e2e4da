package database_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestPendingAction(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		paq := db.PendingAction
		created := ms(1_000_000)
		newAction := func(actionID string) *database.PendingAction {
			return &database.PendingAction{
				ID: actionID, RoomID: "!one:example.org", Requester: "@agent:example.org",
				Command: "refund", Parameters: json.RawMessage(`{"charge":"ch_1"}`),
				Summary: "Refund €5.00 of ch_1", IdempotencyKey: "mx-" + actionID,
				CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute),
			}
		}

		t.Run("insert, get and find by prompt", func(t *testing.T) {
			action := newAction("pa_1")
			must(t, paq.Insert(ctx, action))
			must(t, paq.SetPromptEvent(ctx, "pa_1", "$prompt"))
			action.PromptEventID = "$prompt"
			action.State = database.ActionPending
			got, err := paq.Get(ctx, "pa_1")
			must(t, err)
			if !reflect.DeepEqual(got, action) {
				t.Errorf("Get = %+v, want %+v", got, action)
			}
			byPrompt, err := paq.GetByPrompt(ctx, "!one:example.org", "$prompt")
			must(t, err)
			if !reflect.DeepEqual(byPrompt, action) {
				t.Errorf("GetByPrompt = %+v", byPrompt)
			}
			none, err := paq.GetByPrompt(ctx, "!two:example.org", "$prompt")
			must(t, err)
			if none != nil {
				t.Errorf("prompt found in another room: %+v", none)
			}
		})

		t.Run("resolves once", func(t *testing.T) {
			for i, tc := range []struct {
				actionID string
				state    database.PendingActionState
				at       time.Time
				want     bool
			}{
				{"pa_1", database.ActionConfirmed, created.Add(time.Minute), true},
				{"pa_1", database.ActionConfirmed, created.Add(time.Minute), false}, // a second "confirm"
				{"pa_1", database.ActionCancelled, created.Add(time.Minute), false},
				{"pa_missing", database.ActionConfirmed, created, false},
			} {
				ok, err := paq.Resolve(ctx, tc.actionID, tc.state, tc.at)
				must(t, err)
				if ok != tc.want {
					t.Errorf("step %d: Resolve(%s, %s) = %v, want %v", i, tc.actionID, tc.state, ok, tc.want)
				}
			}
			got, err := paq.Get(ctx, "pa_1")
			must(t, err)
			if got.State != database.ActionConfirmed {
				t.Errorf("state = %s, want confirmed", got.State)
			}
		})

		t.Run("expired actions cannot be confirmed", func(t *testing.T) {
			must(t, paq.Insert(ctx, newAction("pa_late")))
			must(t, paq.Insert(ctx, newAction("pa_old")))
			ok, err := paq.Resolve(ctx, "pa_late", database.ActionConfirmed, created.Add(5*time.Minute))
			must(t, err)
			if ok {
				t.Error("confirmed at its expiry time")
			}
			n, err := paq.ExpireOld(ctx, created.Add(10*time.Minute))
			must(t, err)
			if n != 2 {
				t.Errorf("ExpireOld expired %d, want 2 (pa_late, pa_old)", n)
			}
			got, err := paq.Get(ctx, "pa_old")
			must(t, err)
			if got.State != database.ActionExpired {
				t.Errorf("state = %s, want expired", got.State)
			}
		})

		t.Run("parameters default to an empty object", func(t *testing.T) {
			action := newAction("pa_noparams")
			action.Parameters = nil
			must(t, paq.Insert(ctx, action))
			got, err := paq.Get(ctx, "pa_noparams")
			must(t, err)
			if string(got.Parameters) != "{}" {
				t.Errorf("parameters = %q", got.Parameters)
			}
		})
	})
}

func TestLatestPending(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		now := time.UnixMilli(1_800_000_000_000)
		mk := func(actionID string, user id.UserID, created time.Time) *database.PendingAction {
			return &database.PendingAction{ID: actionID, RoomID: "!r:x", Requester: user, Command: "refund",
				Parameters: []byte(`{}`), IdempotencyKey: "k" + actionID, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
		}
		must(t, db.PendingAction.Insert(ctx, mk("a1", "@a:x", now)))
		must(t, db.PendingAction.Insert(ctx, mk("a2", "@a:x", now.Add(time.Second))))
		must(t, db.PendingAction.Insert(ctx, mk("b1", "@b:x", now.Add(2*time.Second))))
		got, err := db.PendingAction.LatestPending(ctx, "!r:x", "@a:x", now.Add(3*time.Second))
		must(t, err)
		if got == nil || got.ID != "a2" {
			t.Fatalf("latest for @a = %+v, want a2", got)
		}
		ok, err := db.PendingAction.Resolve(ctx, "a2", database.ActionConfirmed, now.Add(3*time.Second))
		must(t, err)
		if !ok {
			t.Fatal("resolve failed")
		}
		if got, _ = db.PendingAction.LatestPending(ctx, "!r:x", "@a:x", now.Add(3*time.Second)); got == nil || got.ID != "a1" {
			t.Fatalf("after confirming a2, latest = %+v, want a1", got)
		}
		if got, _ = db.PendingAction.LatestPending(ctx, "!r:x", "@a:x", now.Add(10*time.Minute)); got != nil {
			t.Fatalf("expired action returned: %+v", got)
		}
	})
}
