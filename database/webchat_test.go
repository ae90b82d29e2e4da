package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func TestWebChatSessions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		wq := db.WebChat
		s := &database.WebChatSession{TokenHash: "h1", AccountID: "main", CustomerID: "cus_a", DisplayName: "Ada", Locale: "de",
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
		must(t, wq.CreateSession(ctx, s))
		got, err := wq.Session(ctx, "h1", t0.Add(time.Minute))
		must(t, err)
		if got == nil || got.CustomerID != "cus_a" || got.Locale != "de" || !got.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("session %+v, want %+v", got, s)
		}
		if got, _ := wq.Session(ctx, "h2", t0); got != nil {
			t.Error("a token never issued has a session")
		}
		if got, _ := wq.Session(ctx, "h1", t0.Add(time.Hour)); got != nil {
			t.Error("an expired session is live")
		}
		n, err := wq.EndSessions(ctx, "main", "cus_a", t0)
		must(t, err)
		if got, _ := wq.Session(ctx, "h1", t0); n != 1 || got != nil {
			t.Errorf("ended %d sessions; the session still live: %v", n, got != nil)
		}
	})
}

func TestWebChatGhostsAndSends(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		wq := db.WebChat
		if got, err := wq.ClaimGhost(ctx, "main", "cus_a", "@stripe_main_cus_a:test"); err != nil || got != "@stripe_main_cus_a:test" {
			t.Fatalf("claim: %q %v", got, err)
		}
		// Another customer whose id lowercases the same gets nothing.
		if got, err := wq.ClaimGhost(ctx, "main", "cus_A", "@stripe_main_cus_a:test"); err != nil || got != "" {
			t.Fatalf("second customer got %q (%v), want nothing: the user speaks for cus_a", got, err)
		}
		acct, cus, err := wq.GhostOwner(ctx, "@stripe_main_cus_a:test")
		must(t, err)
		if acct != "main" || cus != "cus_a" {
			t.Errorf("owner %s/%s", acct, cus)
		}
		must(t, wq.SetReadUpTo(ctx, "main", "cus_a", "$read"))
		if got, _ := wq.ReadUpTo(ctx, "main", "cus_a"); got != "$read" {
			t.Errorf("read up to %q", got)
		}

		first, _, err := wq.ClaimSend(ctx, "main", "cus_a", "txn1", t0)
		must(t, err)
		again, pending, err := wq.ClaimSend(ctx, "main", "cus_a", "txn1", t0)
		must(t, err)
		if !first || again || pending != "" {
			t.Fatalf("claims: first %v, again %v (%q)", first, again, pending)
		}
		must(t, wq.SetSendEvent(ctx, "main", "cus_a", "txn1", "$sent"))
		if _, sent, _ := wq.ClaimSend(ctx, "main", "cus_a", "txn1", t0); sent != "$sent" {
			t.Errorf("retried send got %q, want the first send's event", sent)
		}
		if other, _, _ := wq.ClaimSend(ctx, "main", "cus_b", "txn1", t0); !other {
			t.Error("another customer's txn id collides")
		}
	})
}

func TestWebChatPrune(t *testing.T) {
	eachDB(t, func(t *testing.T, db *database.Database) {
		ctx := context.Background()
		wq := db.WebChat
		must(t, wq.CreateSession(ctx, &database.WebChatSession{TokenHash: "old", AccountID: "main", CustomerID: "cus_a",
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
		must(t, wq.CreateSession(ctx, &database.WebChatSession{TokenHash: "live", AccountID: "main", CustomerID: "cus_a",
			CreatedAt: t0, ExpiresAt: t0.Add(48 * time.Hour)}))
		must(t, wq.Prune(ctx, t0.Add(2*time.Hour)))
		if got, _ := wq.Session(ctx, "live", t0.Add(3*time.Hour)); got == nil {
			t.Error("pruned a live session")
		}
		var n int
		must(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM webchat_session`).Scan(&n))
		if n != 1 {
			t.Errorf("%d sessions after pruning, want the live one", n)
		}
	})
}
