package dbtest_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"go.mau.fi/util/dbutil"

	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

func TestEachGivesBothDialects(t *testing.T) {
	var seen []string
	dbtest.Each(t, func(t *testing.T, db *dbutil.Database) {
		seen = append(seen, db.Dialect.String())
		if _, err := db.Exec(context.Background(), "CREATE TABLE scratch (id INTEGER)"); err != nil {
			t.Fatalf("fresh database is not writable: %v", err)
		}
	})
	if len(seen) == 0 || seen[0] != "sqlite3" {
		t.Errorf("dialects run: %q, want sqlite3 first", seen)
	}
}

func TestPostgresDatabaseIsDroppedAfterTest(t *testing.T) {
	var name string
	var lingering *sql.DB
	t.Run("use", func(t *testing.T) {
		// A connection someone forgot to close must not keep the database
		// alive: that is what WITH (FORCE) is for.
		var err error
		if lingering, err = sql.Open("postgres", dbtest.PostgresURI(t)); err != nil {
			t.Fatal(err)
		}
		if err = lingering.QueryRow("SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "matrix_stripe_test_") {
			t.Errorf("database name %q lacks the test prefix", name)
		}
	})
	if lingering != nil {
		defer lingering.Close()
	}
	if name == "" {
		t.Skip("PostgreSQL unavailable")
	}
	admin := dbtest.Postgres(t)
	var exists bool
	err := admin.QueryRow(context.Background(), "SELECT EXISTS(SELECT 1 FROM pg_database WHERE datname=$1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestPostgresURIOpensTheTempDatabase(t *testing.T) {
	uri := dbtest.PostgresURI(t)
	raw, err := sql.Open("postgres", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var name string
	if err = raw.QueryRow("SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(uri, "/"+name+"?") {
		t.Errorf("URI %s does not name the database it opened (%s)", uri, name)
	}
}

// recordingTB stands in for a test so the skip and fatal paths can be
// observed without ending the real test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

type stopped struct{}

func (r *recordingTB) Helper()           {}
func (r *recordingTB) Cleanup(func())    {}
func (r *recordingTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); panic(stopped{}) }
func (r *recordingTB) Fatal(args ...any) { r.failed = fmt.Sprint(args...); panic(stopped{}) }

func TestUnreachablePostgres(t *testing.T) {
	t.Setenv(dbtest.EnvPostgres, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	for _, tc := range []struct {
		name, require string
		wantSkip      bool
	}{
		{"skips by default", "", true},
		{"fails when required", "1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(dbtest.EnvRequirePostgres, tc.require)
			rec := &recordingTB{TB: t}
			func() {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(stopped); !ok {
							panic(r)
						}
					}
				}()
				dbtest.PostgresURI(rec)
			}()
			msg := rec.failed
			if tc.wantSkip {
				msg = rec.skipped
			}
			if msg == "" {
				t.Fatalf("skipped %q, failed %q", rec.skipped, rec.failed)
			}
			if !strings.Contains(msg, dbtest.EnvPostgres) {
				t.Errorf("message does not name %s: %s", dbtest.EnvPostgres, msg)
			}
		})
	}
}
