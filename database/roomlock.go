package database

import (
	"context"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
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

// beginPortalRoomQuery leaves a portal row without a room, or moves its
// updated_at to now if it has none yet. A portal with a room is not touched.
const beginPortalRoomQuery = `
	INSERT INTO portal (account_id, customer_id, room_id, name, email, created_at, updated_at)
	VALUES ($1, $2, NULL, $3, $4, $5, $5)
	ON CONFLICT (account_id, customer_id) DO UPDATE SET updated_at=excluded.updated_at
	WHERE portal.room_id IS NULL
`

// beginRoomTimeout bounds the write below: it needs a second connection
// while the room lock holds one, and must fail the attempt (which then
// releases its lock) rather than wait for a pool that the lock holders fill.
const beginRoomTimeout = 10 * time.Second

// BeginPortalRoom records, in a commit of its own, that a room is about to
// be requested for the customer: a portal row whose room is NULL, with
// updated_at the time of the request. The homeserver may create a room
// even when the request fails or the process dies before the answer
// (Dendrite v0.13.8 creates it, then sets the alias, and skips the alias
// when the client has gone), and the room is then recorded nowhere. The row
// tells the next attempt to look for that room before it asks for another.
//
// It commits outside the caller's transaction (the room lock's), which
// would otherwise roll the record back with everything else if the process
// dies mid-request.
func (db *Database) BeginPortalRoom(ctx context.Context, accountID, customerID, name, email string) error {
	ctx, cancel := context.WithTimeout(ctx, beginRoomTimeout)
	defer cancel()
	_, err := db.RawDB.ExecContext(ctx, beginPortalRoomQuery, accountID, customerID, name, email, nowMilli().UnixMilli())
	return err
}

// recordedRoomsQuery lists every room the bridge knows it is in for a
// reason: customer rooms, Spaces, feed rooms, management rooms.
const recordedRoomsQuery = `
	SELECT room_id FROM portal WHERE room_id IS NOT NULL
	UNION SELECT space_room_id FROM stripe_account WHERE space_room_id IS NOT NULL
	UNION SELECT feed_room_id FROM stripe_account WHERE feed_room_id IS NOT NULL
	UNION SELECT room_id FROM management_room
`

// RecordedRooms returns the rooms the database records, so that a search
// for a room the homeserver created without the bridge recording it only
// has to look at the others.
func (db *Database) RecordedRooms(ctx context.Context) (map[id.RoomID]bool, error) {
	rows, err := db.Query(ctx, recordedRoomsQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rooms := map[id.RoomID]bool{}
	for rows.Next() {
		var room id.RoomID
		if err = rows.Scan(&room); err != nil {
			return nil, err
		}
		rooms[room] = true
	}
	return rooms, rows.Err()
}
