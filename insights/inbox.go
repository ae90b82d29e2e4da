package insights

import (
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// InboxRow is what the dashboard's inbox shows of one room.
type InboxRow struct {
	RoomID id.RoomID
	// When the room's last message that is not the bot's was sent.
	LastMessageAt *time.Time
	LastMessageBy string // the ActorRole of the room's last FactMessage that is not "bot"; "" if none
	// The earliest customer message of the open conversation that nobody
	// has answered yet; nil if nothing waits or the conversation is resolved.
	WaitingSince         *time.Time
	FirstResponseSeconds *float64 // of the room's latest conversation
	// WaitingSince is longer ago than the response target.
	Overdue bool
}

// Inbox returns one row per room that has facts, keyed by room. now and
// target decide which rooms are overdue. Give it each room's facts from the
// start of its latest conversation at least, or waiting times start late.
func Inbox(facts []*database.Fact, now time.Time, target time.Duration) map[id.RoomID]*InboxRow {
	rows := make(map[id.RoomID]*InboxRow)
	for roomID, roomFacts := range byRoom(ordered(facts)) {
		row := &InboxRow{RoomID: roomID}
		for _, f := range roomFacts {
			if f.Kind == database.FactMessage && f.ActorRole != database.RoleBot {
				at := f.At
				row.LastMessageAt = &at
				row.LastMessageBy = f.ActorRole
			}
		}
		if convs := segment(roomFacts); len(convs) > 0 {
			latest := convs[len(convs)-1]
			if latest.open() && !latest.waitingSince.IsZero() {
				waiting := latest.waitingSince
				row.WaitingSince = &waiting
				row.Overdue = now.Sub(waiting) > target
			}
			if !latest.firstResponse.IsZero() {
				seconds := latest.firstResponse.Sub(latest.start).Seconds()
				row.FirstResponseSeconds = &seconds
			}
		}
		rows[roomID] = row
	}
	return rows
}
