// Package commands is the bot's command set: it parses a message into a
// command, decides whether the sender may run it, runs it, and replies. It
// uses mautrix's commands processor with handlers as values; every handler is
// wrapped so that a panic becomes a polite reply and a log line, never a crash.
//
// Its imports are the ones docs/architecture.md lists for it; config gives
// it roles and the command prefix.
package commands

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/exerrors"
	"maunium.net/go/mautrix"
	mcmd "maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/internal/ratelimit"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// Event is one parsed command invocation.
type Event = mcmd.Event[*Deps]

// Handler is a command implementation registered with the processor.
type Handler = mcmd.Handler[*Deps]

// Scope says where a command may run.
type Scope int

const (
	// Anywhere: management rooms and customer rooms.
	Anywhere Scope = iota
	// ManagementOnly: the sender's DM with the bot.
	ManagementOnly
)

// Deps is what commands need from the bridge. Interfaces are declared here,
// by their consumer, so commands can be tested without a running bridge.
type Deps struct {
	Config    *config.Config
	Version   string
	StartedAt time.Time
	// Role resolves what the sender may do in a room.
	Role func(ctx context.Context, roomID id.RoomID, userID id.UserID) config.Role
	// IsManagementRoom reports whether roomID is userID's DM with the bot.
	IsManagementRoom func(ctx context.Context, userID id.UserID, roomID id.RoomID) bool
	// Stripe holds one client per account alias, in config order.
	Stripe []*stripeapi.Client
	// Inbox exposes events that could not be posted.
	Inbox Inbox
	// Portal returns the customer room's portal, or nil outside customer rooms.
	Portal func(ctx context.Context, roomID id.RoomID) (*database.Portal, error)
	// API returns an account's Stripe API, or nil for an unknown alias.
	API func(accountAlias string) CustomerAPI
	// Messages finds the billing message a command replies to (nil, nil if unknown).
	Messages func(ctx context.Context, roomID id.RoomID, eventID id.EventID) (*database.Message, error)
	// PanelLink makes a one-time link to a room's agent panel for user; nil
	// when the panel is off.
	PanelLink func(ctx context.Context, user id.UserID, room id.RoomID) (string, error)
	// DashboardLink makes a one-time sign-in link to the support dashboard
	// for user; nil when the panel is off.
	DashboardLink func(ctx context.Context, user id.UserID) (string, error)
	// Lock runs fn while no other bridge process runs fn for the same key
	// (database.WithRoomLock); nil locks nothing across processes.
	Lock func(ctx context.Context, key string, fn func(ctx context.Context) error) error
	// Facts records what happens in conversations, for the dashboard; nil
	// records nothing.
	Facts FactRecorder
	// OpenRoom creates or finds a customer's room and invites user to it.
	OpenRoom func(ctx context.Context, accountAlias, customerID string, user id.UserID) (*database.Portal, error)
	// SetAssistant switches the assistant for one customer room.
	SetAssistant func(ctx context.Context, accountID, customerID string, on bool) error
	// Audit records every write and every refused write.
	Audit AuditLog
	// Actions holds writes waiting for their requester's confirmation.
	Actions PendingActions
	// Conversations updates a customer room's conversation state and assignee.
	Conversations ConversationStore
	// Processed records events acted on and which action a confirming event
	// resolved; nil in tests that do not look.
	Processed ProcessedEvents
	// EventRedacted asks the homeserver whether an event was redacted; nil
	// skips the check (tests without a homeserver).
	EventRedacted func(ctx context.Context, roomID id.RoomID, eventID id.EventID) (bool, error)
	// Now is the clock (tests set it); nil means time.Now.
	Now func() time.Time
	// OnCommand is told, when a command ends, its registered name
	// ("unknown" for an unknown command) and its outcome (Outcome*), for
	// metrics; nil tells no one.
	OnCommand func(command, outcome string)
}

// FactRecorder keeps the conversation facts the dashboard's figures come
// from (*database.FactQuery).
type FactRecorder interface {
	Insert(ctx context.Context, fact *database.Fact) (bool, error)
}

// AuditLog is where writes are recorded.
type AuditLog interface {
	Insert(ctx context.Context, entry *database.AuditEntry) error
	ListByCustomer(ctx context.Context, accountID, customerID string, limit int) ([]*database.AuditEntry, error)
	ListRecent(ctx context.Context, limit int) ([]*database.AuditEntry, error)
	ListByTarget(ctx context.Context, objectID string, limit int) ([]*database.AuditEntry, error)
}

// PendingActions stores confirmations for writes.
type PendingActions interface {
	Insert(ctx context.Context, action *database.PendingAction) error
	Get(ctx context.Context, actionID string) (*database.PendingAction, error)
	LatestPending(ctx context.Context, roomID id.RoomID, requester id.UserID, now time.Time) (*database.PendingAction, error)
	ListPending(ctx context.Context, roomID id.RoomID, requester id.UserID, now time.Time, limit int) ([]*database.PendingAction, error)
	GetByPrompt(ctx context.Context, roomID id.RoomID, promptEventID id.EventID) (*database.PendingAction, error)
	SetPromptEvent(ctx context.Context, actionID string, promptEventID id.EventID) error
	Resolve(ctx context.Context, actionID string, state database.PendingActionState, now time.Time) (bool, error)
}

