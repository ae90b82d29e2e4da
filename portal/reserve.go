package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// errForeignAlias means a room alias the bridge creates its rooms under
// points at a room the bot did not create: someone else took it (possible
// only where the registration's alias namespace is not exclusive). The
// bridge must never post billing into that room.
var errForeignAlias = errors.New("room alias belongs to a room the bridge did not create")

// customerChannel keys a customer's room alias. It is a digest, not the id,
// so the alias does not tell anyone who can resolve aliases which customer
// ids exist.
func customerChannel(customerID string) string {
	sum := sha256.Sum256([]byte("matrix-stripe customer\x00" + customerID))
	return "c" + hex.EncodeToString(sum[:10])
}

// creationAliasKey in a room's m.room.create content names the alias the
// bridge created the room for. The create event is the first of a room, so
// a room whose creation was cut short still says whose it is.
const creationAliasKey = "com.matrix-stripe.room_alias"

// creationSettle is how long a retry gives the room an earlier request may
// have created to appear, counted from the retry's first look. Dendrite
// queues a room's creation into its roomserver before it answers and goes
// on with it when the client has gone; a retry that looked only once,
// right after a crash, would miss a room still being made and create a
// second. Counted from the look, not from the earlier request: a
// homeserver that was down in between resumes its queue when it starts
// again (the homeserver fault test saw a cut creation finish only then).
// The roomserver works through a room's queue in order, well under a
// second per room on two cores under the fault tests' load; this is the
// bound the delivery lease gives a send in flight.
const creationSettle = 15 * time.Second

// orphanPoll is how often the look-up for such a room is repeated while it
// may still be appearing.
const orphanPoll = 500 * time.Millisecond

// roomRequest is one room the bridge creates under its alias.
type roomRequest struct {
	alias id.RoomAlias
	req   *mautrix.ReqCreateRoom
	// earlier is when an earlier attempt sent the same request without its
	// outcome being recorded (zero: no such attempt is known): the room it
	// may have created is looked for, for creationSettle, before another
	// is asked for.
	earlier time.Time
	// begin, if set, durably records that the request is about to be sent,
	// so the next attempt knows to look (sets earlier for it): a portal row
	// without a room for a customer's room, an account_room_request row for
	// the Space and the feed room.
	begin func(ctx context.Context) error
}

// createOrAdopt creates the room under its alias, or — when the alias is
// taken — returns the room the bot created under it before. A crash between
// creating a room and recording it, or two bridge processes creating the
// same room, therefore never leave a second room: the homeserver's alias is
// the reservation, and it is taken in the same request that creates the
// room. The alias is set last, though, and not at all when the request was
// cut short (a crash, a timeout): a retry after such an attempt first
// adopts the room that attempt made (findOrphan). adopted tells the caller
// the room existed already.
func (m *Manager) createOrAdopt(ctx context.Context, rr roomRequest) (roomID id.RoomID, adopted bool, err error) {
	alias := rr.alias
	if !rr.earlier.IsZero() {
		if roomID, err = m.findOrphan(ctx, alias, rr.earlier); err != nil || roomID != "" {
			return roomID, roomID != "", err
		}
	}
	if rr.begin != nil {
		if err = rr.begin(ctx); err != nil {
			return "", false, transient(fmt.Errorf("record the room request: %w", err))
		}
	}
	req := rr.req
	localpart, _, _ := strings.Cut(strings.TrimPrefix(alias.String(), "#"), ":")
	req.RoomAliasName = localpart
	creation := map[string]any{creationAliasKey: alias.String()}
	maps.Copy(creation, req.CreationContent)
	req.CreationContent = creation
	resp, err := m.Bot.CreateRoom(ctx, req)
	if err == nil {
		return resp.RoomID, false, nil
	}
	if !errors.Is(err, mautrix.MRoomInUse) {
		return "", false, transient(fmt.Errorf("create room: %w", err))
	}
	resolved, rerr := m.Bot.ResolveAlias(ctx, alias)
	if rerr != nil {
		return "", false, transient(fmt.Errorf("alias %s is taken but does not resolve: %w", alias, rerr))
	}
	create, rerr := m.Bot.FullStateEvent(ctx, resolved.RoomID, event.StateCreate, "")
	if rerr != nil {
		return "", false, transient(fmt.Errorf("read the creation of %s: %w", resolved.RoomID, rerr))
	}
	if create.Sender != m.Bot.UserID {
		zerolog.Ctx(ctx).Error().Str("room_alias", alias.String()).Str("room_id", resolved.RoomID.String()).
			Str("creator", create.Sender.String()).Msg("A room alias of the bridge points at someone else's room; not using it")
		return "", false, fmt.Errorf("%w: %s (created by %s)", errForeignAlias, alias, create.Sender)
	}
	zerolog.Ctx(ctx).Info().Str("room_alias", alias.String()).Str("room_id", resolved.RoomID.String()).
		Msg("Found the room created before under its alias; using it instead of creating another")
	return resolved.RoomID, true, nil
}

