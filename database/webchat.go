package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// WebChatQuery stores the web chat's sessions, the Matrix users web-chat
// customers speak as, and their sends.
type WebChatQuery struct {
	db *dbutil.Database
}

// WebChatSession is one signed-in web chat. The token itself is never
// stored: TokenHash is its SHA-256.
type WebChatSession struct {
	TokenHash   string
	AccountID   string
	CustomerID  string
	DisplayName string
	Locale      string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

const (
	insertWebChatSessionQuery = `
		INSERT INTO webchat_session (token_hash, account_id, customer_id, display_name, locale, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
	`
	getWebChatSessionQuery = `
		SELECT account_id, customer_id, display_name, locale, created_at, expires_at
		FROM webchat_session WHERE token_hash=$1 AND ended_at IS NULL AND expires_at > $2
	`
	endWebChatSessionsQuery = `
		UPDATE webchat_session SET ended_at=$3
		WHERE account_id=$1 AND customer_id=$2 AND ended_at IS NULL
	`
	pruneWebChatSessionsQuery = `DELETE FROM webchat_session WHERE expires_at < $1`

	getWebChatGhostQuery    = `SELECT user_id FROM webchat_ghost WHERE account_id=$1 AND customer_id=$2`
	ownerOfWebChatGhost     = `SELECT account_id, customer_id FROM webchat_ghost WHERE user_id=$1`
	insertWebChatGhostQuery = `
		INSERT INTO webchat_ghost (account_id, customer_id, user_id) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING
	`
	setWebChatReadQuery = `UPDATE webchat_ghost SET read_up_to=$3 WHERE account_id=$1 AND customer_id=$2`
	getWebChatReadQuery = `SELECT COALESCE(read_up_to, '') FROM webchat_ghost WHERE account_id=$1 AND customer_id=$2`

	claimWebChatSendQuery = `
		INSERT INTO webchat_send (account_id, customer_id, txn_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING
	`
	getWebChatSendQuery   = `SELECT COALESCE(event_id, '') FROM webchat_send WHERE account_id=$1 AND customer_id=$2 AND txn_id=$3`
	setWebChatSendQuery   = `UPDATE webchat_send SET event_id=$4 WHERE account_id=$1 AND customer_id=$2 AND txn_id=$3`
	pruneWebChatSendQuery = `DELETE FROM webchat_send WHERE created_at < $1`
)

// CreateSession stores a new session.
func (wq *WebChatQuery) CreateSession(ctx context.Context, s *WebChatSession) error {
	_, err := wq.db.Exec(ctx, insertWebChatSessionQuery, s.TokenHash, s.AccountID, s.CustomerID, s.DisplayName, s.Locale,
		s.CreatedAt.UnixMilli(), s.ExpiresAt.UnixMilli())
	return err
}

// Session returns the live session with the token hash at now, or nil when
// there is none (never made, expired or ended).
func (wq *WebChatQuery) Session(ctx context.Context, tokenHash string, now time.Time) (*WebChatSession, error) {
	s := &WebChatSession{TokenHash: tokenHash}
	var created, expires int64
	err := wq.db.QueryRow(ctx, getWebChatSessionQuery, tokenHash, now.UnixMilli()).
		Scan(&s.AccountID, &s.CustomerID, &s.DisplayName, &s.Locale, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = time.UnixMilli(created), time.UnixMilli(expires)
	return s, nil
}

// EndSessions ends every live session of a customer (deleted in Stripe, or
// unlinked) and reports how many there were.
func (wq *WebChatQuery) EndSessions(ctx context.Context, accountID, customerID string, now time.Time) (int64, error) {
	res, err := wq.db.Exec(ctx, endWebChatSessionsQuery, accountID, customerID, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Prune forgets sessions that expired before cutoff and sends older than
// it: a retried send comes within seconds, not days.
func (wq *WebChatQuery) Prune(ctx context.Context, cutoff time.Time) error {
	if _, err := wq.db.Exec(ctx, pruneWebChatSessionsQuery, cutoff.UnixMilli()); err != nil {
		return err
	}
	_, err := wq.db.Exec(ctx, pruneWebChatSendQuery, cutoff.UnixMilli())
	return err
}

// Ghost returns the user a customer speaks as in the web chat, or "".
func (wq *WebChatQuery) Ghost(ctx context.Context, accountID, customerID string) (id.UserID, error) {
	var userID id.UserID
	err := wq.db.QueryRow(ctx, getWebChatGhostQuery, accountID, customerID).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return userID, err
}

// ClaimGhost records userID as the customer's web chat user unless the
// customer has one already or another customer has that user; it returns
// the customer's user either way ("" when userID belongs to someone else).
func (wq *WebChatQuery) ClaimGhost(ctx context.Context, accountID, customerID string, userID id.UserID) (id.UserID, error) {
	if _, err := wq.db.Exec(ctx, insertWebChatGhostQuery, accountID, customerID, userID); err != nil {
		return "", err
	}
	return wq.Ghost(ctx, accountID, customerID)
}

// GhostOwner returns the account and customer a web chat user speaks for,
// or empty strings when userID is no web chat user.
func (wq *WebChatQuery) GhostOwner(ctx context.Context, userID id.UserID) (accountID, customerID string, err error) {
	err = wq.db.QueryRow(ctx, ownerOfWebChatGhost, userID).Scan(&accountID, &customerID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return accountID, customerID, err
}

// SetReadUpTo records the newest message the customer has read.
func (wq *WebChatQuery) SetReadUpTo(ctx context.Context, accountID, customerID string, eventID id.EventID) error {
	_, err := wq.db.Exec(ctx, setWebChatReadQuery, accountID, customerID, eventID)
	return err
}

// ReadUpTo returns the newest message the customer has read, or "".
func (wq *WebChatQuery) ReadUpTo(ctx context.Context, accountID, customerID string) (id.EventID, error) {
	var eventID id.EventID
	err := wq.db.QueryRow(ctx, getWebChatReadQuery, accountID, customerID).Scan(&eventID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return eventID, err
}

// ClaimSend claims a send by the widget's transaction id. first is false
// when it was claimed before; eventID is then what that send posted ("" if
// it has not finished, or failed).
func (wq *WebChatQuery) ClaimSend(ctx context.Context, accountID, customerID, txnID string, now time.Time) (first bool, eventID id.EventID, err error) {
	res, err := wq.db.Exec(ctx, claimWebChatSendQuery, accountID, customerID, txnID, now.UnixMilli())
	if err != nil {
		return false, "", err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, "", err
	}
	err = wq.db.QueryRow(ctx, getWebChatSendQuery, accountID, customerID, txnID).Scan(&eventID)
	return false, eventID, err
}

// SetSendEvent records what a claimed send posted.
func (wq *WebChatQuery) SetSendEvent(ctx context.Context, accountID, customerID, txnID string, eventID id.EventID) error {
	_, err := wq.db.Exec(ctx, setWebChatSendQuery, accountID, customerID, txnID, eventID)
	return err
}
