package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// CustomerLookup asks Stripe, in one call, which customer owns a charge or
// payment intent of the account (the bridge wires it to stripeapi). It
// returns "" and no error when the object has no customer or does not
// exist; an error means Stripe could not tell now, and asking again later
// may work.
type CustomerLookup func(ctx context.Context, accountAlias, objectID string) (string, error)

// KnownCustomers answers from what the bridge has already stored: earlier
// events and posted messages about an object (implemented by
// *database.EventQuery).
type KnownCustomers interface {
	CustomerOfObject(ctx context.Context, accountID, objectID string) (string, error)
}

// lookupTimeout bounds the one Stripe call a webhook may wait for: Stripe
// gives up on an endpoint after a few seconds more, and an event that could
// not be resolved in time is still stored.
const lookupTimeout = 5 * time.Second

// Resolver finds an event's customer before the event is queued, so that
// every event of a customer goes through that customer's queue, in order,
// even when its object names no customer. The webhook and the catch-up use
// the same one. The zero value (and nil) reads only the payload.
type Resolver struct {
	Known  KnownCustomers // nil: no stored objects are consulted
	Lookup CustomerLookup // nil: Stripe is never asked
}

// refObjectTypes are the objects that belong to a customer only through the
// payment they are about: their customer is that charge's or payment
// intent's. A charge or payment intent without a customer is a guest's, and
// asking Stripe again would not change that.
var refObjectTypes = map[string]bool{
	"refund":                    true,
	"dispute":                   true,
	"review":                    true,
	"radar.early_fraud_warning": true,
}

// eventFacts is what resolution reads from a payload.
type eventFacts struct {
	objectID string
	// previousCustomer is data.previous_attributes.customer: a detached
	// payment method no longer names the customer it belonged to.
	previousCustomer string
	// refs are the payments the object belongs to, charge first; a ref
	// that came expanded may name its customer already.
	refs []paymentRef
}

type paymentRef struct{ id, customer string }

func readFacts(facts *database.PayloadFacts) eventFacts {
	if !facts.Valid {
		return eventFacts{}
	}
	obj := facts.Object
	read := eventFacts{objectID: obj.ID, previousCustomer: database.RefID(facts.PreviousAttributes["customer"])}
	if refObjectTypes[obj.Object] {
		for _, raw := range []json.RawMessage{obj.Charge, obj.PaymentIntent} {
			if ref := readRef(raw); ref.id != "" {
				read.refs = append(read.refs, ref)
			}
		}
	}
	return read
}

func readRef(raw json.RawMessage) paymentRef {
	ref := paymentRef{id: database.RefID(raw)}
	var expanded struct {
		Customer json.RawMessage `json:"customer"`
	}
	if json.Unmarshal(raw, &expanded) == nil {
		ref.customer = database.RefID(expanded.Customer)
	}
	return ref
}

// Resolve completes a new inbox event: its ObjectID, and its CustomerID when
// the object names none, from the payload, then from what the bridge has
// stored, then from one Stripe lookup. When the lookup fails, the event is
// still to be stored, as EventUnresolved, and the error says why; nothing
// delivers it until its customer is known.
func (r *Resolver) Resolve(ctx context.Context, evt *database.Event) error {
	decoded := evt.Facts
	if decoded == nil {
		decoded = database.ReadPayloadFacts(evt.Payload)
	}
	facts := readFacts(decoded)
	if evt.ObjectID == "" {
		evt.ObjectID = facts.objectID
	}
	if evt.CustomerID != "" {
		return nil
	}
	customerID, err := r.customerOf(ctx, evt.AccountID, facts)
	if err != nil {
		evt.State = database.EventUnresolved
		return err
	}
	evt.CustomerID = customerID
	return nil
}

// CustomerOf resolves a stored payload again (an EventUnresolved row): ""
// and no error means the event belongs to no customer.
func (r *Resolver) CustomerOf(ctx context.Context, accountAlias string, payload []byte) (string, error) {
	return r.customerOf(ctx, accountAlias, readFacts(database.ReadPayloadFacts(payload)))
}

func (r *Resolver) customerOf(ctx context.Context, alias string, facts eventFacts) (string, error) {
	if facts.previousCustomer != "" {
		return facts.previousCustomer, nil
	}
	for _, ref := range facts.refs {
		if ref.customer != "" {
			return ref.customer, nil
		}
	}
	if len(facts.refs) == 0 || r == nil {
		return "", nil
	}
	if r.Known != nil {
		for _, ref := range facts.refs {
			customerID, err := r.Known.CustomerOfObject(ctx, alias, ref.id)
			if err != nil {
				return "", fmt.Errorf("look up %s in the inbox: %w", ref.id, err)
			}
			if customerID != "" {
				return customerID, nil
			}
		}
	}
	if r.Lookup == nil {
		return "", nil
	}
	// One call: the first ref is the charge when there is one, and a
	// charge names the same customer as its payment intent.
	ref := facts.refs[0].id
	lookupCtx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	customerID, err := r.Lookup(lookupCtx, alias, ref)
	if err != nil {
		return "", fmt.Errorf("look up the customer of %s in Stripe: %w", ref, err)
	}
	return customerID, nil
}