// findOrphan looks for a room an earlier, unrecorded request (made at
// earlier) created for alias without setting the alias, until it is found
// whole or creationSettle has passed. A whole one (its canonical alias, the
// last event of the creation, is there) gets its alias and is returned.
// Rooms whose creation stopped part-way (the request was cut while Dendrite
// queued its events) are left at the end: they hold nothing but the bot.
func (m *Manager) findOrphan(ctx context.Context, alias id.RoomAlias, earlier time.Time) (id.RoomID, error) {
	log := zerolog.Ctx(ctx).With().Str("room_alias", alias.String()).Time("earlier_attempt_at", earlier).Logger()
	settle := creationSettle
	if m.createSettle != 0 {
		settle = m.createSettle
	}
	start := time.Now()
	deadline := start.Add(settle)
	for looks := 1; ; looks++ {
		whole, partial, err := m.orphansOf(ctx, alias)
		if err != nil {
			return "", transient(fmt.Errorf("look for a room created before: %w", err))
		}
		if len(whole) > 0 {
			room := whole[0]
			if err = m.claimAlias(ctx, alias, room); err != nil {
				return "", err
			}
			log.Info().Str("room_id", room.String()).Int("looks", looks).Dur("took", time.Since(start)).
				Msg("Found the room an earlier attempt created without its alias; using it instead of creating another")
			m.leaveOrphans(ctx, alias, append(whole[1:], partial...))
			return room, nil
		}
		if !time.Now().Before(deadline) {
			m.leaveOrphans(ctx, alias, partial)
			log.Debug().Int("looks", looks).Dur("took", time.Since(start)).Msg("No room from an earlier attempt; creating one")
			return "", nil
		}
		select {
		case <-ctx.Done():
			return "", transient(context.Cause(ctx))
		case <-time.After(min(orphanPoll, time.Until(deadline))):
		}
	}
}

// orphansOf returns the rooms the bot created for alias that the database
// does not record: whole ones, and ones whose creation stopped part-way.
func (m *Manager) orphansOf(ctx context.Context, alias id.RoomAlias) (whole, partial []id.RoomID, err error) {
	joined, err := m.Bot.JoinedRooms(ctx)
	if err != nil {
		return nil, nil, err
	}
	recorded, err := m.DB.RecordedRooms(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, room := range joined.JoinedRooms {
		if recorded[room] {
			continue
		}
		// The client's own calls: the intent's would first join the bot to
		// rooms its state store does not know it is in.
		create, err := m.Bot.Client.FullStateEvent(ctx, room, event.StateCreate, "")
		if err != nil {
			return nil, nil, fmt.Errorf("read the creation of %s: %w", room, err)
		}
		if create.Sender != m.Bot.UserID {
			continue
		}
		var canonical event.CanonicalAliasEventContent
		err = m.Bot.Client.StateEvent(ctx, room, event.StateCanonicalAlias, "", &canonical)
		if err != nil && !errors.Is(err, mautrix.MNotFound) {
			return nil, nil, fmt.Errorf("read the alias of %s: %w", room, err)
		}
		markedFor, _ := create.Content.Raw[creationAliasKey].(string)
		switch {
		case canonical.Alias == alias:
			whole = append(whole, room)
		case markedFor == alias.String():
			partial = append(partial, room)
		}
	}
	return whole, partial, nil
}

// claimAlias points alias at room, which the bot created for it.
func (m *Manager) claimAlias(ctx context.Context, alias id.RoomAlias, room id.RoomID) error {
	_, err := m.Bot.CreateAlias(ctx, alias, room)
	if err == nil {
		return nil
	}
	resolved, rerr := m.Bot.ResolveAlias(ctx, alias)
	if rerr == nil && resolved.RoomID == room {
		return nil
	}
	return transient(fmt.Errorf("set alias %s on the room created before, %s: %w", alias, room, err))
}

// leaveOrphans has the bot leave rooms it created for alias and will not
// use. Nobody else was ever in them: invites are sent once the room is
// recorded. A failure is only logged; the next look-up finds them again.
func (m *Manager) leaveOrphans(ctx context.Context, alias id.RoomAlias, rooms []id.RoomID) {
	for _, room := range rooms {
		log := zerolog.Ctx(ctx).With().Str("room_alias", alias.String()).Str("room_id", room.String()).Logger()
		if _, err := m.Bot.LeaveRoom(ctx, room); err != nil {
			log.Warn().Err(err).Msg("Failed to leave a room an earlier attempt created and that is not used")
			continue
		}
		log.Warn().Msg("Left a room an earlier attempt created and that is not used")
	}
}
