package portal

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/logctx"
)

// Invites go out one by one after a room exists and is stored, never in the
// createRoom request: a homeserver fails the whole createRoom when one invite
// fails (a remote server that cannot be reached), after the room already
// exists, so the next attempt would make a second room. A failed invite is
// kept in portal_invite and retried by the bridge's invite loop.

const (
	// InviteLease is how long an invite being tried stays with whoever tries
	// it; a process that dies mid-attempt leaves it to the retry loop after
	// this. It outlasts inviteTimeout.
	InviteLease = 2 * time.Minute
	// inviteTimeout bounds one invite request: federation to a dead server
	// can hang, and the room's delivery is waiting.
	inviteTimeout = 20 * time.Second

	inviteFirstRetry = time.Minute
	inviteMaxRetry   = 6 * time.Hour
)

// InviteBackoff is how long to wait after the attempts-th failed invite: a
// minute, doubling, at most six hours, ±20% so that invites that failed
// together (one remote server down) do not all retry together.
func InviteBackoff(attempts int) time.Duration {
	d := inviteMaxRetry
	if n := max(attempts-1, 0); n < 20 {
		d = min(inviteFirstRetry<<n, inviteMaxRetry)
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5*2+1)) - d/5
	return d + jitter
}

// storeAndInvite records a room that was just created or changed (store)
// together with a pending invite per user, in one transaction, and then
// invites them. Only store's error is returned: a failed invite is logged and
// left for the retry loop, so the room and its delivery go on. The invite
// rows are written with the room, so a crash before the invites go out loses
// none of them.
func (m *Manager) storeAndInvite(ctx context.Context, alias, customerID string, room id.RoomID, users []id.UserID, store func(context.Context) error) error {
	users = m.inviteesOf(alias, users)
	invites := make([]*database.PendingInvite, 0, len(users))
	hold := time.Now().Add(InviteLease)
	err := m.DB.DoTxn(ctx, nil, func(ctx context.Context) error {
		if err := store(ctx); err != nil {
			return err
		}
		for _, user := range users {
			inv := &database.PendingInvite{RoomID: room, UserID: user, AccountID: alias, CustomerID: customerID}
			if err := m.DB.Invite.Begin(ctx, inv, hold); err != nil {
				return err
			}
			invites = append(invites, inv)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, inv := range invites {
		if err := m.attemptInvite(ctx, inv); err != nil {
			// The row is still there, held until its lease runs out; the
			// retry loop picks it up then.
			inviteLog(ctx, inv).Err(err).Msg("Failed to record invite outcome")
		}
	}
	return nil
}

// inviteesOf drops duplicates and the users who are in every room from its
// creation (the bot creates it, the ghost is invited with it).
func (m *Manager) inviteesOf(alias string, users []id.UserID) []id.UserID {
	out := make([]id.UserID, 0, len(users))
	for _, user := range users {
		if user == "" || user == m.Bot.UserID || user == m.Config.GhostMXID(alias) || slices.Contains(out, user) {
			continue
		}
		out = append(out, user)
	}
	return out
}

// attemptInvite tries one pending invite and records the outcome: gone on
// success, last_error and the next attempt on failure. Only a failure to
// record is returned.
func (m *Manager) attemptInvite(ctx context.Context, inv *database.PendingInvite) error {
	log := inviteLog(ctx, inv).With().Int("invite_attempt", inv.Attempts).Logger()
	inviteErr := m.inviteUser(ctx, inv.RoomID, inv.UserID)
	// The outcome is recorded even when the attempt was cut short by
	// shutdown; otherwise the row would sit out its whole lease.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if inviteErr == nil {
		if inv.Attempts > 1 {
			log.Info().Msg("Invite went through on retry")
		} else {
			log.Debug().Msg("Invited user")
		}
		return m.DB.Invite.Delete(recordCtx, inv.RoomID, inv.UserID)
	}
	next := time.Now().Add(InviteBackoff(inv.Attempts))
	log.Warn().Err(inviteErr).Time("next_attempt_at", next).Msg("Failed to invite user; will retry")
	return m.DB.Invite.Retry(recordCtx, inv.RoomID, inv.UserID, inviteErr.Error(), next)
}

// inviteUser invites user unless they are already invited or joined, which
// counts as success.
func (m *Manager) inviteUser(ctx context.Context, room id.RoomID, user id.UserID) error {
	ctx, cancel := context.WithTimeout(ctx, inviteTimeout)
	defer cancel()
	err := m.Bot.EnsureInvited(ctx, room, user)
	if err == nil {
		return nil
	}
	// Homeservers word "already there" differently (Dendrite: "target
	// cannot be invited when their membership is \"join\""); the member
	// event says it plainly.
	if membership, _ := m.membership(ctx, room, user); membership == event.MembershipJoin || membership == event.MembershipInvite {
		return nil
	}
	return err
}

// membership asks the homeserver for user's membership in room. A user who
// never had one is an mautrix.MNotFound error.
func (m *Manager) membership(ctx context.Context, room id.RoomID, user id.UserID) (event.Membership, error) {
	var member event.MemberEventContent
	if err := m.Bot.Client.StateEvent(ctx, room, event.StateMember, user.String(), &member); err != nil {
		return "", err
	}
	return member.Membership, nil
}

// isInRoom reports whether user is joined, invited or knocking, or might be
// (the homeserver could not say): whether there is anything to kick.
func (m *Manager) isInRoom(ctx context.Context, room id.RoomID, user id.UserID) bool {
	membership, err := m.membership(ctx, room, user)
	if err != nil {
		return !errors.Is(err, mautrix.MNotFound)
	}
	return membership != event.MembershipLeave && membership != event.MembershipBan
}

// inviteLog tags the log with the invite. Space and feed-room invites belong
// to no customer, and the delivery that triggered one may already carry its
// own customer_id.
func inviteLog(ctx context.Context, inv *database.PendingInvite) *zerolog.Logger {
	if inv.CustomerID != "" {
		ctx = logctx.With(ctx, "customer_id", inv.CustomerID)
	}
	log := zerolog.Ctx(ctx).With().Str("room_id", inv.RoomID.String()).Str("user_id", inv.UserID.String()).Logger()
	return &log
}

// RetryInvite makes another attempt at an invite the retry loop claimed. An
// invite whose user is no longer wanted in the room (unlinked, no longer an
// agent, the room replaced) is dropped instead: a customer room must never
// open to someone it no longer belongs to. Only database errors are returned.
func (m *Manager) RetryInvite(ctx context.Context, inv *database.PendingInvite) error {
	if inv.CustomerID != "" {
		// Serialised with UpdateCustomer in this process, so a link that
		// moves away cannot be undone by a retry already under way.
		defer m.lock("portal:" + inv.AccountID + "/" + inv.CustomerID)()
	}
	wanted, err := m.stillWanted(ctx, inv)
	if err != nil {
		return err
	}
	if !wanted {
		inviteLog(ctx, inv).Info().Msg("Dropping pending invite: user no longer belongs in the room")
		return m.DB.Invite.Delete(ctx, inv.RoomID, inv.UserID)
	}
	return m.attemptInvite(ctx, inv)
}

// stillWanted: the account's agents belong in its Space, feed room and
// customer rooms; the linked customer only in their own room.
func (m *Manager) stillWanted(ctx context.Context, inv *database.PendingInvite) (bool, error) {
	if m.Config.Account(inv.AccountID) == nil {
		return false, nil
	}
	isAgent := slices.Contains(m.Config.Bridge.InviteAgents[inv.AccountID], inv.UserID)
	if inv.CustomerID == "" {
		acct, err := m.DB.Account.Get(ctx, inv.AccountID)
		if err != nil || acct == nil {
			return false, err
		}
		return isAgent && (inv.RoomID == acct.SpaceRoomID || inv.RoomID == acct.FeedRoomID), nil
	}
	portal, err := m.DB.Portal.Get(ctx, inv.AccountID, inv.CustomerID)
	if err != nil || portal == nil {
		return false, err
	}
	return portal.RoomID == inv.RoomID && (isAgent || portal.MatrixUserID == inv.UserID), nil
}
