package portal

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/logctx"
	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// StateCustomer is the custom state event that binds a room to exactly one
// (account, customer); commands trust the database, this is for clients and
// for recovering the mapping by hand.
var StateCustomer = event.Type{Type: "com.matrix-stripe.customer", Class: event.StateEventType}

// CustomerInfo is the state content of StateCustomer.
type CustomerInfo struct {
	Account    string `json:"account"`
	CustomerID string `json:"customer_id"`
	Livemode   bool   `json:"livemode"`
}

// StripeReader is the little the portal reads from Stripe.
type StripeReader interface {
	Customer(ctx context.Context, id string) (*stripe.Customer, error)
	Charge(ctx context.Context, id string) (*stripe.Charge, error)
}

// Manager creates and updates the rooms of every account.
type Manager struct {
	Config *config.Config
	DB     *database.Database
	AS     *appservice.AppService
	Bot    *appservice.IntentAPI
	// BindIntent readies a ghost's intent for encrypted rooms (the
	// bridge's encryption device, or a refusal to send there); nil: none.
	BindIntent func(*appservice.IntentAPI) *appservice.IntentAPI
	// Stripe maps account alias to its reader.
	Stripe map[string]StripeReader

	// roomLocks serialise room creation per portal inside this process;
	// across processes the inbox claim already gives one worker per customer.
	roomLocks sync.Map
	// createSettle replaces creationSettle when set (tests).
	createSettle time.Duration
	// sendSlots bounds the deliveries' messages in flight to the
	// homeserver at once (LimitSends); nil: unbounded.
	sendSlots chan struct{}
}

// LimitSends lets at most n deliveries' messages be in flight to the
// homeserver at once: bridge.delivery_workers, the bridge's concurrency
// towards it, while more workers than that do the database work around
// the sends. Call it before the first delivery.
func (m *Manager) LimitSends(n int) {
	m.sendSlots = make(chan struct{}, n)
}

// sendSlot waits for a free send slot; release gives it back.
func (m *Manager) sendSlot(ctx context.Context) (release func(), err error) {
	if m.sendSlots == nil {
		return func() {}, nil
	}
	select {
	case m.sendSlots <- struct{}{}:
		return func() { <-m.sendSlots }, nil
	case <-ctx.Done():
		return nil, transient(fmt.Errorf("wait to send: %w", context.Cause(ctx)))
	}
}

// exclusive runs fn while neither this process nor another one runs fn for
// the same key; fn re-reads the database first, so the second caller finds
// what the first recorded.
func (m *Manager) exclusive(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	defer m.lock(key)()
	return m.DB.WithRoomLock(ctx, key, fn)
}

