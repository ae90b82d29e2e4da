package upgrades_test

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"testing"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/database/upgrades"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

//go:embed testdata/v1.sql
var v1Baseline embed.FS

// v1Table creates the frozen v1 schema, standing in for a database that an
// older bridge created.
var v1Table = dbutil.BuildUpgradeTable().WithFSPath(v1Baseline, "testdata").Finish()

// upgradeRecorder remembers which upgrade steps ran.
type upgradeRecorder struct {
	dbutil.DatabaseLogger
	steps []string
}

func (r *upgradeRecorder) DoUpgrade(from, to int, message string, _ dbutil.TxnMode) {
	r.steps = append(r.steps, fmt.Sprintf("v%d->v%d %s", from, to, message))
}

func TestUpgradePaths(t *testing.T) {
	dialects := []struct {
		name string
		open func(testing.TB) *dbutil.Database
		dump func(*testing.T, *dbutil.Database) []string
	}{
		{"sqlite", dbtest.SQLite, dumpSQLite},
		{"postgres", dbtest.Postgres, dumpPostgres},
	}
	for _, dialect := range dialects {
		t.Run(dialect.name, func(t *testing.T) {
			ctx := context.Background()

			fresh := dialect.open(t)
			freshLog := &upgradeRecorder{DatabaseLogger: dbutil.NoopLogger}
			fresh.Log = freshLog
			fresh.UpgradeTable = upgrades.Table
			mustUpgrade(t, fresh)
			assertSteps(t, freshLog, "v0->v16 Latest revision")
			assertVersion(t, fresh, 16)
			latest := dialect.dump(t, fresh)

			freshLog.steps = nil
			mustUpgrade(t, fresh)
			assertSteps(t, freshLog)
			assertSameSchema(t, "after a second Upgrade", latest, dialect.dump(t, fresh))

			old := dialect.open(t)
			oldLog := &upgradeRecorder{DatabaseLogger: dbutil.NoopLogger}
			old.Log = oldLog
			old.UpgradeTable = v1Table
			mustUpgrade(t, old)
			assertVersion(t, old, 1)
			_, err := old.Exec(ctx, `INSERT INTO stripe_account (id, display_name, livemode) VALUES ('main', 'Main', false)`)
			if err != nil {
				t.Fatalf("insert v1 row: %v", err)
			}
			oldLog.steps = nil
			old.UpgradeTable = upgrades.Table
			mustUpgrade(t, old)
			assertSteps(t, oldLog, "v1->v2 Add audit log and pending actions", "v2->v3 Index the inbox in delivery order",
				"v3->v4 Process command events and transactions at most once; retry invites",
				"v4->v5 Deliver a customer's events in causal order; resolve customers before queueing",
				"v5->v6 Remember when an inbox event was first claimed, to bound the marker look-up",
				"v6->v7 Group the events of one billing happening into one customer message",
				"v7->v8 Web chat sessions, customer ghosts and idempotent sends",
				"v8->v9 Index each customer's queue of pending events for claims",
				"v9->v10 Record room requests for an account's Space and feed room",
				"v10->v11 Remember which agent panel widget each customer room has",
				"v11->v12 One-time sign-in links to the agent panel",
				"v12->v13 Conversation facts",
				"v13->v14 The assistant's pending offers",
				"v14->v15 Secrets the bridge generates and must keep",
				"v15->v16 Encrypted work a process without the encryption device hands over")
			assertVersion(t, old, 16)
			assertSameSchema(t, "upgraded from v1 vs created at latest", latest, dialect.dump(t, old))

			var name string
			if err = old.QueryRow(ctx, `SELECT display_name FROM stripe_account WHERE id='main'`).Scan(&name); err != nil || name != "Main" {
				t.Errorf("v1 row after upgrade: name %q, err %v", name, err)
			}
		})
	}
}

func mustUpgrade(t *testing.T, db *dbutil.Database) {
	t.Helper()
	if err := db.Upgrade(context.Background()); err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
}

func assertSteps(t *testing.T, log *upgradeRecorder, want ...string) {
	t.Helper()
	if strings.Join(log.steps, "\n") != strings.Join(want, "\n") {
		t.Errorf("upgrade steps run: %q, want %q", log.steps, want)
	}
}

func assertVersion(t *testing.T, db *dbutil.Database, want int) {
	t.Helper()
	var version int
	if err := db.QueryRow(context.Background(), "SELECT version FROM "+db.VersionTable).Scan(&version); err != nil {
		t.Fatalf("read version: %v", err)
	}
	if version != want {
		t.Errorf("version table says v%d, want v%d", version, want)
	}
}

func assertSameSchema(t *testing.T, what string, want, got []string) {
	t.Helper()
	wantSet := make(map[string]bool, len(want))
	for _, line := range want {
		wantSet[line] = true
	}
	gotSet := make(map[string]bool, len(got))
	for _, line := range got {
		gotSet[line] = true
	}
	for _, line := range want {
		if !gotSet[line] {
			t.Errorf("%s: missing %s", what, line)
		}
	}
	for _, line := range got {
		if !wantSet[line] {
			t.Errorf("%s: unexpected %s", what, line)
		}
	}
	if len(want) != len(got) {
		t.Errorf("%s: %d schema lines, want %d", what, len(got), len(want))
	}
}
