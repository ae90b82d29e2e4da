package database

import (
	"context"
	"database/sql"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// PortalQuery reads and writes portal: the one room of each (account, customer).
type PortalQuery struct {
	*dbutil.QueryHelper[*Portal]
	// The look-ups every delivery (Get) and every message and command in a
	// room (GetByRoom) make, prepared (preparedStatement).
	get, getByRoom preparedStatement
}

// ConversationState is where a customer's conversation with support stands.
type ConversationState string

const (
	ConversationOpen     ConversationState = "open"
	ConversationWaiting  ConversationState = "waiting"
	ConversationResolved ConversationState = "resolved"
)

// Portal binds a Stripe customer to a Matrix room.
type Portal struct {
	AccountID           string
	CustomerID          string
	RoomID              id.RoomID // empty until the room exists
	Name                string
	Email               string
	MatrixUserID        id.UserID // the linked customer; empty if none
	ConversationState   ConversationState
	AssignedAgent       id.UserID
	AssistantEnabled    bool
	LastAgentActivityAt time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// NewPortal returns a portal with the defaults the schema gives a new row, so
// a Go-side zero value never turns the assistant off by accident.
func NewPortal(accountID, customerID string) *Portal {
	return &Portal{
		AccountID:         accountID,
		CustomerID:        customerID,
		ConversationState: ConversationOpen,
		AssistantEnabled:  true,
	}
}

func newPortal() *Portal { return &Portal{} }

const (
	getPortalBaseQuery = `
		SELECT account_id, customer_id, room_id, name, email, matrix_user_id, conversation_state,
		       assigned_agent, assistant_enabled, last_agent_activity_at, created_at, updated_at
		FROM portal
	`
	getPortalByCustomerQuery = getPortalBaseQuery + `WHERE account_id=$1 AND customer_id=$2`
	getPortalByRoomQuery     = getPortalBaseQuery + `WHERE room_id=$1`
	getPortalsByAccountQuery = getPortalBaseQuery + `WHERE account_id=$1 ORDER BY customer_id`
	// created_at is left alone on update: it records when the portal first existed.
	upsertPortalQuery = `
		INSERT INTO portal (
			account_id, customer_id, room_id, name, email, matrix_user_id, conversation_state,
			assigned_agent, assistant_enabled, last_agent_activity_at, created_at, updated_at
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (account_id, customer_id) DO UPDATE
			SET room_id=excluded.room_id, name=excluded.name, email=excluded.email,
			    matrix_user_id=excluded.matrix_user_id, conversation_state=excluded.conversation_state,
			    assigned_agent=excluded.assigned_agent, assistant_enabled=excluded.assistant_enabled,
			    last_agent_activity_at=excluded.last_agent_activity_at, updated_at=excluded.updated_at
	`
	setPortalRoomQuery  = `UPDATE portal SET room_id=$3, updated_at=$4 WHERE account_id=$1 AND customer_id=$2`
	setPortalStateQuery = `UPDATE portal SET conversation_state=$3, updated_at=$4 WHERE account_id=$1 AND customer_id=$2`
	// Single-column updates: these race with webhook-driven Upserts of the
	// name and email, so they must not rewrite the whole row.
	setPortalAgentActivityQuery = `UPDATE portal SET last_agent_activity_at=$3 WHERE account_id=$1 AND customer_id=$2`
	setPortalAssistantQuery     = `UPDATE portal SET assistant_enabled=$3, updated_at=$4 WHERE account_id=$1 AND customer_id=$2`
)

// Get returns the customer's portal, or nil.
func (pq *PortalQuery) Get(ctx context.Context, accountID, customerID string) (*Portal, error) {
	return queryOnePrepared(ctx, pq.QueryHelper, &pq.get, getPortalByCustomerQuery, accountID, customerID)
}

// GetByRoom returns the portal bound to the room, or nil: the ownership check
// every command starts from.
func (pq *PortalQuery) GetByRoom(ctx context.Context, roomID id.RoomID) (*Portal, error) {
	return queryOnePrepared(ctx, pq.QueryHelper, &pq.getByRoom, getPortalByRoomQuery, roomID)
}

// ListByAccount returns the account's portals, ordered by customer id.
func (pq *PortalQuery) ListByAccount(ctx context.Context, accountID string) ([]*Portal, error) {
	return pq.QueryMany(ctx, getPortalsByAccountQuery, accountID)
}

// Upsert inserts the portal or overwrites every field but CreatedAt. It sets
// UpdatedAt to now, and CreatedAt too if it is zero.
func (pq *PortalQuery) Upsert(ctx context.Context, portal *Portal) error {
	portal.UpdatedAt = nowMilli()
	if portal.CreatedAt.IsZero() {
		portal.CreatedAt = portal.UpdatedAt
	}
	return pq.Exec(ctx, upsertPortalQuery, portal.sqlVariables()...)
}

// SetRoomID binds the portal to its newly created room.
func (pq *PortalQuery) SetRoomID(ctx context.Context, accountID, customerID string, roomID id.RoomID) error {
	return pq.Exec(ctx, setPortalRoomQuery, accountID, customerID, dbutil.StrPtr(roomID), time.Now().UnixMilli())
}

// SetConversationState moves the conversation to open, waiting or resolved.
func (pq *PortalQuery) SetConversationState(ctx context.Context, accountID, customerID string, state ConversationState) error {
	return pq.Exec(ctx, setPortalStateQuery, accountID, customerID, state, time.Now().UnixMilli())
}

// SetAgentActivity records that an agent spoke in the room, so the
// assistant stays quiet while a human is handling the conversation.
func (pq *PortalQuery) SetAgentActivity(ctx context.Context, accountID, customerID string, at time.Time) error {
	return pq.Exec(ctx, setPortalAgentActivityQuery, accountID, customerID, at.UnixMilli())
}

// SetAssistantEnabled switches the assistant on or off for one room.
func (pq *PortalQuery) SetAssistantEnabled(ctx context.Context, accountID, customerID string, enabled bool) error {
	return pq.Exec(ctx, setPortalAssistantQuery, accountID, customerID, enabled, time.Now().UnixMilli())
}

func (p *Portal) Scan(row dbutil.Scannable) (*Portal, error) {
	var roomID, matrixUserID, assignedAgent sql.NullString
	var lastAgentActivity sql.NullInt64
	var createdAt, updatedAt int64
	err := row.Scan(
		&p.AccountID, &p.CustomerID, &roomID, &p.Name, &p.Email, &matrixUserID, &p.ConversationState,
		&assignedAgent, &p.AssistantEnabled, &lastAgentActivity, &createdAt, &updatedAt,
	)
	if err != nil {
		return nil, err
	}
	p.RoomID = id.RoomID(roomID.String)
	p.MatrixUserID = id.UserID(matrixUserID.String)
	p.AssignedAgent = id.UserID(assignedAgent.String)
	p.LastAgentActivityAt = nullUnixMilli(lastAgentActivity)
	p.CreatedAt = time.UnixMilli(createdAt)
	p.UpdatedAt = time.UnixMilli(updatedAt)
	return p, nil
}

func (p *Portal) sqlVariables() []any {
	state := p.ConversationState
	if state == "" {
		state = ConversationOpen
	}
	return []any{
		p.AccountID, p.CustomerID, dbutil.StrPtr(p.RoomID), p.Name, p.Email, dbutil.StrPtr(p.MatrixUserID), state,
		dbutil.StrPtr(p.AssignedAgent), p.AssistantEnabled, dbutil.UnixMilliPtr(p.LastAgentActivityAt),
		p.CreatedAt.UnixMilli(), p.UpdatedAt.UnixMilli(),
	}
}

// PanelWidgetOutdated returns up to limit portals with a room whose agent
// panel widget is not url ("" for none): the rooms whose widget state the
// bridge still has to set or remove.
func (pq *PortalQuery) PanelWidgetOutdated(ctx context.Context, url string, limit int) ([]*Portal, error) {
	return pq.QueryMany(ctx, panelWidgetOutdatedQuery, url, limit)
}

// SetPanelWidget records that the portal's room has the widget at url
// ("" for none).
func (pq *PortalQuery) SetPanelWidget(ctx context.Context, accountID, customerID, url string) error {
	return pq.Exec(ctx, setPanelWidgetQuery, accountID, customerID, dbutil.StrPtr(url))
}

const (
	// NULL and '' both mean no widget.
	panelWidgetOutdatedQuery = getPortalBaseQuery + `
		WHERE room_id IS NOT NULL AND COALESCE(panel_widget_url, '') <> $1
		ORDER BY account_id, customer_id
		LIMIT $2
	`
	setPanelWidgetQuery = `UPDATE portal SET panel_widget_url=$3 WHERE account_id=$1 AND customer_id=$2`
)
