package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// FactQuery appends to and reads conversation_fact: what happened in the
// customer rooms, recorded as it happens, from which the dashboard's
// figures are computed (package insights). Rows are never updated.
type FactQuery struct {
	*dbutil.QueryHelper[*Fact]
}

// FactKind is what a fact says happened.
type FactKind string

const (
	FactMessage   FactKind = "message"    // someone spoke in the room; ActorRole says who
	FactAnswer    FactKind = "answer"     // the assistant answered; Detail = intent
	FactHandoff   FactKind = "handoff"    // the assistant handed off to agents; Detail = intent
	FactState     FactKind = "state"      // conversation state changed; Detail = "open"|"waiting"|"resolved"; Actor = who
	FactAssign    FactKind = "assign"     // Actor assigned Detail (an MXID)
	FactWrite     FactKind = "write"      // a Stripe write succeeded; Detail = command name ("refund","credit","cancel","pause",...); Amount/Currency when it moved money
	FactCSATAsked FactKind = "csat_asked" // the customer was asked "Did we solve it?"; EventID = the question's event
	FactCSAT      FactKind = "csat"       // the customer answered; Detail = "up"|"down"; Ref = the question's event id; EventID = the answer (reaction) event
)

// Roles used in ActorRole for FactMessage:
const (
	RoleCustomer  = "customer"
	RoleAgent     = "agent"
	RoleAssistant = "assistant"
	RoleBot       = "bot" // billing notices, command replies
)

// Fact is one thing that happened in a customer room.
type Fact struct {
	ID         int64 // assigned by Insert
	AccountID  string
	CustomerID string
	RoomID     id.RoomID
	At         time.Time
	Kind       FactKind
	Actor      id.UserID
	ActorRole  string
	Detail     string
	Amount     int64
	Currency   string
	EventID    id.EventID // "" stored as NULL
	Ref        string
}

func newFact() *Fact { return &Fact{} }

const (
	factColumns = `id, account_id, customer_id, room_id, at, kind, actor, actor_role, detail, amount, currency, event_id, ref`
	// ON CONFLICT DO NOTHING returns no row for a duplicate, which is how
	// Insert tells a redelivered event from a new one in one statement.
	insertFactQuery = `
		INSERT INTO conversation_fact (account_id, customer_id, room_id, at, kind, actor, actor_role, detail, amount, currency, event_id, ref)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (kind, event_id) DO NOTHING
		RETURNING id
	`
	listFactsSinceQuery        = `SELECT ` + factColumns + ` FROM conversation_fact WHERE at >= $1 ORDER BY at, id`
	listAccountFactsSinceQuery = `SELECT ` + factColumns + ` FROM conversation_fact WHERE at >= $1 AND account_id=$2 ORDER BY at, id`
	// The newest limit facts, turned back to oldest first.
	listRoomFactsQuery = `
		SELECT ` + factColumns + ` FROM (
			SELECT ` + factColumns + ` FROM conversation_fact WHERE room_id=$1 ORDER BY at DESC, id DESC LIMIT $2
		) AS recent
		ORDER BY at, id
	`
	getCSATQuestionQuery = `SELECT ` + factColumns + ` FROM conversation_fact WHERE kind='csat_asked' AND event_id=$2 AND room_id=$1`
)

// Insert records f once: a second fact of the same kind and non-empty
// EventID is ignored (inserted=false). Facts without an EventID are always
// recorded. It sets f.ID when inserted; zero At means now.
func (fq *FactQuery) Insert(ctx context.Context, f *Fact) (inserted bool, err error) {
	if f.At.IsZero() {
		f.At = nowMilli()
	}
	err = fq.GetDB().QueryRow(ctx, insertFactQuery, f.sqlVariables()...).Scan(&f.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// Since returns the facts at or after since, of one account ("" = all),
// oldest first (at, id).
func (fq *FactQuery) Since(ctx context.Context, accountID string, since time.Time) ([]*Fact, error) {
	if accountID == "" {
		return fq.QueryMany(ctx, listFactsSinceQuery, since.UnixMilli())
	}
	return fq.QueryMany(ctx, listAccountFactsSinceQuery, since.UnixMilli(), accountID)
}

// Room returns a room's facts, oldest first, at most limit: the newest
// limit of them when the room has more.
func (fq *FactQuery) Room(ctx context.Context, roomID id.RoomID, limit int) ([]*Fact, error) {
	return fq.QueryMany(ctx, listRoomFactsQuery, roomID, limit)
}

// CSATQuestion returns the csat_asked fact whose EventID is eventID, or
// nil: a reaction to any other event in the room is no answer.
func (fq *FactQuery) CSATQuestion(ctx context.Context, roomID id.RoomID, eventID id.EventID) (*Fact, error) {
	if eventID == "" {
		return nil, nil
	}
	return fq.QueryOne(ctx, getCSATQuestionQuery, roomID, eventID)
}

func (f *Fact) Scan(row dbutil.Scannable) (*Fact, error) {
	var at int64
	var eventID sql.NullString
	err := row.Scan(
		&f.ID, &f.AccountID, &f.CustomerID, &f.RoomID, &at, &f.Kind, &f.Actor, &f.ActorRole,
		&f.Detail, &f.Amount, &f.Currency, &eventID, &f.Ref,
	)
	if err != nil {
		return nil, err
	}
	f.At = time.UnixMilli(at)
	f.EventID = id.EventID(eventID.String)
	return f, nil
}

func (f *Fact) sqlVariables() []any {
	return []any{
		f.AccountID, f.CustomerID, f.RoomID, f.At.UnixMilli(), f.Kind, f.Actor, f.ActorRole,
		f.Detail, f.Amount, f.Currency, dbutil.StrPtr(f.EventID), f.Ref,
	}
}
