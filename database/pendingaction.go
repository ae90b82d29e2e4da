package database

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// PendingActionQuery reads and writes pending_action: destructive commands
// waiting for their requester's confirmation.
type PendingActionQuery struct {
	*dbutil.QueryHelper[*PendingAction]
}

// PendingActionState is where a confirmation stands.
type PendingActionState string

const (
	ActionPending   PendingActionState = "pending"
	ActionConfirmed PendingActionState = "confirmed"
	ActionCancelled PendingActionState = "cancelled"
	ActionExpired   PendingActionState = "expired"
	// ActionWithdrawn: the command (or its prompt) was redacted before anyone
	// confirmed, so it can no longer be confirmed.
	ActionWithdrawn PendingActionState = "withdrawn"
)

// PendingAction is a command that runs only once its requester confirms.
type PendingAction struct {
	ID             string
	RoomID         id.RoomID
	Requester      id.UserID // the only user who may confirm
	Command        string
	Parameters     json.RawMessage
	Summary        string // what will happen, as shown to the user
	PromptEventID  id.EventID
	CommandEventID id.EventID // the command it came from; empty for rows before v4
	IdempotencyKey string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	State          PendingActionState
}

func newPendingAction() *PendingAction { return &PendingAction{} }

const (
	getPendingActionBaseQuery = `
		SELECT id, room_id, requester, command, parameters, summary, prompt_event_id,
		       idempotency_key, created_at, expires_at, state, command_event_id
		FROM pending_action
	`
	getPendingActionByIDQuery     = getPendingActionBaseQuery + `WHERE id=$1`
	getPendingActionByPromptQuery = getPendingActionBaseQuery + `WHERE room_id=$1 AND prompt_event_id=$2`
	getLatestPendingActionQuery   = getPendingActionBaseQuery + `
		WHERE room_id=$1 AND requester=$2 AND state='pending' AND expires_at > $3
		ORDER BY created_at DESC, id DESC LIMIT 1
	`
	listPendingActionsQuery = getPendingActionBaseQuery + `
		WHERE room_id=$1 AND requester=$2 AND state='pending' AND expires_at > $3
		ORDER BY created_at DESC, id DESC LIMIT $4
	`
	insertPendingActionQuery = `
		INSERT INTO pending_action (
			id, room_id, requester, command, parameters, summary, prompt_event_id,
			idempotency_key, created_at, expires_at, state, command_event_id
		)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	`
	setPendingActionPromptQuery = `UPDATE pending_action SET prompt_event_id=$2 WHERE id=$1`
	// Only a pending, unexpired action can be resolved, and only once: two
	// "confirm" replies racing each other must not run the command twice.
	resolvePendingActionQuery = `
		UPDATE pending_action SET state=$2
		WHERE id=$1 AND state='pending' AND expires_at > $3
	`
	expirePendingActionsQuery = `
		UPDATE pending_action SET state='expired'
		WHERE state='pending' AND expires_at <= $1
	`
)

// Insert stores a new action. Empty State means pending, zero CreatedAt now.
func (paq *PendingActionQuery) Insert(ctx context.Context, action *PendingAction) error {
	if action.State == "" {
		action.State = ActionPending
	}
	if action.CreatedAt.IsZero() {
		action.CreatedAt = nowMilli()
	}
	return paq.Exec(ctx, insertPendingActionQuery, action.sqlVariables()...)
}

// Get returns the action, or nil.
func (paq *PendingActionQuery) Get(ctx context.Context, actionID string) (*PendingAction, error) {
	return paq.QueryOne(ctx, getPendingActionByIDQuery, actionID)
}

// GetByPrompt returns the action whose confirmation prompt is the given event,
// or nil, so a reply or reaction to the prompt finds its action.
func (paq *PendingActionQuery) GetByPrompt(ctx context.Context, roomID id.RoomID, promptEventID id.EventID) (*PendingAction, error) {
	return paq.QueryOne(ctx, getPendingActionByPromptQuery, roomID, promptEventID)
}

// LatestPending returns the requester's newest unexpired action in the room,
// or nil: a bare "confirm" means the last thing they asked for.
func (paq *PendingActionQuery) LatestPending(ctx context.Context, roomID id.RoomID, requester id.UserID, now time.Time) (*PendingAction, error) {
	return paq.QueryOne(ctx, getLatestPendingActionQuery, roomID, requester, now.UnixMilli())
}

// ListPending returns the requester's unexpired actions in the room, newest
// first, at most limit: a bare "confirm" must know whether it is ambiguous.
func (paq *PendingActionQuery) ListPending(ctx context.Context, roomID id.RoomID, requester id.UserID, now time.Time, limit int) ([]*PendingAction, error) {
	return paq.QueryMany(ctx, listPendingActionsQuery, roomID, requester, now.UnixMilli(), limit)
}

// SetPromptEvent records the event that asked for confirmation; the prompt is
// sent after the action is stored, so its id is only known later.
func (paq *PendingActionQuery) SetPromptEvent(ctx context.Context, actionID string, promptEventID id.EventID) error {
	return paq.Exec(ctx, setPendingActionPromptQuery, actionID, promptEventID)
}

// Resolve moves a pending, unexpired action to state (confirmed or cancelled).
// It reports false if the action was already resolved, has expired or does
// not exist; the caller must then not run the command.
func (paq *PendingActionQuery) Resolve(ctx context.Context, actionID string, state PendingActionState, now time.Time) (bool, error) {
	res, err := paq.GetDB().Exec(ctx, resolvePendingActionQuery, actionID, state, now.UnixMilli())
	if err != nil {
		return false, err
	}
	affected, err := res.RowsAffected()
	return affected == 1, err
}

// ExpireOld marks every pending action whose time is up as expired and
// returns how many there were.
func (paq *PendingActionQuery) ExpireOld(ctx context.Context, now time.Time) (int64, error) {
	res, err := paq.GetDB().Exec(ctx, expirePendingActionsQuery, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (pa *PendingAction) Scan(row dbutil.Scannable) (*PendingAction, error) {
	var promptEventID, commandEventID sql.NullString
	var parameters []byte
	var createdAt, expiresAt int64
	err := row.Scan(
		&pa.ID, &pa.RoomID, &pa.Requester, &pa.Command, &parameters, &pa.Summary, &promptEventID,
		&pa.IdempotencyKey, &createdAt, &expiresAt, &pa.State, &commandEventID,
	)
	if err != nil {
		return nil, err
	}
	pa.Parameters = parameters
	pa.PromptEventID = id.EventID(promptEventID.String)
	pa.CommandEventID = id.EventID(commandEventID.String)
	pa.CreatedAt = time.UnixMilli(createdAt)
	pa.ExpiresAt = time.UnixMilli(expiresAt)
	return pa, nil
}

func (pa *PendingAction) sqlVariables() []any {
	// parameters is NOT NULL: an action without any is stored as {}.
	parameters := string(pa.Parameters)
	if parameters == "" {
		parameters = "{}"
	}
	return []any{
		pa.ID, pa.RoomID, pa.Requester, pa.Command, parameters, pa.Summary, dbutil.StrPtr(pa.PromptEventID),
		pa.IdempotencyKey, pa.CreatedAt.UnixMilli(), pa.ExpiresAt.UnixMilli(), pa.State, dbutil.StrPtr(pa.CommandEventID),
	}
}
