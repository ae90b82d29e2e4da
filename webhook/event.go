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
type rawEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// InboxEvent turns a verified raw Stripe event JSON into an inbox row
// (shared with the Events-API catch-up, which inserts into the same inbox).
//
// It fails only when the JSON is malformed or lacks what the inbox cannot do
// without: id and type, and created, which orders a customer's events. An
// object it cannot find a customer in is not an error: the event is stored
// without one, and delivery decides what to do with it.
func InboxEvent(accountAlias string, raw []byte, receivedAt time.Time) (*database.Event, error) {
	var evt rawEvent
	if err := json.Unmarshal(raw, &evt); err != nil {
		return nil, fmt.Errorf("malformed event JSON: %w", err)
	}
	switch {
	case evt.ID == "":
		return nil, errors.New("event has no id")
	case evt.Type == "":
		return nil, errors.New("event has no type")
	case evt.Created <= 0:
		return nil, errors.New("event has no created time")
	}
	row := &database.Event{
		ID:         evt.ID,
		AccountID:  accountAlias,
		CustomerID: customerOf(evt.Data.Object),
		Type:       evt.Type,
		APIVersion: evt.APIVersion,
		Created:    time.Unix(evt.Created, 0),
		// Copied because callers may reuse their buffer, and the inbox
		// must keep the exact bytes that were signed.
		Payload: bytes.Clone(raw),
		State:   database.EventPending,
	}
	if !receivedAt.IsZero() {
		// The column holds milliseconds; rounding here keeps the struct
		// equal to the row it becomes.
		row.ReceivedAt = time.UnixMilli(receivedAt.UnixMilli())
	}
	return row, nil
}

// customerOf finds the customer an event's data.object belongs to: the
// object itself when it is a customer, else its customer field, which is an
// id or, when expanded, an object with one. Objects that carry no customer
// (disputes, payouts…) and unexpected shapes give "".
func customerOf(object json.RawMessage) string {
	var obj struct {
		Object   string          `json:"object"`
		ID       string          `json:"id"`
		Customer json.RawMessage `json:"customer"`
	}
	if json.Unmarshal(object, &obj) != nil {
		return ""
	}
	if obj.Object == "customer" {
		return obj.ID
	}
	return database.RefID(obj.Customer)
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
