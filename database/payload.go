package database

import "encoding/json"

// PayloadFacts is what the bridge reads from an event's data besides the
// envelope: the object's id, kind and references, and which attributes an
// update changed. The webhook decodes it once per event (the customer, the
// object and the happening all come from it) and hands it to Insert on
// Event.Facts; whoever has only the payload decodes it with ReadPayloadFacts.
type PayloadFacts struct {
	// Object is data.object's id, kind and references, each reference raw
	// (an id, an expanded object or null; RefID reads either).
	Object PayloadObject
	// PreviousAttributes is data.previous_attributes (nil if absent).
	PreviousAttributes map[string]json.RawMessage
	// ObjectValid: data.object was an object (or absent, or null). Valid:
	// and data.previous_attributes was too. A payload that is not valid
	// has no happening and no references.
	ObjectValid, Valid bool
}

// PayloadObject is the part of data.object the inbox reads.
type PayloadObject struct {
	ID            string          `json:"id"`
	Object        string          `json:"object"`
	Customer      json.RawMessage `json:"customer"`
	Invoice       json.RawMessage `json:"invoice"`
	PaymentIntent json.RawMessage `json:"payment_intent"`
	Charge        json.RawMessage `json:"charge"`
	LatestInvoice json.RawMessage `json:"latest_invoice"`
}

// DecodePayloadFacts reads data.object and data.previous_attributes, each
// as raw JSON (nil when absent).
func DecodePayloadFacts(object, previousAttributes json.RawMessage) *PayloadFacts {
	facts := &PayloadFacts{}
	facts.ObjectValid = len(object) == 0 || json.Unmarshal(object, &facts.Object) == nil
	if !facts.ObjectValid {
		facts.Object = PayloadObject{}
	}
	facts.Valid = facts.ObjectValid &&
		(len(previousAttributes) == 0 || json.Unmarshal(previousAttributes, &facts.PreviousAttributes) == nil)
	return facts
}

// ReadPayloadFacts decodes a whole event payload's facts; a payload that
// is not a JSON object with an object-valued data gives facts that are
// not valid.
func ReadPayloadFacts(payload []byte) *PayloadFacts {
	var evt struct {
		Data struct {
			Object             json.RawMessage `json:"object"`
			PreviousAttributes json.RawMessage `json:"previous_attributes"`
		} `json:"data"`
	}
	if json.Unmarshal(payload, &evt) != nil {
		return &PayloadFacts{}
	}
	return DecodePayloadFacts(evt.Data.Object, evt.Data.PreviousAttributes)
}
