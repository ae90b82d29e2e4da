package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// AuditQuery appends to and reads audit_log: every write command, allowed or
// denied. Rows are never updated or deleted.
type AuditQuery struct {
	*dbutil.QueryHelper[*AuditEntry]
}

// AuditOutcome is how a command ended.
type AuditOutcome string

const (
	AuditOK               AuditOutcome = "ok"
	AuditDenied           AuditOutcome = "denied"
	AuditError            AuditOutcome = "error"
	AuditConfirmRequested AuditOutcome = "confirm_requested"
	AuditCancelled        AuditOutcome = "cancelled"
	AuditExpired          AuditOutcome = "expired"
)

// AuditEntry is one line of the audit log. CustomerID is the customer of
// the room the command ran in; TargetCustomerID is set only when the command
// named an object of another customer (and was refused for it), so an admin
// looking at that customer finds the attempt too.
type AuditEntry struct {
	ID              int64 // assigned by Insert
	Timestamp       time.Time
	Actor           id.UserID
	Role            string
	AccountID       string
	CustomerID      string
	RoomID          id.RoomID
	Command         string
	TargetObject    string
	Parameters      json.RawMessage
	IdempotencyKey  string
	StripeRequestID string
	Outcome         AuditOutcome
	Error           string
	// TargetCustomerID owns TargetObject when that is not CustomerID.
	TargetCustomerID string
}

func newAuditEntry() *AuditEntry { return &AuditEntry{} }

const (
	getAuditBaseQuery = `
		SELECT id, ts, actor, role, account_id, customer_id, room_id, command, target_object,
		       parameters, idempotency_key, stripe_request_id, outcome, error, target_customer_id
		FROM audit_log
	`
	// Two index lookups (audit_log_customer_idx, audit_log_target_customer_idx)
	// joined by UNION: written as one WHERE with OR, SQLite reads every row
	// of the account instead.
	listAuditByCustomerQuery = `
		SELECT id, ts, actor, role, account_id, customer_id, room_id, command, target_object,
		       parameters, idempotency_key, stripe_request_id, outcome, error, target_customer_id
		FROM (
			SELECT * FROM audit_log WHERE account_id=$1 AND customer_id=$2
			UNION
			SELECT * FROM audit_log WHERE account_id=$1 AND target_customer_id=$2
		) AS matched
		ORDER BY ts DESC, id DESC LIMIT $3
	`
	listAuditByTargetQuery = getAuditBaseQuery + `WHERE target_object=$1 ORDER BY ts DESC, id DESC LIMIT $2`
	listAuditByRoomQuery   = getAuditBaseQuery + `WHERE room_id=$1 ORDER BY ts DESC, id DESC LIMIT $2`
	listAuditRecentQuery   = getAuditBaseQuery + `ORDER BY ts DESC, id DESC LIMIT $1`
	insertAuditQuery       = `
		INSERT INTO audit_log (
			ts, actor, role, account_id, customer_id, room_id, command, target_object,
			parameters, idempotency_key, stripe_request_id, outcome, error, target_customer_id
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		RETURNING id
	`
)

// Insert appends the entry and sets its ID. Zero Timestamp means now.
func (aq *AuditQuery) Insert(ctx context.Context, entry *AuditEntry) error {
	if entry.Timestamp.IsZero() {
		entry.Timestamp = nowMilli()
	}
	return aq.GetDB().QueryRow(ctx, insertAuditQuery, entry.sqlVariables()...).Scan(&entry.ID)
}

// ListByCustomer returns the customer's newest entries first, at most limit:
// commands run in the customer's room and commands elsewhere that were
// refused for naming the customer's objects.
func (aq *AuditQuery) ListByCustomer(ctx context.Context, accountID, customerID string, limit int) ([]*AuditEntry, error) {
	return aq.QueryMany(ctx, listAuditByCustomerQuery, accountID, customerID, limit)
}

// ListByTarget returns the newest entries about one Stripe object (a
// charge, invoice, subscription…), at most limit. Stripe ids are unique
// across accounts, so no account is needed. Admins run it rarely, so it has
// no index of its own and reads the table.
func (aq *AuditQuery) ListByTarget(ctx context.Context, objectID string, limit int) ([]*AuditEntry, error) {
	return aq.QueryMany(ctx, listAuditByTargetQuery, objectID, limit)
}

// ListByRoom returns the room's newest entries first, at most limit.
func (aq *AuditQuery) ListByRoom(ctx context.Context, roomID id.RoomID, limit int) ([]*AuditEntry, error) {
	return aq.QueryMany(ctx, listAuditByRoomQuery, roomID, limit)
}

// ListRecent returns the newest entries across all customers.
func (aq *AuditQuery) ListRecent(ctx context.Context, limit int) ([]*AuditEntry, error) {
	return aq.QueryMany(ctx, listAuditRecentQuery, limit)
}

func (a *AuditEntry) Scan(row dbutil.Scannable) (*AuditEntry, error) {
	var accountID, customerID, roomID, targetObject, idempotencyKey, stripeRequestID, errMsg, targetCustomerID sql.NullString
	var parameters []byte
	var ts int64
	err := row.Scan(
		&a.ID, &ts, &a.Actor, &a.Role, &accountID, &customerID, &roomID, &a.Command, &targetObject,
		&parameters, &idempotencyKey, &stripeRequestID, &a.Outcome, &errMsg, &targetCustomerID,
	)
	if err != nil {
		return nil, err
	}
	a.Timestamp = time.UnixMilli(ts)
	a.AccountID = accountID.String
	a.CustomerID = customerID.String
	a.RoomID = id.RoomID(roomID.String)
	a.TargetObject = targetObject.String
	a.Parameters = parameters
	a.IdempotencyKey = idempotencyKey.String
	a.StripeRequestID = stripeRequestID.String
	a.Error = errMsg.String
	a.TargetCustomerID = targetCustomerID.String
	return a, nil
}

func (a *AuditEntry) sqlVariables() []any {
	return []any{
		a.Timestamp.UnixMilli(), a.Actor, a.Role, dbutil.StrPtr(a.AccountID), dbutil.StrPtr(a.CustomerID),
		dbutil.StrPtr(a.RoomID), a.Command, dbutil.StrPtr(a.TargetObject), jsonText(a.Parameters),
		dbutil.StrPtr(a.IdempotencyKey), dbutil.StrPtr(a.StripeRequestID), a.Outcome, dbutil.StrPtr(a.Error),
		dbutil.StrPtr(a.TargetCustomerID),
	}
}
