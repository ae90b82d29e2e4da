package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// ErrNotFound means an object id does not name an object of the room's
// customer. It is the same error whether the object does not exist, was
// deleted, or belongs to another customer, so that a room cannot be used to
// probe which ids exist elsewhere in the account.
var ErrNotFound = errors.New("no such object for this customer")

// ErrInvalidID means an argument is not an object id a command accepts.
var ErrInvalidID = errors.New("not a Stripe object id")

// acceptedPrefixes is the list shown to someone who typed something else.
const acceptedPrefixes = "`in_` (invoice), `ch_` (charge), `pi_` (payment), `sub_` (subscription), `re_` (refund) or `dp_` (dispute)"

// targetError is a refusal whose Error() is the sentence for the room and
// whose identity (errors.Is) is one of the sentinels above. What the room
// may learn stops there: the Stripe error behind a 404 is not carried, and a
// missing object and another customer's give the same sentence and sentinel.
// The two differ only in what the audit log needs (why, and whose object),
// kept in unexported fields that only auditedRefusal reads, so nothing that
// formats or compares the error can show them.
type targetError struct {
	sentence string
	sentinel error
	// reason is the admin's word for the refusal ("no such object",
	// "object belongs to another customer"); owner is that other customer.
	reason string
	owner  string
}

func (e *targetError) Error() string        { return e.sentence }
func (e *targetError) Is(target error) bool { return target == e.sentinel }

// Why an object was refused, as the audit log says it.
const (
	refusedMissing = "no such object"
	refusedForeign = "object belongs to another customer"
	refusedOrphan  = "object belongs to no customer"
	refusedInvalid = "not a Stripe object id"
)

// auditedRefusal is what the audit log records about err: the reason and,
// for another customer's object, its owner. ok is false for errors that are
// not an ownership refusal (a Stripe outage, a state check).
func auditedRefusal(err error) (reason, owner string, ok bool) {
	var te *targetError
	if !errors.As(err, &te) || te.reason == "" {
		return "", "", false
	}
	return te.reason, te.owner, true
}

// objectNoun names the kind of object an id refers to, by its prefix.
func objectNoun(objectID string) (string, bool) {
	prefix, rest, ok := strings.Cut(objectID, "_")
	if !ok || !validIDBody(rest) {
		return "", false
	}
	switch prefix {
	case "in":
		return "invoice", true
	case "ch":
		return "charge", true
	case "pi":
		return "payment", true
	case "sub":
		return "subscription", true
	case "re":
		return "refund", true
	case "dp":
		return "dispute", true
	}
	return "", false
}