func (m *Manager) lock(key string) func() {
	mu, _ := m.roomLocks.LoadOrStore(key, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	return mu.(*sync.Mutex).Unlock
}

// Ghost is the account's sender of billing events.
func (m *Manager) Ghost(alias string) *appservice.IntentAPI {
	intent := m.AS.Intent(m.Config.GhostMXID(alias))
	if m.BindIntent != nil {
		intent = m.BindIntent(intent)
	}
	return intent
}

func (m *Manager) account(alias string) (*config.AccountConfig, error) {
	acct := m.Config.Account(alias)
	if acct == nil {
		return nil, fmt.Errorf("account %q is not configured", alias)
	}
	return acct, nil
}

// powerLevels: the bot administers, agents moderate, everyone else (the
// customer) talks.
func (m *Manager) powerLevels(alias string) *event.PowerLevelsEventContent {
	users := map[id.UserID]int{m.Bot.UserID: 100, m.Config.GhostMXID(alias): 50}
	for _, agent := range m.Config.Bridge.InviteAgents[alias] {
		users[agent] = 50
	}
	fifty := 50
	return &event.PowerLevelsEventContent{Users: users, StateDefaultPtr: &fifty, InvitePtr: &fifty}
}

// EnsureSpace returns the account's Space, creating it on first use.
func (m *Manager) EnsureSpace(ctx context.Context, alias string) (space id.RoomID, err error) {
	err = m.exclusive(ctx, "space:"+alias, func(ctx context.Context) (err error) {
		space, err = m.ensureSpace(ctx, alias)
		return err
	})
	return space, err
}

func (m *Manager) ensureSpace(ctx context.Context, alias string) (id.RoomID, error) {
	acct, err := m.DB.Account.Get(ctx, alias)
	if err != nil {
		return "", err
	} else if acct != nil && acct.SpaceRoomID != "" {
		return acct.SpaceRoomID, nil
	}
	cfg, err := m.account(alias)
	if err != nil {
		return "", err
	}
	attempt, err := m.accountRoomRequest(ctx, alias, database.AccountSpace)
	if err != nil {
		return "", err
	}
	attempt.alias = m.Config.RoomAlias(alias, "space")
	attempt.req = &mautrix.ReqCreateRoom{
		Name:               cfg.DisplayName + " — Stripe customers",
		Topic:              "Every Stripe customer of " + cfg.DisplayName + " has a room here.",
		Preset:             "private_chat",
		CreationContent:    map[string]any{"type": "m.space"},
		PowerLevelOverride: m.powerLevels(alias),
	}
	// Agents are invited once the Space is stored (see storeAndInvite): one
	// of them on an unreachable server must not fail the creation.
	space, _, err := m.createOrAdopt(ctx, attempt)
	if err != nil {
		return "", fmt.Errorf("create space: %w", err)
	}
	logctx.Logger(ctx, "account", alias).Info().Str("room_id", space.String()).Msg("Created account space")
	err = m.storeAndInvite(ctx, alias, "", space, m.Config.Bridge.InviteAgents[alias], func(ctx context.Context) error {
		return m.DB.Account.SetSpaceRoom(ctx, alias, space)
	})
	if err != nil {
		return "", err
	}
	return space, nil
}

// accountRoomRequest is the request for one of the account's own rooms: an
// earlier one whose outcome went unrecorded is looked for first, and this
// one is recorded before it is sent (as a customer room's, BeginPortalRoom).
func (m *Manager) accountRoomRequest(ctx context.Context, alias string, kind database.AccountRoom) (roomRequest, error) {
	earlier, err := m.DB.Account.RoomRequestedAt(ctx, alias, kind)
	if err != nil {
		return roomRequest{}, err
	}
	return roomRequest{earlier: earlier, begin: func(ctx context.Context) error {
		return m.DB.Account.BeginRoom(ctx, alias, kind, time.Now())
	}}, nil
}

func (m *Manager) addToSpace(ctx context.Context, space, room id.RoomID) error {
	_, err := m.Bot.SendStateEvent(ctx, space, event.StateSpaceChild, room.String(),
		&event.SpaceChildEventContent{Via: []string{m.Config.Homeserver.Domain}})
	return err
}

func (m *Manager) bridgeInfo(alias, key, name string) *event.BridgeEventContent {
	return &event.BridgeEventContent{
		BridgeBot: m.Bot.UserID,
		Protocol:  event.BridgeInfoSection{ID: "stripe", DisplayName: "Stripe", ExternalURL: "https://stripe.com"},
		Network:   &event.BridgeInfoSection{ID: alias, DisplayName: m.Config.Account(alias).DisplayName},
		Channel:   event.BridgeInfoSection{ID: key, DisplayName: name},
	}
}

// createRoom makes a room inside the account's Space. Only the account's
// ghost (our own namespace on our own homeserver) is invited with it; the
// caller stores the room and then invites everyone else with storeAndInvite.
// attempt carries what roomRequest says of earlier attempts (its alias and
// request are filled in here).
func (m *Manager) createRoom(ctx context.Context, alias, channelID, name, topic string, attempt roomRequest, extraState ...*event.Event) (id.RoomID, error) {
	space, err := m.EnsureSpace(ctx, alias)
	if err != nil {
		return "", err
	}
	stateKey := "matrix-stripe://stripe/" + alias + "/" + channelID
	state := append([]*event.Event{
		{Type: event.StateBridge, StateKey: &stateKey, Content: event.Content{Parsed: m.bridgeInfo(alias, channelID, name)}},
		{Type: event.StateHalfShotBridge, StateKey: &stateKey, Content: event.Content{Parsed: m.bridgeInfo(alias, channelID, name)}},
		{Type: event.StateSpaceParent, StateKey: ptr(space.String()), Content: event.Content{Parsed: &event.SpaceParentEventContent{Via: []string{m.Config.Homeserver.Domain}, Canonical: true}}},
	}, extraState...)
	if m.Config.Encryption.Default || m.Config.Encryption.Require {
		state = append(state, &event.Event{Type: event.StateEncryption, StateKey: ptr(""), Content: event.Content{Parsed: encryption()}})
	}
	roomAlias := m.Config.RoomAlias(alias, aliasChannel(channelID))
	attempt.alias = roomAlias
	attempt.req = &mautrix.ReqCreateRoom{
		Name:               name,
		Topic:              topic,
		Preset:             "private_chat",
		Invite:             []id.UserID{m.Config.GhostMXID(alias)},
		InitialState:       state,
		PowerLevelOverride: m.powerLevels(alias),
	}
	roomID, adopted, err := m.createOrAdopt(ctx, attempt)
	if err != nil {
		return "", err
	}
	if m.Config.Encryption.Default || m.Config.Encryption.Require {
		// Known now, not when the homeserver's transaction brings the
		// state: a message sent in between would go out in plaintext.
		if err := m.AS.StateStore.SetEncryptionEvent(ctx, roomID, encryption()); err != nil {
			return "", transient(fmt.Errorf("record the room's encryption: %w", err))
		}
	}
	if adopted {
		// The first attempt may have died before the ghost was invited or
		// the room linked into the Space; both are idempotent.
		if err = m.Bot.EnsureInvited(ctx, roomID, m.Config.GhostMXID(alias)); err != nil {
			return "", transient(fmt.Errorf("invite ghost: %w", err))
		}
	}
	if err = m.addToSpace(ctx, space, roomID); err != nil {
		// The room works without the Space link; it is only navigation.
		zerolog.Ctx(ctx).Warn().Err(err).Str("room_id", roomID.String()).Msg("Failed to add room to space")
	}
	return roomID, nil
}

// aliasChannel is the alias key of a room: the feed keeps its name, a
// customer's room gets a digest of the customer id.
func aliasChannel(channelID string) string {
	if channelID == "feed" {
		return channelID
	}
	return customerChannel(channelID)
}

func ptr[T any](v T) *T { return &v }

// EnsureFeedRoom returns the account's room for events without a customer.
func (m *Manager) EnsureFeedRoom(ctx context.Context, alias string) (room id.RoomID, err error) {
	err = m.exclusive(ctx, "feed:"+alias, func(ctx context.Context) (err error) {
		room, err = m.ensureFeedRoom(ctx, alias)
		return err
	})
	return room, err
}

func (m *Manager) ensureFeedRoom(ctx context.Context, alias string) (id.RoomID, error) {
	acct, err := m.DB.Account.Get(ctx, alias)
	if err != nil {
		return "", err
	} else if acct != nil && acct.FeedRoomID != "" {
		return acct.FeedRoomID, nil
	}
	cfg, err := m.account(alias)
	if err != nil {
		return "", err
	}
	attempt, err := m.accountRoomRequest(ctx, alias, database.AccountFeed)
	if err != nil {
		return "", err
	}
	room, err := m.createRoom(ctx, alias, "feed", cfg.DisplayName+" — account feed",
		"Stripe events that belong to no customer (payouts, account updates…)", attempt)
	if err != nil {
		return "", err
	}
	err = m.storeAndInvite(ctx, alias, "", room, m.Config.Bridge.InviteAgents[alias], func(ctx context.Context) error {
		return m.DB.Account.SetFeedRoom(ctx, alias, room)
	})
	if err != nil {
		return "", err
	}
	return room, nil
}

// roomName prefers what a human recognises: name, then email, then id.
// Both come from Stripe: cleaned like every outside string, so a name with
// bidi overrides cannot disguise the room in a room list.
func roomName(cus *stripe.Customer) string {
	if name := usertext.Clean(cus.Name); name != "" {
		return name
	} else if email := usertext.Clean(cus.Email); email != "" {
		return email
	}
	return cus.ID
}

func (m *Manager) roomTopic(alias string, cus *stripe.Customer) string {
	parts := make([]string, 0, 3)
	if email := usertext.Clean(cus.Email); email != "" {
		parts = append(parts, email)
	}
	parts = append(parts, cus.ID)
	if acct := m.Config.Account(alias); acct != nil {
		parts = append(parts, acct.DashboardLink("customers/"+cus.ID))
	}
	return strings.Join(parts, " · ")
}

// linkedUser reads the customer's Matrix user from the configured metadata
// key; an invalid value links nobody rather than inviting a stranger.
func (m *Manager) linkedUser(ctx context.Context, cus *stripe.Customer) id.UserID {
	raw := strings.TrimSpace(cus.Metadata[m.Config.Bridge.CustomerLinkKey])
	if raw == "" {
		return ""
	}
	userID := id.UserID(raw)
	if _, _, err := userID.ParseAndValidateRelaxed(); err != nil {
		logctx.Logger(ctx, "customer_id", cus.ID).Warn().Msg("Customer metadata holds an invalid Matrix user ID; not inviting")
		return ""
	}
	return userID
}

// EnsurePortal returns the customer's portal with a room, creating the room
// on first use. cus may be nil; the customer is then fetched from Stripe.
func (m *Manager) EnsurePortal(ctx context.Context, alias, customerID string, cus *stripe.Customer) (portal *database.Portal, err error) {
	// Almost every delivery finds the room made: a room once recorded is
	// never replaced, so reading it needs no lock (on PostgreSQL the lock is
	// a transaction of its own, several round trips per event).
	if portal, err = m.DB.Portal.Get(ctx, alias, customerID); err != nil || (portal != nil && portal.RoomID != "") {
		return portal, err
	}
	err = m.exclusive(ctx, "portal:"+alias+"/"+customerID, func(ctx context.Context) (err error) {
		portal, err = m.ensurePortal(ctx, alias, customerID, cus)
		return err
	})
	return portal, err
}

func (m *Manager) ensurePortal(ctx context.Context, alias, customerID string, cus *stripe.Customer) (*database.Portal, error) {
	portal, err := m.DB.Portal.Get(ctx, alias, customerID)
	if err != nil {
		return nil, err
	} else if portal != nil && portal.RoomID != "" {
		return portal, nil
	}
	if cus == nil || cus.Deleted {
		if cus, err = m.fetchCustomer(ctx, alias, customerID); err != nil {
			return nil, err
		}
	}
	// A portal row without a room is what an earlier attempt leaves when
	// its room request had no recorded outcome (BeginPortalRoom): the
	// homeserver may hold that room without its alias.
	var attempt roomRequest
	if portal == nil {
		portal = database.NewPortal(alias, customerID)
	} else {
		attempt.earlier = portal.UpdatedAt
	}
	portal.Name, portal.Email = roomName(cus), cus.Email
	portal.MatrixUserID = m.linkedUser(ctx, cus)
	acct, err := m.account(alias)
	if err != nil {
		return nil, err
	}
	info := &CustomerInfo{Account: alias, CustomerID: customerID, Livemode: acct.Livemode}
	attempt.begin = func(ctx context.Context) error {
		return m.DB.BeginPortalRoom(ctx, alias, customerID, portal.Name, portal.Email)
	}
	portal.RoomID, err = m.createRoom(ctx, alias, customerID, portal.Name, m.roomTopic(alias, cus), attempt,
		&event.Event{Type: StateCustomer, StateKey: ptr(""), Content: event.Content{Parsed: info}})
	if err != nil {
		return nil, err
	}
	logctx.Logger(ctx, "customer_id", customerID).Info().Str("room_id", portal.RoomID.String()).Msg("Created customer room")
	// Agents and the linked customer are invited only now: a customer on a
	// homeserver that cannot be reached still gets a room (one, however
	// often delivery is retried) and a timeline, and the invite is retried.
	invites := append(slices.Clone(m.Config.Bridge.InviteAgents[alias]), portal.MatrixUserID)
	err = m.storeAndInvite(ctx, alias, customerID, portal.RoomID, invites, func(ctx context.Context) error {
		return m.DB.Portal.Upsert(ctx, portal)
	})
	if err != nil {
		return nil, err
	}
	if m.Config.Panel.Enabled {
		// At once, so the agents who were just invited see it; the bridge's
		// widget pass sets it later if this fails.
		if err := m.SetPanelWidget(ctx, portal, m.Config.Panel.WidgetURL()); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("room_id", portal.RoomID.String()).Msg("Failed to add the panel widget to the new room")
		}
	}
	return portal, nil
}

