package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// rawEvent holds only what the inbox needs. Decoding into stripe.Event
// instead would make storage depend on every field having its 2023-10-16
// shape, and an event of another API version must still be stored.
//
// The members read further (data.object, data.previous_attributes,
// livemode, account) are kept raw here, each decoded on its own: a member
// of an unexpected shape must not make the whole event unusable. That is
// the exception; decodeEvent first tries typedEvent, one pass for all.
type rawEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       struct {
		Object             json.RawMessage `json:"object"`
		PreviousAttributes json.RawMessage `json:"previous_attributes"`
	} `json:"data"`
	Livemode json.RawMessage `json:"livemode"`
	Account  json.RawMessage `json:"account"`
}

// typedEvent is rawEvent with its members decoded in the same pass: what
// every well-formed event decodes into. Any error sends decodeEvent to
// rawEvent, which tells a malformed event from an odd member.
type typedEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       struct {
		Object             database.PayloadObject     `json:"object"`
		PreviousAttributes map[string]json.RawMessage `json:"previous_attributes"`
	} `json:"data"`
	Livemode *bool   `json:"livemode"`
	Account  *string `json:"account"`
}

// envelope is what decodeEvent read besides the row: the event's origin,
// or why it could not be read.
type envelope struct {
	origin    eventOrigin
	originErr error
}

// InboxEvent turns a verified raw Stripe event JSON into an inbox row
// (shared with the Events-API catch-up, which inserts into the same inbox).
//
// It fails only when the JSON is malformed or lacks what the inbox cannot do
// without: id and type, and created, which orders a customer's events. An
// object it cannot find a customer in is not an error: the event is stored
// without one, and delivery decides what to do with it.
func InboxEvent(accountAlias string, raw []byte, receivedAt time.Time) (*database.Event, error) {
	row, _, err := decodeEvent(accountAlias, bytes.Clone(raw), receivedAt)
	return row, err
}

// decodeEvent is InboxEvent on a buffer the row may keep (the inbox must
// keep the exact bytes that were signed), also returning the envelope for
// the origin check. The payload is decoded once (twice if it is odd), and
// the row carries the facts the resolver and the inbox read (Event.Facts).
func decodeEvent(accountAlias string, raw []byte, receivedAt time.Time) (*database.Event, *envelope, error) {
	var evt rawEvent
	var env envelope
	var facts *database.PayloadFacts
	var typed typedEvent
	if json.Unmarshal(raw, &typed) == nil {
		evt.ID, evt.Type, evt.APIVersion, evt.Created = typed.ID, typed.Type, typed.APIVersion, typed.Created
		env.origin = eventOrigin{Livemode: typed.Livemode, Account: typed.Account}
		facts = &database.PayloadFacts{
			Object: typed.Data.Object, PreviousAttributes: typed.Data.PreviousAttributes,
			ObjectValid: true, Valid: true,
		}
	} else {
		if err := json.Unmarshal(raw, &evt); err != nil {
			return nil, nil, fmt.Errorf("malformed event JSON: %w", err)
		}
		env.origin, env.originErr = decodeOrigin(&evt)
		facts = database.DecodePayloadFacts(evt.Data.Object, evt.Data.PreviousAttributes)
	}
	switch {
	case evt.ID == "":
		return nil, nil, errors.New("event has no id")
	case evt.Type == "":
		return nil, nil, errors.New("event has no type")
	case evt.Created <= 0:
		return nil, nil, errors.New("event has no created time")
	}
	row := &database.Event{
		ID:         evt.ID,
		AccountID:  accountAlias,
		CustomerID: customerOf(facts),
		Type:       evt.Type,
		APIVersion: evt.APIVersion,
		Created:    time.Unix(evt.Created, 0),
		Payload:    raw,
		State:      database.EventPending,
		Facts:      facts,
	}
	if !receivedAt.IsZero() {
		// The column holds milliseconds; rounding here keeps the struct
		// equal to the row it becomes.
		row.ReceivedAt = time.UnixMilli(receivedAt.UnixMilli())
	}
	return row, &env, nil
}

// customerOf finds the customer an event's data.object belongs to: the
// object itself when it is a customer, else its customer field, which is an
// id or, when expanded, an object with one. Objects that carry no customer
// (disputes, payouts…) and unexpected shapes give "".
func customerOf(facts *database.PayloadFacts) string {
	if !facts.ObjectValid {
		return ""
	}
	if facts.Object.Object == "customer" {
		return facts.Object.ID
	}
	return database.RefID(facts.Object.Customer)
}

// claimedID is the event id a body says it has, for logs about a body that
// was signed but could not be used; "" if there is none.
func claimedID(raw []byte) string {
	var evt struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &evt)
	return evt.ID
}
