package bridge

import (
	"context"
	"errors"
	"strings"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// roleIn is what userID may do in roomID: the configured role, else
// customer for the Matrix user linked to this very room's customer. A
// customer has no role anywhere else, so they can never reach another
// customer's room through the bot.
//
// Users in the bridge's own namespace never get a configured role, even
// when permissions name their whole server ("*" or the domain): the ones
// web-chat customers speak as are customers, in their own room only.
func (br *Bridge) roleIn(ctx context.Context, roomID id.RoomID, userID id.UserID) config.Role {
	ghost := br.Config.IsGhost(userID)
	if role := br.Config.Bridge.Permissions.Get(userID); role.AtLeast(config.RoleAgent) && !ghost {
		return role
	}
	portal, err := br.DB.Portal.GetByRoom(ctx, roomID)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to look up portal for role")
		return config.RoleNone
	}
	if portal == nil {
		return config.RoleNone
	}
	if !ghost {
		if portal.MatrixUserID != "" && portal.MatrixUserID == userID {
			return config.RoleCustomer
		}
		return config.RoleNone
	}
	account, customer, err := br.DB.WebChat.GhostOwner(ctx, userID)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to look up web chat user for role")
		return config.RoleNone
	}
	if account != "" && account == portal.AccountID && customer == portal.CustomerID {
		return config.RoleCustomer
	}
	return config.RoleNone
}

func (br *Bridge) isManagementRoom(ctx context.Context, userID id.UserID, roomID id.RoomID) bool {
	mgmt, err := br.DB.ManagementRoom.Get(ctx, userID)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to look up management room")
		return false
	}
	return mgmt != nil && mgmt.RoomID == roomID
}

// isBridgeUser is true for the bot and the accounts' ghosts; their own
// messages come back in transactions and must never be treated as input.
// The users web-chat customers speak as are in the ghost namespace too, but
// a person writes their messages: those are input.
func (br *Bridge) isBridgeUser(userID id.UserID) bool {
	if userID == br.Bot.UserID {
		return true
	}
	for _, acct := range br.Config.Stripe.Accounts {
		if userID == br.Config.GhostMXID(acct.Alias) {
			return true
		}
	}
	return false
}

func (br *Bridge) eventLog(ctx context.Context, evt *event.Event) (context.Context, *zerolog.Logger) {
	log := br.Log.With().
		Str("room_id", evt.RoomID.String()).
		Str("matrix_event_id", evt.ID.String()).
		Str("sender", evt.Sender.String()).
		Logger()
	return log.WithContext(ctx), &log
}

// commandContext hands the command processor the bridge's own logger:
// mautrix's processor adds the event's sender, room and id itself, and a
// second copy of each would repeat the keys in every line.
func (br *Bridge) commandContext(ctx context.Context) context.Context {
	return br.Log.WithContext(ctx)
}

func (br *Bridge) handleMember(ctx context.Context, evt *event.Event) {
	content := evt.Content.AsMember()
	ctx, log := br.eventLog(ctx, evt)
	target := id.UserID(evt.GetStateKey())
	switch {
	case target == br.Bot.UserID && content.Membership == event.MembershipInvite:
		br.handleBotInvite(ctx, evt, content)
	case content.Membership == event.MembershipLeave || content.Membership == event.MembershipBan:
		if target != br.Bot.UserID && br.isManagementRoom(ctx, target, evt.RoomID) {
			// The user left their management room: forget it and leave too,
			// so their next DM becomes the new one.
			if err := br.DB.ManagementRoom.Delete(ctx, target); err != nil {
				log.Err(err).Msg("Failed to forget management room")
			}
			if _, err := br.Bot.LeaveRoom(ctx, evt.RoomID); err != nil {
				log.Warn().Err(err).Msg("Failed to leave abandoned management room")
			}
		}
	}
}

func (br *Bridge) handleBotInvite(ctx context.Context, evt *event.Event, content *event.MemberEventContent) {
	log := zerolog.Ctx(ctx)
	role := br.Config.Bridge.Permissions.Get(evt.Sender)
	if !role.AtLeast(config.RoleAgent) {
		log.Info().Msg("Rejecting invite from user without a role")
		_, err := br.Bot.LeaveRoom(ctx, evt.RoomID, &mautrix.ReqLeave{Reason: "You are not allowed to use this bridge."})
		if err != nil {
			log.Err(err).Msg("Failed to reject invite")
		}
		return
	}
	if _, err := br.Bot.JoinRoomByID(ctx, evt.RoomID); err != nil {
		log.Err(err).Msg("Failed to accept invite")
		return
	}
	log.Info().Str("role", string(role)).Msg("Accepted invite")
	if !content.IsDirect {
		return
	}
	existing, err := br.DB.ManagementRoom.Get(ctx, evt.Sender)
	if err != nil {
		log.Err(err).Msg("Failed to look up management room")
		return
	}
	if existing != nil {
		// Keep the first one: it is the one the user has been using.
		br.sendNotice(ctx, evt.RoomID, "You already have a management room with me, so commands here need the "+br.Config.Bridge.CommandPrefix+" prefix.")
		return
	}
	if err = br.DB.ManagementRoom.Set(ctx, evt.Sender, evt.RoomID); err != nil {
		log.Err(err).Msg("Failed to save management room")
		return
	}
	br.sendNotice(ctx, evt.RoomID, "Hi! This is your management room: send commands here without a prefix. Send `help` to see what you can do.")
}

