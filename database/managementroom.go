package database

import (
	"context"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// ManagementRoomQuery reads and writes management_room: each user's DM with
// the bot, where commands need no customer context.
type ManagementRoomQuery struct {
	*dbutil.QueryHelper[*ManagementRoom]
}

// ManagementRoom is a user's DM with the bot.
type ManagementRoom struct {
	UserID id.UserID
	RoomID id.RoomID
}

func newManagementRoom() *ManagementRoom { return &ManagementRoom{} }

const (
	getManagementRoomByUserQuery = `SELECT user_id, room_id FROM management_room WHERE user_id=$1`
	getManagementRoomByRoomQuery = `SELECT user_id, room_id FROM management_room WHERE room_id=$1`
	deleteManagementRoomQuery    = `DELETE FROM management_room WHERE user_id=$1`
	// A user who leaves their old DM and opens a new one moves their
	// management room there.
	setManagementRoomQuery = `
		INSERT INTO management_room (user_id, room_id) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET room_id=excluded.room_id
	`
)

// Get returns the user's management room, or nil.
func (mrq *ManagementRoomQuery) Get(ctx context.Context, userID id.UserID) (*ManagementRoom, error) {
	return mrq.QueryOne(ctx, getManagementRoomByUserQuery, userID)
}

// GetByRoom returns whose management room this is, or nil.
func (mrq *ManagementRoomQuery) GetByRoom(ctx context.Context, roomID id.RoomID) (*ManagementRoom, error) {
	return mrq.QueryOne(ctx, getManagementRoomByRoomQuery, roomID)
}

// Set makes roomID the user's management room.
func (mrq *ManagementRoomQuery) Set(ctx context.Context, userID id.UserID, roomID id.RoomID) error {
	return mrq.Exec(ctx, setManagementRoomQuery, userID, roomID)
}

// Delete forgets the user's management room, so their next DM becomes one.
func (mrq *ManagementRoomQuery) Delete(ctx context.Context, userID id.UserID) error {
	return mrq.Exec(ctx, deleteManagementRoomQuery, userID)
}

func (mr *ManagementRoom) Scan(row dbutil.Scannable) (*ManagementRoom, error) {
	return dbutil.ValueOrErr(mr, row.Scan(&mr.UserID, &mr.RoomID))
}
