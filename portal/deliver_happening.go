package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// maxFollowers bounds how many of a customer's waiting events one delivery
// gathers into a happening: a renewal is about ten.
const maxFollowers = 50

// deliverHappening delivers an event that belongs to a happening into the
// happening's one customer message. Two mechanisms, both from the inbox,
// so they survive restarts and hold on any process:
//
//   - Gathering: the event was held back for the hold window after it
//     arrived (database.EventQuery.ClaimNextHeld), so the rest of the
//     happening is usually in the inbox by now. The customer's next waiting
//     events with the same key are delivered with it, as one message.
//   - Editing: an event of a happening whose message is already posted
//     (a straggler, or a later step such as the payment after an invoice
//     was issued) edits that message with m.replace, re-rendered from all
//     the happening's events. An event that adds nothing visible is
//     recorded as a member without an edit.
//
// Gathered followers are marked with their lead before the message is
// sent, so an attempt whose outcome is unknown gathers the same ones again
// and finds (by its marker) or sends the same message. Followers another
// attempt has touched are never gathered by a new lead.
//
// It returns nil and no error when nothing of the happening is for the
// customer: the caller delivers the event on its own.
func (m *Manager) deliverHappening(ctx context.Context, row *database.Event, evt *stripe.Event, customerID string, room id.RoomID, opts RenderOptions) (*Result, error) {
	lead, leadEvents, err := m.openHappening(ctx, row, evt, customerID)
	if err != nil {
		return nil, err
	}
	if lead != nil {
		return m.editHappening(ctx, row, evt, room, lead, leadEvents, opts)
	}

	members, events, err := m.gather(ctx, row, evt)
	if err != nil {
		return nil, err
	}
	rendered, err := RenderHappening(events, opts)
	if err != nil {
		return nil, fmt.Errorf("render happening: %w", err)
	}
	if rendered == nil {
		return nil, nil
	}
	if len(members) > 1 {
		ids := make([]string, 0, len(members)-1)
		for _, f := range members[1:] {
			ids = append(ids, f.ID)
		}
		// From here on the followers belong to this lead, and count as
		// attempted: if this attempt dies after posting their feed lines,
		// their own delivery looks for those.
		if err = m.DB.Event.MarkGathered(ctx, ids, row.ID, time.Now()); err != nil {
			return nil, transient(fmt.Errorf("mark gathered events: %w", err))
		}
	}
	ghost := m.Ghost(row.AccountID)
	eventID, err := m.sendOnce(ctx, ghost, room, row, rendered, CopyCustomer, TxnID(ghost.UserID, row.ID))
	if err != nil {
		return nil, transient(fmt.Errorf("send: %w", err))
	}
	res := &Result{RoomID: room, MatrixEventID: eventID, Lead: row.ID}
	if rendered.ObjectID != "" {
		res.Messages = append(res.Messages, &database.Message{
			RoomID: room, MatrixEventID: eventID, StripeObjectID: rendered.ObjectID,
			StripeEventID: row.ID, AccountID: row.AccountID, CustomerID: customerID, CreatedAt: time.Now(),
		})
	}
	for i, member := range members {
		res.Members = append(res.Members, member.ID)
		if err = m.happeningFeedLine(ctx, res, member, events[i], customerID, opts); err != nil {
			return nil, err
		}
	}
	zerolog.Ctx(ctx).Debug().Int("events", len(members)).Str("happening_key", row.HappeningKey).
		Msg("Posted one message for the happening's events")
	return res, nil
}

