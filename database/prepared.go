package database

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/util/dbutil"
)

// preparedStatement is a query on the hot path of every webhook, prepared
// once and then reused (database/sql prepares it again on each connection
// it runs on, once). On PostgreSQL that makes a call one round trip instead
// of two — lib/pq sends a query with parameters to be parsed, waits, then
// binds and runs it — and spares the server parsing and planning it every
// time; on SQLite it spares compiling it.
//
// In a transaction it runs on the transaction's connection through
// Tx.StmtContext, which prepares it there if it is not yet; it is never
// prepared for the first time inside a transaction, which would need a
// second connection while the transaction holds one (and a pool of one
// would wait forever): until a call outside a transaction has prepared it,
// calls inside one run unprepared.
type preparedStatement struct {
	stmt atomic.Pointer[sql.Stmt]
	mu   sync.Mutex // held while preparing
}

// queryRow runs query (written with $n parameters) like
// dbutil.Database.QueryRow, in the context's transaction if there is one,
// and logs its timing the same way.
func (ps *preparedStatement) queryRow(ctx context.Context, db *dbutil.Database, query string, args ...any) *sql.Row {
	exec := db.Execable(ctx)
	var stmt *sql.Stmt
	switch exec := exec.(type) {
	case *dbutil.LoggingTxn:
		if prepared := ps.stmt.Load(); prepared != nil {
			stmt = exec.UnderlyingTx.StmtContext(ctx, prepared)
		}
	case dbutil.Transaction:
		// A transaction whose *sql.Tx is out of reach: unprepared.
	default:
		stmt = ps.prepare(ctx, db, query)
	}
	if stmt == nil {
		return exec.QueryRowContext(ctx, query, args...)
	}
	start := time.Now()
	row := stmt.QueryRowContext(ctx, args...)
	db.Log.QueryTiming(ctx, "QueryRow", query, args, -1, time.Since(start), nil)
	return row
}

// prepare returns the statement, preparing it if this is the first call
// that could, or nil if that failed (the call then runs unprepared, and
// the next one tries again: the database may just have been away).
func (ps *preparedStatement) prepare(ctx context.Context, db *dbutil.Database, query string) *sql.Stmt {
	if stmt := ps.stmt.Load(); stmt != nil {
		return stmt
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if stmt := ps.stmt.Load(); stmt != nil {
		return stmt
	}
	if db.Dialect == dbutil.SQLite {
		query = sqlitePositional.ReplaceAllString(query, "?$1")
	}
	stmt, err := db.RawDB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	ps.stmt.Store(stmt)
	return stmt
}

// queryOnePrepared is dbutil.QueryHelper.QueryOne with a prepared statement.
func queryOnePrepared[T dbutil.DataStruct[T]](ctx context.Context, qh *dbutil.QueryHelper[T], ps *preparedStatement, query string, args ...any) (T, error) {
	val, err := qh.New().Scan(ps.queryRow(ctx, qh.GetDB(), query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return *new(T), nil
	}
	return val, err
}

// sqlitePositional is how dbutil rewrites $n parameters for SQLite, which
// it does for the queries it runs itself but not for a statement prepared
// on the *sql.DB.
var sqlitePositional = regexp.MustCompile(`\$(\d+)`)
