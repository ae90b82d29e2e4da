// Package database stores all bridge state: typed queries over the bridge's
// tables, with their SQL beside them, on PostgreSQL and SQLite.
package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	// Both drivers, so whoever opens our database can use either dialect the
	// config allows ("postgres", "sqlite3-fk-wal").
	_ "github.com/lib/pq"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream"
	"maunium.net/go/mautrix/sqlstatestore"

	"github.com/matrix-stripe/matrix-stripe/database/upgrades"
)

// Database is the bridge's database: one query struct per table, plus
// mautrix's Matrix state store (membership, power levels) in the same
// database under its own version table.
type Database struct {
	*dbutil.Database

	Account        *AccountQuery
	Portal         *PortalQuery
	Event          *EventQuery
	Message        *MessageQuery
	Audit          *AuditQuery
	PendingAction  *PendingActionQuery
	ManagementRoom *ManagementRoomQuery
	// Processed makes command events and transactions at-most-once.
	Processed *ProcessedQuery
	// Invite holds invites still to be retried (remote homeservers down).
	Invite *InviteQuery
	// WebChat holds web chat sessions and the users customers speak as.
	WebChat *WebChatQuery
	// PanelLink holds one-time sign-in links to the agent panel.
	PanelLink *PanelLinkQuery
	// Fact records what happens in customer rooms, for the dashboard.
	Fact *FactQuery
	// Offer is the assistant's memory of what it offered in each room.
	Offer *OfferQuery

	StateStore *sqlstatestore.SQLStateStore
}

// New wraps an opened database. The state store logs through db.Log, so give
// db its logger before calling New. Call Upgrade before any query.
func New(db *dbutil.Database) *Database {
	db.UpgradeTable = upgrades.Table
	return &Database{
		Database:       db,
		Account:        &AccountQuery{dbutil.MakeQueryHelperSimple(db, newAccount)},
		Portal:         &PortalQuery{QueryHelper: dbutil.MakeQueryHelperSimple(db, newPortal)},
		Event:          &EventQuery{QueryHelper: dbutil.MakeQueryHelperSimple(db, newEvent)},
		Message:        &MessageQuery{dbutil.MakeQueryHelperSimple(db, newMessage)},
		Audit:          &AuditQuery{dbutil.MakeQueryHelperSimple(db, newAuditEntry)},
		PendingAction:  &PendingActionQuery{dbutil.MakeQueryHelperSimple(db, newPendingAction)},
		ManagementRoom: &ManagementRoomQuery{dbutil.MakeQueryHelperSimple(db, newManagementRoom)},
		Processed:      &ProcessedQuery{db: db},
		Invite:         &InviteQuery{dbutil.MakeQueryHelperSimple(db, newPendingInvite)},
		WebChat:        &WebChatQuery{db: db},
		PanelLink:      &PanelLinkQuery{db: db},
		Offer:          &OfferQuery{db: db},
		Fact:           &FactQuery{dbutil.MakeQueryHelperSimple(db, newFact)},
		StateStore:     sqlstatestore.NewSQLStateStore(db, db.Log, false),
	}
}

// Upgrade brings both the bridge's tables and the state store's tables to
// their newest versions, and defines this version's claim function on
// PostgreSQL.
func (db *Database) Upgrade(ctx context.Context) error {
	if err := db.Database.Upgrade(ctx); err != nil {
		return fmt.Errorf("upgrade bridge tables: %w", err)
	}
	if err := db.StateStore.Upgrade(ctx); err != nil {
		return fmt.Errorf("upgrade state store tables: %w", err)
	}
	if err := db.defineClaimFunction(ctx); err != nil {
		return fmt.Errorf("define the claim function: %w", err)
	}
	return nil
}

// DoUnflushedTxn runs fn in a transaction whose commit does not wait for
// PostgreSQL to flush it to disk (synchronous_commit off; on SQLite it is a
// plain transaction). Its writes are visible to every session at once,
// like any commit's, and are lost only if the database server itself
// crashes within a fraction of a second (wal_writer_delay) of the commit;
// a later commit that is flushed flushes them too. It is for writes whose
// loss the bridge recovers from by itself, so that they neither wait for
// nor compete with the flushes that must happen.
func (db *Database) DoUnflushedTxn(ctx context.Context, fn func(ctx context.Context) error) error {
	return doUnflushedTxn(ctx, db.Database, fn)
}

func doUnflushedTxn(ctx context.Context, db *dbutil.Database, fn func(ctx context.Context) error) error {
	return db.DoTxn(ctx, nil, func(ctx context.Context) error {
		if db.Dialect == dbutil.Postgres {
			if _, err := db.Exec(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
				return err
			}
		}
		return fn(ctx)
	})
}

// Timestamps are stored as unix milliseconds; a zero time.Time is NULL in
// nullable columns.

// nowMilli is the current time as it will read back from the database, so a
// struct the caller keeps after an insert equals the stored row.
func nowMilli() time.Time {
	return time.UnixMilli(time.Now().UnixMilli())
}

func nullUnixMilli(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64)
}

// jsonText stores JSON as text in both dialects. It must be a string: lib/pq
// would send a []byte as bytea and the column would hold "\x7b…".
func jsonText(data json.RawMessage) *string {
	if len(data) == 0 {
		return nil
	}
	text := string(data)
	return &text
}
