package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

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

// createOrAdopt creates the room under its alias, or — when the alias is
// taken — returns the room the bot created under it before. A crash between
// creating a room and recording it, or two bridge processes creating the
// same room, therefore never leave a second room: the homeserver's alias is
// the reservation, and it is taken in the same request that creates the
// room. adopted tells the caller the room existed already.
func (m *Manager) createOrAdopt(ctx context.Context, alias id.RoomAlias, req *mautrix.ReqCreateRoom) (roomID id.RoomID, adopted bool, err error) {
	localpart, _, _ := strings.Cut(strings.TrimPrefix(alias.String(), "#"), ":")
	req.RoomAliasName = localpart
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
