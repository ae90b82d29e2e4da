// Package dbtest gives tests a fresh, throwaway database of each supported
// dialect, so every database test runs against both SQLite and PostgreSQL.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream"
)

const (
	// EnvPostgres names the variable holding the URI of a PostgreSQL server
	// where the test user may create and drop databases.
	EnvPostgres = "MATRIX_STRIPE_TEST_POSTGRES"
	// EnvRequirePostgres turns "PostgreSQL unreachable" from a skip into a
	// failure, so CI cannot pass by silently testing only SQLite.
	EnvRequirePostgres = "REQUIRE_POSTGRES"

	defaultPostgres = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	sqliteDriver    = "sqlite3-fk-wal"
	postgresDriver  = "postgres"
)

// SQLite returns a database in a file under the test's temporary directory,
// opened with the same driver and transaction mode as the bridge's default
// config. It is closed when the test ends.
func SQLite(t testing.TB) *dbutil.Database {
	t.Helper()
	db, err := dbutil.NewWithDialect(SQLiteURI(t), sqliteDriver)
	if err != nil {
		t.Fatalf("dbtest: open SQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("dbtest: close SQLite: %v", err)
		}
	})
	return db
}

// SQLiteURI returns the URI of a not yet existing SQLite file in the test's
// temporary directory, for tests that open it more than once or hand it to a
// bridge process.
func SQLiteURI(t testing.TB) string {
	t.Helper()
	// _txlock=immediate makes every transaction take the write lock up
	// front, as the example config does: a deferred transaction that reads
	// and then writes fails with SQLITE_BUSY when another connection wrote
	// in between, and busy_timeout cannot help.
	return "file:" + filepath.Join(t.TempDir(), "matrix-stripe.db") + "?_txlock=immediate"
}

// Postgres returns a database in a newly created PostgreSQL database of its
// own, dropped when the test ends. See PostgresURI for when it skips.
func Postgres(t testing.TB) *dbutil.Database {
	t.Helper()
	uri := PostgresURI(t)
	db, err := dbutil.NewWithDialect(uri, postgresDriver)
	if err != nil {
		t.Fatalf("dbtest: open PostgreSQL: %v", err)
	}
	// Registered after PostgresURI's cleanup, so it runs before the drop.
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("dbtest: close PostgreSQL: %v", err)
		}
	})
	return db
}

// PostgresURI creates a uniquely named database (matrix_stripe_test_<hex>) on
// the server named by MATRIX_STRIPE_TEST_POSTGRES and returns its URI, for
// tests that hand it to whole bridge processes. The database is dropped with
// FORCE when the test ends, so lingering connections do not keep it alive.
//
// If the server cannot be reached the test is skipped, or fails when
// REQUIRE_POSTGRES=1.
func PostgresURI(t testing.TB) string {
	t.Helper()
	adminURI := os.Getenv(EnvPostgres)
	if adminURI == "" {
		adminURI = defaultPostgres
	}
	admin, err := sql.Open(postgresDriver, adminURI)
	if err != nil {
		unreachable(t, adminURI, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err = admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		unreachable(t, adminURI, err)
	}

	name := "matrix_stripe_test_" + randomHex(8)
	if _, err = admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("dbtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})

	uri, err := withDatabase(adminURI, name)
	if err != nil {
		t.Fatalf("dbtest: %s: %v", EnvPostgres, err)
	}
	return uri
}

// Each runs fn once per dialect, as the subtests "sqlite" and "postgres",
// each with a fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *dbutil.Database)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, Postgres(t))
	})
}

func unreachable(t testing.TB, uri string, err error) {
	t.Helper()
	msg := fmt.Sprintf("dbtest: PostgreSQL is not reachable at %s (%v). "+
		"Set %s to a server URI where the user may create databases; "+
		"PostgreSQL tests are NOT being run.", redact(uri), err, EnvPostgres)
	if os.Getenv(EnvRequirePostgres) == "1" {
		t.Fatal(msg + " " + EnvRequirePostgres + "=1 makes this a failure.")
	}
	t.Skip(msg)
}

// withDatabase swaps the database name in a postgres:// URI.
func withDatabase(uri, name string) (string, error) {
	parsed, err := url.Parse(uri)
	if err != nil || (parsed.Scheme != "postgres" && parsed.Scheme != "postgresql") {
		return "", fmt.Errorf("want a postgres:// URI, got %q", redact(uri))
	}
	parsed.Path = "/" + name
	return parsed.String(), nil
}

// redact hides a password that may be part of the URI before it is printed.
func redact(uri string) string {
	parsed, err := url.Parse(uri)
	if err != nil {
		return "(unparseable URI)"
	}
	return parsed.Redacted()
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // never fails since Go 1.24
	return hex.EncodeToString(buf)
}
