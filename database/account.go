package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// AccountQuery reads and writes stripe_account: one row per Stripe account in
// the config.
type AccountQuery struct {
	*dbutil.QueryHelper[*Account]
}

// Account is a Stripe account the bridge serves.
type Account struct {
	ID            string // the config alias
	StripeID      string // acct_…; empty until known
	DisplayName   string
	Livemode      bool
	SpaceRoomID   id.RoomID
	FeedRoomID    id.RoomID // events that belong to no customer
	CatchupCursor string    // last event id the Events API catch-up saw
	CatchupAt     time.Time
}

func newAccount() *Account { return &Account{} }

const (
	getAccountBaseQuery = `
		SELECT id, stripe_id, display_name, livemode, space_room_id, feed_room_id, catchup_cursor, catchup_at
		FROM stripe_account
	`
	getAccountByIDQuery = getAccountBaseQuery + `WHERE id=$1`
	getAllAccountsQuery = getAccountBaseQuery + `ORDER BY id`
	// Only the columns the config owns are overwritten: rooms and the catch-up
	// cursor belong to the running bridge and must survive a restart. A known
	// stripe_id is kept when the caller does not know it (yet).
	upsertAccountQuery = `
		INSERT INTO stripe_account (
			id, stripe_id, display_name, livemode, space_room_id, feed_room_id, catchup_cursor, catchup_at
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE
			SET stripe_id=COALESCE(excluded.stripe_id, stripe_account.stripe_id),
			    display_name=excluded.display_name,
			    livemode=excluded.livemode
	`
	setAccountCatchupQuery   = `UPDATE stripe_account SET catchup_cursor=$2, catchup_at=$3 WHERE id=$1`
	setAccountSpaceRoomQuery = `UPDATE stripe_account SET space_room_id=$2 WHERE id=$1`
	setAccountFeedRoomQuery  = `UPDATE stripe_account SET feed_room_id=$2 WHERE id=$1`
	beginAccountRoomQuery    = `
		INSERT INTO account_room_request (account_id, kind, requested_at) VALUES ($1, $2, $3)
		ON CONFLICT (account_id, kind) DO UPDATE SET requested_at=excluded.requested_at
	`
	accountRoomRequestedQuery = `SELECT requested_at FROM account_room_request WHERE account_id=$1 AND kind=$2`
)

// AccountRoom names one of an account's own rooms.
type AccountRoom string

const (
	AccountSpace AccountRoom = "space"
	AccountFeed  AccountRoom = "feed"
)

// BeginRoom durably records that a request to create the account's room of
// the kind is about to be sent at at, so that the next attempt, if this
// one's outcome goes unrecorded, looks for the room it may have made.
func (aq *AccountQuery) BeginRoom(ctx context.Context, accountID string, kind AccountRoom, at time.Time) error {
	return aq.Exec(ctx, beginAccountRoomQuery, accountID, string(kind), at.UnixMilli())
}

// RoomRequestedAt returns when a request to create the account's room of
// the kind was last begun, or the zero time.
func (aq *AccountQuery) RoomRequestedAt(ctx context.Context, accountID string, kind AccountRoom) (time.Time, error) {
	var at sql.NullInt64
	err := aq.GetDB().QueryRow(ctx, accountRoomRequestedQuery, accountID, string(kind)).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return nullUnixMilli(at), err
}

// Get returns the account with the given config alias, or nil.
func (aq *AccountQuery) Get(ctx context.Context, accountID string) (*Account, error) {
	return aq.QueryOne(ctx, getAccountByIDQuery, accountID)
}

// GetAll returns every known account, ordered by alias.
func (aq *AccountQuery) GetAll(ctx context.Context) ([]*Account, error) {
	return aq.QueryMany(ctx, getAllAccountsQuery)
}

// Upsert inserts the account, or updates the fields that come from the config
// (stripe id, display name, livemode) of an existing one.
func (aq *AccountQuery) Upsert(ctx context.Context, acct *Account) error {
	return aq.Exec(ctx, upsertAccountQuery, acct.sqlVariables()...)
}

// SetCatchupCursor records how far the Events API catch-up got.
func (aq *AccountQuery) SetCatchupCursor(ctx context.Context, accountID, lastEventID string, at time.Time) error {
	return aq.Exec(ctx, setAccountCatchupQuery, accountID, dbutil.StrPtr(lastEventID), dbutil.UnixMilliPtr(at))
}

// SetSpaceRoom records the account's Space.
func (aq *AccountQuery) SetSpaceRoom(ctx context.Context, accountID string, roomID id.RoomID) error {
	return aq.Exec(ctx, setAccountSpaceRoomQuery, accountID, dbutil.StrPtr(roomID))
}

// SetFeedRoom records the room for events that belong to no customer.
func (aq *AccountQuery) SetFeedRoom(ctx context.Context, accountID string, roomID id.RoomID) error {
	return aq.Exec(ctx, setAccountFeedRoomQuery, accountID, dbutil.StrPtr(roomID))
}

func (a *Account) Scan(row dbutil.Scannable) (*Account, error) {
	var stripeID, spaceRoomID, feedRoomID, cursor sql.NullString
	var catchupAt sql.NullInt64
	err := row.Scan(&a.ID, &stripeID, &a.DisplayName, &a.Livemode, &spaceRoomID, &feedRoomID, &cursor, &catchupAt)
	if err != nil {
		return nil, err
	}
	a.StripeID = stripeID.String
	a.SpaceRoomID = id.RoomID(spaceRoomID.String)
	a.FeedRoomID = id.RoomID(feedRoomID.String)
	a.CatchupCursor = cursor.String
	a.CatchupAt = nullUnixMilli(catchupAt)
	return a, nil
}

func (a *Account) sqlVariables() []any {
	return []any{
		a.ID, dbutil.StrPtr(a.StripeID), a.DisplayName, a.Livemode,
		dbutil.StrPtr(a.SpaceRoomID), dbutil.StrPtr(a.FeedRoomID),
		dbutil.StrPtr(a.CatchupCursor), dbutil.UnixMilliPtr(a.CatchupAt),
	}
}
