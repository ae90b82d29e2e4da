package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// ProcessedQuery records the Matrix events and appservice transactions the
// bridge has acted on, so that nothing a homeserver redelivers is acted on
// twice: not after a restart, not on another bridge process.
type ProcessedQuery struct {
	db *dbutil.Database
}

const (
	claimProcessedEventQuery = `
		INSERT INTO processed_event (event_id, room_id, sender, processed_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (event_id) DO NOTHING
	`
	setEventActionQuery    = `UPDATE processed_event SET action_id=$2 WHERE event_id=$1`
	getEventActionQuery    = `SELECT COALESCE(action_id, '') FROM processed_event WHERE event_id=$1`
	pruneEventsQuery       = `DELETE FROM processed_event WHERE processed_at < $1`
	transactionSeenQuery   = `SELECT EXISTS(SELECT 1 FROM appservice_txn WHERE txn_id=$1)`
	recordTransactionQuery = `
		INSERT INTO appservice_txn (txn_id, received_at) VALUES ($1, $2)
		ON CONFLICT (txn_id) DO NOTHING
	`
	pruneTransactionsQuery = `DELETE FROM appservice_txn WHERE received_at < $1`
)

// ClaimEvent records that eventID is being acted on now. It reports false if
// it already was, here or in another process: the caller must then do
// nothing. A claimed event is never retried, so this is at-most-once.
func (pq *ProcessedQuery) ClaimEvent(ctx context.Context, eventID id.EventID, roomID id.RoomID, sender id.UserID) (bool, error) {
	res, err := pq.db.Exec(ctx, claimProcessedEventQuery, eventID, roomID, sender, time.Now().UnixMilli())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetAction remembers which pending action a claimed event resolved.
func (pq *ProcessedQuery) SetAction(ctx context.Context, eventID id.EventID, actionID string) error {
	_, err := pq.db.Exec(ctx, setEventActionQuery, eventID, actionID)
	return err
}

// Action returns the pending action a processed event resolved, or "".
func (pq *ProcessedQuery) Action(ctx context.Context, eventID id.EventID) (actionID string, err error) {
	err = pq.db.QueryRow(ctx, getEventActionQuery, eventID).Scan(&actionID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return actionID, err
}

// TransactionSeen reports whether the homeserver already delivered txnID.
func (pq *ProcessedQuery) TransactionSeen(ctx context.Context, txnID string) (seen bool, err error) {
	err = pq.db.QueryRow(ctx, transactionSeenQuery, txnID).Scan(&seen)
	return seen, err
}

// RecordTransaction remembers a transaction once it has been accepted. The
// homeserver waits for the answer, which waits for this, so the commit is
// not waited for on disk (doUnflushedTxn): a record a database crash loses
// lets a redelivered transaction through to the events inside, which are
// deduplicated again by event id (ClaimEvent, flushed).
func (pq *ProcessedQuery) RecordTransaction(ctx context.Context, txnID string) error {
	return doUnflushedTxn(ctx, pq.db, func(ctx context.Context) error {
		_, err := pq.db.Exec(ctx, recordTransactionQuery, txnID, time.Now().UnixMilli())
		return err
	})
}

// Prune forgets events and transactions older than before: homeservers give
// up redelivering long before that.
func (pq *ProcessedQuery) Prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, query := range []string{pruneEventsQuery, pruneTransactionsQuery} {
		res, err := pq.db.Exec(ctx, query, before.UnixMilli())
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
