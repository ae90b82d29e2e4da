package database

import (
	"context"

	"go.mau.fi/util/dbutil"
)

// roomLockQuery takes a transaction-scoped advisory lock keyed by a string,
// so the key space cannot collide with the inbox claim's fixed key by chance
// of a small integer.
const roomLockQuery = `SELECT pg_advisory_xact_lock(hashtextextended($1, 7888181691312336997))`

// WithRoomLock runs fn while no other bridge process runs fn for the same
// key: creating a room is one request, recording it another, and two
// processes in between would make two rooms (Dendrite checks a room alias
// before it creates the room and sets it after). On PostgreSQL fn runs in a
// transaction holding an advisory lock, so what fn records is visible to the
// next holder; SQLite serves one process, whose own locks suffice.
func (db *Database) WithRoomLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	if db.Dialect != dbutil.Postgres {
		return fn(ctx)
	}
	return db.DoTxn(ctx, nil, func(ctx context.Context) error {
		if _, err := db.Exec(ctx, roomLockQuery, key); err != nil {
			return err
		}
		return fn(ctx)
	})
}