// validIDBody keeps ids to what Stripe issues, so nothing a user types can
// become a different request path or an odd query.
func validIDBody(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func notFound(noun string) error {
	return refusedObject(noun, refusedMissing, "")
}

// refusedObject is the room's "No such …" for every object the room's
// customer does not own, with the reason and owner kept for the audit log.
func refusedObject(noun, reason, owner string) error {
	return &targetError{sentence: "No such " + noun + " for this customer.", sentinel: ErrNotFound, reason: reason, owner: owner}
}

func invalidID() error {
	return &targetError{sentence: "That is not an id I can look up: use one that starts with " + acceptedPrefixes + ".", sentinel: ErrInvalidID, reason: refusedInvalid}
}

// Owned fetches the object objectID names and returns it (*stripe.Invoice,
// *stripe.Charge, *stripe.PaymentIntent, *stripe.Subscription, *stripe.Refund
// or *stripe.Dispute) only if it belongs to customerID. A missing, deleted or
// foreign object is ErrNotFound; an unknown prefix is ErrInvalidID; any other
// Stripe failure is returned wrapped, for stripeapi.Describe.
func Owned(ctx context.Context, api CustomerAPI, customerID, objectID string) (any, error) {
	noun, ok := objectNoun(objectID)
	if !ok {
		return nil, invalidID()
	}
	// An empty customer would match every object that has none (guest
	// charges), so it owns nothing.
	if customerID == "" {
		return nil, notFound(noun)
	}
	switch noun {
	case "invoice":
		inv, err := api.Invoice(ctx, objectID)
		if err == nil && inv != nil && inv.Deleted {
			inv = nil // a deleted draft is gone, whoever had it
		}
		return checkOwned(inv, err, noun, customerID, func() *stripe.Customer { return inv.Customer })
	case "charge":
		ch, err := api.Charge(ctx, objectID)
		return checkOwned(ch, err, noun, customerID, func() *stripe.Customer { return ch.Customer })
	case "payment":
		pi, err := api.PaymentIntent(ctx, objectID)
		return checkOwned(pi, err, noun, customerID, func() *stripe.Customer { return pi.Customer })
	case "subscription":
		sub, err := api.Subscription(ctx, objectID)
		return checkOwned(sub, err, noun, customerID, func() *stripe.Customer { return sub.Customer })
	case "refund":
		re, err := api.Refund(ctx, objectID)
		if err == nil && re != nil {
			err = fillCharge(ctx, api, &re.Charge)
		}
		return checkOwned(re, err, noun, customerID, func() *stripe.Customer { return chargeCustomer(re.Charge) })
	default: // "dispute", the last kind objectNoun knows
		dp, err := api.Dispute(ctx, objectID)
		if err == nil && dp != nil {
			err = fillCharge(ctx, api, &dp.Charge)
		}
		return checkOwned(dp, err, noun, customerID, func() *stripe.Customer { return chargeCustomer(dp.Charge) })
	}
}

func chargeCustomer(ch *stripe.Charge) *stripe.Customer {
	if ch == nil {
		return nil
	}
	return ch.Customer
}

// fillCharge fetches a refund's or dispute's charge when the API did not
// expand it, so ownership is never judged from a bare id.
func fillCharge(ctx context.Context, api CustomerAPI, ch **stripe.Charge) error {
	if *ch == nil || (*ch).ID == "" || (*ch).Customer != nil {
		return nil
	}
	full, err := api.Charge(ctx, (*ch).ID)
	if err != nil {
		if stripeapi.IsNotFound(err) {
			*ch = nil
			return nil
		}
		return err
	}
	*ch = full
	return nil
}

// checkOwned returns obj if owner() is customerID. Every other case is the
// same "No such …" for the room; only the audit log learns which it was.
func checkOwned[T any](obj *T, err error, noun, customerID string, owner func() *stripe.Customer) (any, error) {
	switch {
	case err != nil && stripeapi.IsNotFound(err):
		return nil, notFound(noun)
	case err != nil:
		return nil, fmt.Errorf("retrieve %s: %w", noun, err)
	case obj == nil:
		return nil, notFound(noun)
	}
	switch c := owner(); {
	case c == nil || c.ID == "":
		return nil, refusedObject(noun, refusedOrphan, "")
	case c.ID != customerID:
		return nil, refusedObject(noun, refusedForeign, c.ID)
	}
	return obj, nil
}

// errorSentence is what the room is told about err: a refusal's own
// sentence, or Stripe's failure in plain words.
func errorSentence(err error) string {
	var te *targetError
	if errors.As(err, &te) {
		return te.sentence
	}
	return stripeapi.Describe(err)
}

// ResolveTarget is the object a command is about: arg when given, otherwise
// the Stripe object of the billing message the command replies to (from the
// message map), otherwise "". The result is unchecked; pass it to Owned.
func ResolveTarget(ce *Event, arg string) (objectID string) {
	if arg != "" {
		return arg
	}
	replyTo := ce.Event.Content.AsMessage().RelatesTo.GetReplyTo()
	if replyTo == "" || ce.Meta == nil || ce.Meta.Messages == nil {
		return ""
	}
	msg, err := ce.Meta.Messages(ce.Ctx, ce.RoomID, replyTo)
	if err != nil {
		ce.Log.Warn().Err(err).Stringer("reply_to", replyTo).Msg("Failed to look up the replied-to message")
		return ""
	}
	// The lookup is per room already; checking again keeps a mapping from
	// another room from ever steering a command here.
	if msg == nil || msg.RoomID != ce.RoomID {
		return ""
	}
	return msg.StripeObjectID
}

// ownedOnly drops list items that name another customer. Stripe already
// filters the lists by customer; this makes a filter that was ignored (a
// misspelt parameter, a proxy, a fake) fail closed instead of showing the
// whole account in a customer's room.
func ownedOnly[T any](customerID string, items []T, owner func(T) *stripe.Customer) []T {
	out := items[:0:0]
	for _, it := range items {
		if c := owner(it); customerID != "" && c != nil && c.ID == customerID {
			out = append(out, it)
		}
	}
	return out
}

func invoiceOwner(inv *stripe.Invoice) *stripe.Customer           { return inv.Customer }
func chargeOwner(ch *stripe.Charge) *stripe.Customer              { return ch.Customer }
func subscriptionOwner(sub *stripe.Subscription) *stripe.Customer { return sub.Customer }
func disputeOwner(d *stripe.Dispute) *stripe.Customer {
	if d.Charge == nil {
		return nil
	}
	return d.Charge.Customer
}