func (br *Bridge) handleMessage(ctx context.Context, evt *event.Event) {
	// The bot's own messages too: a billing event it posted changes what
	// the room's panel shows.
	br.roomChanged(ctx, evt)
	if br.isBridgeUser(evt.Sender) {
		return
	}
	ctx, log := br.eventLog(ctx, evt)
	role := br.roleIn(ctx, evt.RoomID, evt.Sender)
	if !role.AtLeast(config.RoleCustomer) {
		// The bot never acts for users outside the permission map.
		log.Debug().Msg("Ignoring message from user without a role")
		// No reply, but a write attempt leaves a row for admins.
		br.Commands.AuditIgnored(ctx, evt)
		return
	}
	if evt.Type != event.EventMessage || br.isCommand(ctx, evt) {
		if br.firstDelivery(ctx, evt) {
			br.Commands.Handle(br.commandContext(ctx), evt)
		}
		return
	}
	portal, err := br.DB.Portal.GetByRoom(ctx, evt.RoomID)
	if err != nil || portal == nil {
		return
	}
	if role.AtLeast(config.RoleAgent) {
		br.noteAgentActivity(ctx, portal)
		br.recordMessage(ctx, evt, portal, database.RoleAgent)
		return
	}
	if br.recordMessage(ctx, evt, portal, database.RoleCustomer) {
		return
	}
	// The assistant may hand off (a state change and a mention): once only.
	if br.firstDelivery(ctx, evt) {
		br.assist(ctx, evt, portal)
	}
}

// firstDelivery records evt as acted on and reports whether this is the
// first time: homeservers redeliver transactions after timeouts and
// restarts, and an event acted on twice could confirm or refund twice. The
// record is in the database, so it holds across restarts and processes.
// When it cannot be written the event is dropped: at most once, never twice.
func (br *Bridge) firstDelivery(ctx context.Context, evt *event.Event) bool {
	first, err := br.DB.Processed.ClaimEvent(ctx, evt.ID, evt.RoomID, evt.Sender)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to record event as processed; not acting on it")
		if evt.Type == event.EventMessage {
			br.sendNotice(ctx, evt.RoomID, "Sorry, I could not process that just now. Please send it again in a moment.")
		}
		return false
	}
	if !first {
		zerolog.Ctx(ctx).Info().Msg("Ignoring redelivered event")
	}
	return first
}

// handleReaction lets a ✅ on a confirmation prompt run its command; the
// processor only acts on reactions to the bot's own prompts.
func (br *Bridge) handleReaction(ctx context.Context, evt *event.Event) {
	if !br.isBridgeUser(evt.Sender) {
		rctx, _ := br.eventLog(ctx, evt)
		br.handleSatisfactionReaction(rctx, evt)
	}
	br.handleMessage(ctx, evt)
}

// eventRedacted asks the homeserver whether an event has been redacted. An
// event it does not know cannot have been redacted.
func (br *Bridge) eventRedacted(ctx context.Context, roomID id.RoomID, eventID id.EventID) (bool, error) {
	evt, err := br.Bot.GetEvent(ctx, roomID, eventID)
	if errors.Is(err, mautrix.MNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return evt.Unsigned.RedactedBecause != nil, nil
}

// handleRedaction withdraws a write waiting for confirmation when its
// command or its prompt is redacted: what was deleted cannot be confirmed.
func (br *Bridge) handleRedaction(ctx context.Context, evt *event.Event) {
	if br.isBridgeUser(evt.Sender) {
		return
	}
	redacts := evt.Redacts
	if content, ok := evt.Content.Parsed.(*event.RedactionEventContent); ok && content.Redacts != "" {
		redacts = content.Redacts
	}
	if redacts == "" {
		return
	}
	ctx, _ = br.eventLog(ctx, evt)
	br.Commands.Withdraw(ctx, evt.RoomID, redacts, evt.Sender)
}

func (br *Bridge) sendNotice(ctx context.Context, roomID id.RoomID, markdown string) {
	content := format.RenderMarkdown(markdown, true, false)
	content.MsgType = event.MsgNotice
	if _, err := br.Bot.SendMessageEvent(ctx, roomID, event.EventMessage, &content); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to send notice")
	}
}

// noticeAdmins tells every admin with a management room; admins configured
// by domain or "*" have no single MXID and are reached through logs only.
func (br *Bridge) noticeAdmins(ctx context.Context, markdown string) {
	for key, role := range br.Config.Bridge.Permissions {
		if role != config.RoleAdmin || !strings.HasPrefix(key, "@") {
			continue
		}
		mgmt, err := br.DB.ManagementRoom.Get(ctx, id.UserID(key))
		if err != nil || mgmt == nil {
			continue
		}
		br.sendNotice(ctx, mgmt.RoomID, markdown)
	}
}