// ProcessedEvents is the record of events the bridge acted on (each once).
type ProcessedEvents interface {
	ClaimEvent(ctx context.Context, eventID id.EventID, roomID id.RoomID, sender id.UserID) (bool, error)
	SetAction(ctx context.Context, eventID id.EventID, actionID string) error
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Inbox is the part of the event inbox that commands read and requeue.
type Inbox interface {
	ListFailed(ctx context.Context, limit int) ([]*database.Event, error)
	Retry(ctx context.Context, eventID string) (bool, error)
	Health(ctx context.Context, accountID string) (*database.AccountHealth, error)
}

// Command describes a registered command for help and permission checks.
type Command struct {
	Name    string
	Aliases []string
	Args    string
	Help    string
	Role    config.Role
	Scope   Scope
	// Write commands change Stripe: refusals are audited too.
	Write bool
	Func  func(ce *Event)
}

// Processor routes messages to commands.
type Processor struct {
	proc     *mcmd.Processor[*Deps]
	deps     *Deps
	commands []*Command
	limiter  *ratelimit.Warner
	// executors run confirmed writes, by command name.
	executors map[string]executor
	// refundMu makes refunds one at a time in this process (see lockCharge).
	refundMu sync.Mutex
}

// NewProcessor registers the built-in commands. client sends the replies.
func NewProcessor(client *mautrix.Client, deps *Deps) *Processor {
	installPanelTransport(client)
	p := &Processor{proc: mcmd.NewProcessor[*Deps](client), deps: deps, limiter: ratelimit.NewWarner(commandBurst, commandRefill), executors: make(map[string]executor)}
	p.proc.Meta = deps
	prefix := deps.Config.Bridge.CommandPrefix
	p.proc.PreValidator = mcmd.FuncPreValidator[*Deps](func(ce *Event) bool {
		if ce.Command == strings.ToLower(prefix) {
			if len(ce.Args) == 0 {
				ce.Command = "help"
			} else {
				ce.Command = strings.ToLower(ce.ShiftArg())
			}
			return true
		}
		// In a management room the prefix is optional, as in mautrix bridges.
		return deps.IsManagementRoom(ce.Ctx, ce.Sender, ce.RoomID)
	})
	// mautrix's default unknown-command reply names its own "!" prefix.
	p.proc.Unregister(p.proc.GetHandler(mcmd.UnknownCommandName))
	p.proc.Register(&Handler{Name: mcmd.UnknownCommandName, Func: p.safe(nil, func(ce *Event) {
		ce.Reply("Unknown command %s. Send %s to see what you can do.",
			code(ce.Command), code(prefix+" help"))
	})})
	p.Register(generalCommands(p)...)
	p.Register(inboxCommands()...)
	p.Register(readCommands()...)
	p.Register(p.confirmCommands()...)
	p.Register(p.refundCommands()...)
	p.Register(p.selfServiceCommands()...)
	p.Register(managementCommands()...)
	p.Register(p.assistantCommands()...)
	p.Register(p.agentWriteCommands()...)
	return p
}

// Register adds commands; each is wrapped with role, scope and panic checks.
func (p *Processor) Register(cmds ...*Command) {
	for _, cmd := range cmds {
		p.commands = append(p.commands, cmd)
		p.proc.Register(&Handler{Name: cmd.Name, Aliases: cmd.Aliases, Func: p.safe(cmd, cmd.Func)})
	}
}

// Handle runs the command in a message or reaction, if it holds one.
func (p *Processor) Handle(ctx context.Context, evt *event.Event) {
	p.proc.Process(ctx, evt)
}

// allowed reports whether the sender may run cmd here, and if not, why.
func (p *Processor) allowed(ce *Event, cmd *Command) (bool, string) {
	// Role first: someone who may not run a command learns nothing more.
	if !p.deps.Role(ce.Ctx, ce.RoomID, ce.Sender).AtLeast(cmd.Role) {
		return false, fmt.Sprintf("You don't have permission to use %s.", code(cmd.Name))
	}
	if cmd.Scope == ManagementOnly && !p.deps.IsManagementRoom(ce.Ctx, ce.Sender, ce.RoomID) {
		return false, fmt.Sprintf("%s only works in your management room (a direct chat with me).", code(cmd.Name))
	}
	return true, ""
}

// safe wraps a handler so that permission checks always run first and no
// panic escapes: the user gets a sentence, the log gets the stack.
func (p *Processor) safe(cmd *Command, fn func(ce *Event)) func(ce *Event) {
	return func(ce *Event) {
		result := p.track(ce, cmd)
		defer result.done()
		defer func() {
			if r := recover(); r != nil {
				result.set(OutcomePanic)
				ce.Log.Error().Err(exerrors.RecoverToError(r)).
					Bytes(zerolog.ErrorStackFieldName, debug.Stack()).
					Msg("Panic in command handler")
				ce.Reply("Something went wrong while running that command. It has been logged; please try again or ask an admin.")
			}
		}()
		switch p.limiter.Take(string(ce.Sender), p.deps.now()) {
		case ratelimit.Warn:
			result.set(OutcomeRateLimited)
			ce.Reply("You're sending commands too fast; wait a few seconds and try again.")
			return
		case ratelimit.Drop:
			result.set(OutcomeRateLimited)
			return
		}
		if cmd != nil {
			if ok, why := p.allowed(ce, cmd); !ok {
				result.set(OutcomeRefused)
				ce.Log.Debug().Msg("Command refused")
				if cmd.Write {
					p.auditRefusal(ce, cmd, why)
				}
				ce.Reply("%s", why)
				return
			}
		}
		fn(ce)
	}
}
