package database

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// OfferQuery stores the assistant's short memory: the one step it last
// offered in each customer room, until it expires or is answered.
type OfferQuery struct {
	db *dbutil.Database
}

// Offer is a step the assistant offered a customer.
type Offer struct {
	Offer string // a self-service command line without the prefix, or "agent"
	Lang  string
}

const (
	setOfferQuery = `
		INSERT INTO assistant_offer (room_id, offer, lang, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (room_id) DO UPDATE SET offer=excluded.offer, lang=excluded.lang, expires_at=excluded.expires_at
	`
	// One statement: a "yes" redelivered to two processes at once takes
	// the offer once.
	takeOfferQuery   = `DELETE FROM assistant_offer WHERE room_id=$1 AND expires_at > $2 RETURNING offer, lang`
	clearOfferQuery  = `DELETE FROM assistant_offer WHERE room_id=$1`
	pruneOffersQuery = `DELETE FROM assistant_offer WHERE expires_at <= $1`
)

// Set replaces the room's offer.
func (oq *OfferQuery) Set(ctx context.Context, room id.RoomID, o Offer, expires time.Time) error {
	_, err := oq.db.Exec(ctx, setOfferQuery, room, o.Offer, o.Lang, expires.UnixMilli())
	return err
}

// Take removes the room's offer and returns it if it had not expired by
// now; nil when there was none.
func (oq *OfferQuery) Take(ctx context.Context, room id.RoomID, now time.Time) (*Offer, error) {
	var o Offer
	err := oq.db.QueryRow(ctx, takeOfferQuery, room, now.UnixMilli()).Scan(&o.Offer, &o.Lang)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return &o, nil
}

// Clear forgets the room's offer: the customer moved on.
func (oq *OfferQuery) Clear(ctx context.Context, room id.RoomID) error {
	_, err := oq.db.Exec(ctx, clearOfferQuery, room)
	return err
}

// Prune forgets offers that expired by now.
func (oq *OfferQuery) Prune(ctx context.Context, now time.Time) error {
	_, err := oq.db.Exec(ctx, pruneOffersQuery, now.UnixMilli())
	return err
}