// fetchCustomer falls back to a bare id when Stripe no longer has the
// customer: the room still has to exist to show what happened.
func (m *Manager) fetchCustomer(ctx context.Context, alias, customerID string) (*stripe.Customer, error) {
	reader := m.Stripe[alias]
	if reader == nil {
		return &stripe.Customer{ID: customerID}, nil
	}
	cus, err := reader.Customer(ctx, customerID)
	if err != nil {
		if stripeapi.IsNotFound(err) {
			return &stripe.Customer{ID: customerID}, nil
		}
		return nil, transient(fmt.Errorf("fetch customer %s: %w", customerID, err))
	}
	return cus, nil
}

// UpdateCustomer refreshes name, topic and the linked customer after a
// customer.* event. A changed link invites the new user and removes the old
// one: a customer room must never stay open to someone no longer linked. An
// invite that fails does not fail the event; it is retried later.
func (m *Manager) UpdateCustomer(ctx context.Context, portal *database.Portal, cus *stripe.Customer) error {
	// Serialised with RetryInvite, which must not re-invite a user this
	// unlinks.
	defer m.lock("portal:" + portal.AccountID + "/" + portal.CustomerID)()
	log := logctx.Logger(ctx, "customer_id", portal.CustomerID)
	if name := roomName(cus); name != portal.Name {
		if _, err := m.Bot.SetRoomName(ctx, portal.RoomID, name); err != nil {
			return transient(fmt.Errorf("set room name: %w", err))
		}
		portal.Name = name
	}
	portal.Email = cus.Email
	if _, err := m.Bot.SetRoomTopic(ctx, portal.RoomID, m.roomTopic(portal.AccountID, cus)); err != nil {
		return transient(fmt.Errorf("set room topic: %w", err))
	}
	linked := m.linkedUser(ctx, cus)
	if linked == portal.MatrixUserID {
		return m.DB.Portal.Upsert(ctx, portal)
	}
	previous := portal.MatrixUserID
	// Someone whose invite never went through has nothing to be kicked from
	// (and Dendrite refuses to kick them).
	if previous != "" && m.isInRoom(ctx, portal.RoomID, previous) {
		_, err := m.Bot.KickUser(ctx, portal.RoomID, &mautrix.ReqKickUser{UserID: previous, Reason: "No longer linked to this Stripe customer"})
		if err != nil {
			log.Warn().Err(err).Str("room_id", portal.RoomID.String()).Str("user_id", previous.String()).
				Msg("Failed to remove previously linked customer")
		}
	}
	log.Info().Msg("Customer's linked Matrix user changed")
	portal.MatrixUserID = linked
	return m.storeAndInvite(ctx, portal.AccountID, portal.CustomerID, portal.RoomID, []id.UserID{linked}, func(ctx context.Context) error {
		if previous != "" && !slices.Contains(m.Config.Bridge.InviteAgents[portal.AccountID], previous) {
			// Their invite may still be waiting for a retry; it must never go out now.
			if err := m.DB.Invite.Delete(ctx, portal.RoomID, previous); err != nil {
				return err
			}
		}
		return m.DB.Portal.Upsert(ctx, portal)
	})
}

// encryption is the m.room.encryption content of the rooms the bridge
// creates encrypted: Megolm with the spec's default rotation.
func encryption() *event.EncryptionEventContent {
	return &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}
}
