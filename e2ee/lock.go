package e2ee

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"go.mau.fi/util/dbutil"
)

// ErrLocked: another bridge process holds the encryption device. Two
// processes with the same device keys would break the device's Olm
// sessions for everyone, so only one may.
var ErrLocked = errors.New("another bridge process holds the encryption device")

// deviceLockKey is the advisory lock's key ("mxstripe" in ASCII), the same
// in every process sharing the database.
const deviceLockKey = 0x6d78737472697065

// deviceLock holds a PostgreSQL session advisory lock on a connection of
// its own for as long as the process has the device; if the process dies,
// the server ends the session and the lock with it. SQLite serves one
// process, which needs no lock.
type deviceLock struct {
	conn *sql.Conn
}

func takeLock(ctx context.Context, db *dbutil.Database) (*deviceLock, error) {
	if db.Dialect != dbutil.Postgres {
		return &deviceLock{}, nil
	}
	conn, err := db.RawDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("encryption device lock: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", int64(deviceLockKey)).Scan(&got); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("encryption device lock: %w", err)
	}
	if !got {
		_ = conn.Close()
		return nil, ErrLocked
	}
	return &deviceLock{conn: conn}, nil
}

func (l *deviceLock) release() {
	if l == nil || l.conn == nil {
		return
	}
	_, _ = l.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", int64(deviceLockKey))
	_ = l.conn.Close()
	l.conn = nil
}
