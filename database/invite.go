package database

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// InviteQuery reads and writes portal_invite: invites that have not gone
// through yet. A row exists from just before an invite is first tried until
// it succeeds (or the user is no longer wanted in the room), so an invite
// that fails, or whose process dies mid-attempt, is retried later instead of
// being forgotten.
type InviteQuery struct {
	*dbutil.QueryHelper[*PendingInvite]
}

// PendingInvite is one user the bridge still has to invite into one room.
type PendingInvite struct {
	RoomID     id.RoomID
	UserID     id.UserID
	AccountID  string
	CustomerID string // empty for the account's Space and feed room
	// Attempts counts tries so far, including the one in progress.
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
}

func newPendingInvite() *PendingInvite { return &PendingInvite{} }

const inviteColumns = `room_id, user_id, account_id, customer_id, attempts, next_attempt_at, last_error, created_at`

const (
	getInviteQuery         = `SELECT ` + inviteColumns + ` FROM portal_invite WHERE room_id=$1 AND user_id=$2`
	listInvitesByRoomQuery = `SELECT ` + inviteColumns + ` FROM portal_invite WHERE room_id=$1 ORDER BY user_id`
	// beginInviteQuery counts a new attempt and holds the row off the retry
	// loop; an invite already pending keeps its created_at and last_error
	// (the new attempt has not failed yet).
	beginInviteQuery = `
		INSERT INTO portal_invite (` + inviteColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (room_id, user_id) DO UPDATE
			SET account_id=excluded.account_id, customer_id=excluded.customer_id,
			    attempts=portal_invite.attempts+1, next_attempt_at=excluded.next_attempt_at
	`
	// claimInviteQuery takes one due invite and pushes its next attempt out
	// by the lease, in one statement, so only one process wins it: SQLite
	// runs one writing statement at a time, and on PostgreSQL the subquery
	// locks the row (SKIP LOCKED, appended per dialect) and the outer
	// condition is checked again on the row as the winner left it.
	//
	// $1 now, $2 lease expiry.
	claimInviteQuery = `
		UPDATE portal_invite
		SET attempts=attempts+1, next_attempt_at=$2
		WHERE next_attempt_at <= $1 AND (room_id, user_id) IN (
			SELECT room_id, user_id FROM portal_invite
			WHERE next_attempt_at <= $1
			ORDER BY next_attempt_at
			LIMIT 1
			%s
		)
		RETURNING ` + inviteColumns
	// An UPDATE, never an upsert: a row dropped meanwhile (the user was
	// unlinked) must not come back because a late attempt failed.
	retryInviteQuery  = `UPDATE portal_invite SET last_error=$3, next_attempt_at=$4 WHERE room_id=$1 AND user_id=$2`
	deleteInviteQuery = `DELETE FROM portal_invite WHERE room_id=$1 AND user_id=$2`
)

// Get returns the pending invite, or nil.
func (iq *InviteQuery) Get(ctx context.Context, roomID id.RoomID, userID id.UserID) (*PendingInvite, error) {
	return iq.QueryOne(ctx, getInviteQuery, roomID, userID)
}

// ListByRoom returns the room's pending invites, ordered by user.
func (iq *InviteQuery) ListByRoom(ctx context.Context, roomID id.RoomID) ([]*PendingInvite, error) {
	return iq.QueryMany(ctx, listInvitesByRoomQuery, roomID)
}

// Begin records that inv.UserID is about to be invited into inv.RoomID and
// counts the attempt. The retry loop leaves the row alone until holdUntil, so
// the caller's own attempt is not raced; if the caller dies, the loop takes
// over after that. The fields Begin sets are written back into inv.
func (iq *InviteQuery) Begin(ctx context.Context, inv *PendingInvite, holdUntil time.Time) error {
	if inv.CreatedAt.IsZero() {
		inv.CreatedAt = nowMilli()
	}
	inv.Attempts, inv.NextAttemptAt, inv.LastError = 1, holdUntil, ""
	if err := iq.Exec(ctx, beginInviteQuery, inv.sqlVariables()...); err != nil {
		return err
	}
	stored, err := iq.Get(ctx, inv.RoomID, inv.UserID)
	if err != nil {
		return err
	} else if stored == nil {
		return fmt.Errorf("pending invite of %s to %s vanished", inv.UserID, inv.RoomID)
	}
	*inv = *stored
	return nil
}

// ClaimNext takes the invite that has been due longest, holding it until
// now+lease, or returns nil if none is due. Two processes never claim the
// same invite at once; one that dies mid-attempt leaves it due again after
// the lease. The claimant ends the attempt with Delete or Retry.
func (iq *InviteQuery) ClaimNext(ctx context.Context, now time.Time, lease time.Duration) (*PendingInvite, error) {
	lock := ""
	if iq.GetDB().Dialect == dbutil.Postgres {
		lock = "FOR UPDATE SKIP LOCKED"
	}
	return iq.QueryOne(ctx, fmt.Sprintf(claimInviteQuery, lock), now.UnixMilli(), now.Add(lease).UnixMilli())
}

// Retry records a failed attempt and when to try again.
func (iq *InviteQuery) Retry(ctx context.Context, roomID id.RoomID, userID id.UserID, errMsg string, next time.Time) error {
	return iq.Exec(ctx, retryInviteQuery, roomID, userID, errMsg, next.UnixMilli())
}

// Delete forgets the invite: it went through, or the user is no longer
// wanted in the room.
func (iq *InviteQuery) Delete(ctx context.Context, roomID id.RoomID, userID id.UserID) error {
	return iq.Exec(ctx, deleteInviteQuery, roomID, userID)
}

func (pi *PendingInvite) Scan(row dbutil.Scannable) (*PendingInvite, error) {
	var lastError sql.NullString
	var nextAttemptAt, createdAt int64
	err := row.Scan(&pi.RoomID, &pi.UserID, &pi.AccountID, &pi.CustomerID, &pi.Attempts, &nextAttemptAt, &lastError, &createdAt)
	if err != nil {
		return nil, err
	}
	pi.NextAttemptAt = time.UnixMilli(nextAttemptAt)
	pi.LastError = lastError.String
	pi.CreatedAt = time.UnixMilli(createdAt)
	return pi, nil
}

func (pi *PendingInvite) sqlVariables() []any {
	return []any{
		pi.RoomID, pi.UserID, pi.AccountID, pi.CustomerID, pi.Attempts,
		pi.NextAttemptAt.UnixMilli(), dbutil.StrPtr(pi.LastError), pi.CreatedAt.UnixMilli(),
	}
}
