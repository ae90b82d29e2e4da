package database

import (
	"context"
	"database/sql"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// MessageQuery reads and writes message: which Stripe object a Matrix event
// shows, so a reply to it can act on that object.
type MessageQuery struct {
	*dbutil.QueryHelper[*Message]
}

// Message ties a Matrix event to the Stripe object it shows.
type Message struct {
	RoomID         id.RoomID
	MatrixEventID  id.EventID
	StripeObjectID string // ch_…, in_…, sub_…
	StripeEventID  string // empty for replies to commands
	AccountID      string
	CustomerID     string // empty in the account's feed room
	CreatedAt      time.Time
}

func newMessage() *Message { return &Message{} }

const (
	getMessageBaseQuery = `
		SELECT room_id, matrix_event_id, stripe_object_id, stripe_event_id, account_id, customer_id, created_at
		FROM message
	`
	getMessageByEventQuery        = getMessageBaseQuery + `WHERE room_id=$1 AND matrix_event_id=$2`
	getLatestMessageByObjectQuery = getMessageBaseQuery + `
		WHERE room_id=$1 AND stripe_object_id=$2
		ORDER BY created_at DESC, matrix_event_id DESC
		LIMIT 1
	`
	// A send retried after a crash comes back with the same event id (the
	// transaction id is deterministic), so the row may already be there.
	insertMessageQuery = `
		INSERT INTO message (
			room_id, matrix_event_id, stripe_object_id, stripe_event_id, account_id, customer_id, created_at
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (room_id, matrix_event_id) DO NOTHING
	`
)

// Insert records a sent message. Recording it twice is harmless.
func (mq *MessageQuery) Insert(ctx context.Context, msg *Message) error {
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = nowMilli()
	}
	return mq.Exec(ctx, insertMessageQuery, msg.sqlVariables()...)
}

// GetByEventID returns what a Matrix event in the room shows, or nil: the
// lookup behind "reply to a charge with !stripe refund".
func (mq *MessageQuery) GetByEventID(ctx context.Context, roomID id.RoomID, eventID id.EventID) (*Message, error) {
	return mq.QueryOne(ctx, getMessageByEventQuery, roomID, eventID)
}

// GetLatestByObjectID returns the newest message in the room that shows the
// object, or nil.
func (mq *MessageQuery) GetLatestByObjectID(ctx context.Context, roomID id.RoomID, objectID string) (*Message, error) {
	return mq.QueryOne(ctx, getLatestMessageByObjectQuery, roomID, objectID)
}

func (m *Message) Scan(row dbutil.Scannable) (*Message, error) {
	var stripeEventID, customerID sql.NullString
	var createdAt int64
	err := row.Scan(&m.RoomID, &m.MatrixEventID, &m.StripeObjectID, &stripeEventID, &m.AccountID, &customerID, &createdAt)
	if err != nil {
		return nil, err
	}
	m.StripeEventID = stripeEventID.String
	m.CustomerID = customerID.String
	m.CreatedAt = time.UnixMilli(createdAt)
	return m, nil
}

func (m *Message) sqlVariables() []any {
	return []any{
		m.RoomID, m.MatrixEventID, m.StripeObjectID, dbutil.StrPtr(m.StripeEventID),
		m.AccountID, dbutil.StrPtr(m.CustomerID), m.CreatedAt.UnixMilli(),
	}
}
