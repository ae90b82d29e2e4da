package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// PanelLinkQuery stores one-time sign-in links to the agent panel.
type PanelLinkQuery struct {
	db *dbutil.Database
}

const (
	insertPanelLinkQuery = `INSERT INTO panel_link (token_hash, user_id, room_id, expires_at) VALUES ($1, $2, $3, $4)`
	// One statement: two tabs (or two processes) opening the same link at
	// once cannot both use it.
	usePanelLinkQuery = `
		UPDATE panel_link SET used_at=$2
		WHERE token_hash=$1 AND used_at IS NULL AND expires_at > $2
		RETURNING user_id, room_id
	`
	prunePanelLinksQuery = `DELETE FROM panel_link WHERE expires_at < $1`
)

// Insert stores a new link by its token's digest.
func (lq *PanelLinkQuery) Insert(ctx context.Context, tokenHash string, userID id.UserID, roomID id.RoomID, expires time.Time) error {
	_, err := lq.db.Exec(ctx, insertPanelLinkQuery, tokenHash, userID, roomID, expires.UnixMilli())
	return err
}

// Use marks the link used at now and returns whom and which room it was
// for; ok is false if there is no such link, or it was used or expired.
func (lq *PanelLinkQuery) Use(ctx context.Context, tokenHash string, now time.Time) (userID id.UserID, roomID id.RoomID, ok bool, err error) {
	err = lq.db.QueryRow(ctx, usePanelLinkQuery, tokenHash, now.UnixMilli()).Scan(&userID, &roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	return userID, roomID, err == nil, err
}

// Prune forgets links that expired before before.
func (lq *PanelLinkQuery) Prune(ctx context.Context, before time.Time) error {
	_, err := lq.db.Exec(ctx, prunePanelLinksQuery, before.UnixMilli())
	return err
}