// RecordDelivered stores a delivery's outcome in one commit: its
// message-map rows, and the claimed event — with the events it gathered,
// for a happening — as delivered.
//
// The commit is not waited for on disk (DoUnflushedTxn): a record that a
// database crash loses leaves the event claimed by an attempt, as a bridge
// crash before the record would, and the claim is durable, so the next
// attempt counts as a retry, looks for the message's marker, finds it and
// records it again. That saves one of the two flushes per event (the
// claim's must stay: it is what tells the next attempt to look).
func (m *Manager) RecordDelivered(ctx context.Context, row *database.Event, res *Result) error {
	return m.DB.DoUnflushedTxn(ctx, func(ctx context.Context) error {
		for _, msg := range res.Messages {
			if err := m.DB.Message.Insert(ctx, msg); err != nil {
				return err
			}
		}
		now := time.Now()
		if res.Lead == "" {
			return m.DB.Event.MarkDelivered(ctx, row.ID, res.MatrixEventID, now)
		}
		for _, member := range res.Members {
			if err := m.DB.Event.MarkMemberDelivered(ctx, member, res.MatrixEventID, res.Lead, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// openHappening finds the posted happening the event joins, with its
// events so far, or nil.
func (m *Manager) openHappening(ctx context.Context, row *database.Event, evt *stripe.Event, customerID string) (*database.Event, []*stripe.Event, error) {
	since := row.Created.Add(-HappeningWindow)
	lead, err := m.DB.Event.FindLead(ctx, row.AccountID, customerID, row.HappeningKey, since)
	if err != nil || lead == nil || lead.MatrixEventID == "" {
		return nil, nil, transientDB(err)
	}
	rows, err := m.DB.Event.Members(ctx, lead.ID)
	if err != nil {
		return nil, nil, transientDB(err)
	}
	events := make([]*stripe.Event, 0, len(rows)+1)
	for _, r := range rows {
		if decoded := decodeStored(r); decoded != nil {
			events = append(events, decoded)
		}
	}
	if !Joins(events, evt) {
		return nil, nil, nil
	}
	return lead, events, nil
}

// gather returns the event with the followers it is delivered with, and
// their decoded payloads, in delivery order.
func (m *Manager) gather(ctx context.Context, row *database.Event, evt *stripe.Event) ([]*database.Event, []*stripe.Event, error) {
	members, events := []*database.Event{row}, []*stripe.Event{evt}
	followers, err := m.DB.Event.Followers(ctx, row, maxFollowers)
	if err != nil {
		return nil, nil, transientDB(err)
	}
	for _, f := range followers {
		ours := f.HappeningLead == row.ID // gathered by an earlier attempt of row
		fresh := f.HappeningLead == "" && !f.OutcomeUnknown() && !row.OutcomeUnknown()
		if f.HappeningKey != row.HappeningKey || f.ClaimedBy != "" || !(ours || fresh) {
			break
		}
		decoded := decodeStored(f)
		if decoded == nil || !Joins(events, decoded) {
			break
		}
		members, events = append(members, f), append(events, decoded)
	}
	return members, events, nil
}

// editHappening adds the event to a happening whose message is posted:
// an edit when the message would read differently, else nothing.
func (m *Manager) editHappening(ctx context.Context, row *database.Event, evt *stripe.Event, room id.RoomID, lead *database.Event, before []*stripe.Event, opts RenderOptions) (*Result, error) {
	prev, err := RenderHappening(before, opts)
	if err != nil {
		return nil, fmt.Errorf("render happening: %w", err)
	}
	next, err := RenderHappening(append(before[:len(before):len(before)], evt), opts)
	if err != nil {
		return nil, fmt.Errorf("render happening: %w", err)
	}
	res := &Result{RoomID: room, MatrixEventID: lead.MatrixEventID, Lead: lead.ID, Members: []string{row.ID}}
	if next != nil && !sameContent(prev, next) {
		edit := *next.Content
		edit.SetEdit(lead.MatrixEventID)
		ghost := m.Ghost(row.AccountID)
		eventID, err := m.sendOnce(ctx, ghost, room, row, &Rendered{Content: &edit}, CopyCustomer, TxnID(ghost.UserID, row.ID))
		if err != nil {
			return nil, transient(fmt.Errorf("send edit: %w", err))
		}
		res.MatrixEventID = eventID
		zerolog.Ctx(ctx).Debug().Str("edits", lead.MatrixEventID.String()).Str("happening_key", row.HappeningKey).
			Msg("Updated the happening's message")
	}
	if err = m.happeningFeedLine(ctx, res, row, evt, row.CustomerID, opts); err != nil {
		return nil, err
	}
	return res, nil
}

// happeningFeedLine posts a member's line in the feed room, when it has
// one: agents read every event, the customer the happening.
func (m *Manager) happeningFeedLine(ctx context.Context, res *Result, member *database.Event, evt *stripe.Event, customerID string, opts RenderOptions) error {
	rendering, err := Render(evt, opts)
	if err != nil {
		// The customer's message is out; a line we cannot render must
		// not make it be posted again.
		zerolog.Ctx(ctx).Warn().Err(err).Str("member_event_id", member.ID).Msg("Failed to render the agents' line of a happening's event")
		return nil
	}
	if rendering.Feed == nil {
		return nil
	}
	feedRoom, eventID, err := m.sendFeed(ctx, m.Ghost(member.AccountID), member, rendering.Feed)
	switch {
	case err == nil:
		if rendering.Feed.ObjectID != "" {
			res.Messages = append(res.Messages, &database.Message{
				RoomID: feedRoom, MatrixEventID: eventID, StripeObjectID: rendering.Feed.ObjectID,
				StripeEventID: member.ID, AccountID: member.AccountID, CustomerID: customerID, CreatedAt: time.Now(),
			})
		}
		return nil
	case !errors.Is(err, ErrTransient):
		zerolog.Ctx(ctx).Warn().Err(err).Str("member_event_id", member.ID).Msg("Failed to post the agents' line in the feed room; the customer's message is posted")
		return nil
	}
	return err
}

// decodeStored decodes an inbox payload, or nil if it is not a Stripe
// event (such a row was failed when it was delivered).
func decodeStored(row *database.Event) *stripe.Event {
	var evt stripe.Event
	if json.Unmarshal(row.Payload, &evt) != nil {
		return nil
	}
	return &evt
}

func transientDB(err error) error {
	if err == nil {
		return nil
	}
	return transient(fmt.Errorf("read the happening: %w", err))
}
