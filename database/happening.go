package database

import (
	"context"
	"encoding/json"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// HappeningKey names the billing happening an event belongs to, from its
// type and payload: events of one customer with the same key that follow
// each other in delivery order become one customer message. "" means the
// event stands alone.
//
// The key is the object the happening is about, so that every event Stripe
// emits for it names the same one:
//   - an invoice's events, the payment intent and charge paying it (their
//     invoice field), the checkout that bought it, and the subscription
//     created with it or renewed by it (latest_invoice, when the update
//     changed latest_invoice or status): the invoice id;
//   - a payment without an invoice: its payment intent;
//   - a refund (charge.refunded, refund.*, charge.refund.updated):
//     "refund:" + the charge, because charge.refunded does not name the
//     refund;
//   - a dispute: the dispute; any other subscription change: the
//     subscription; a checkout without invoice or payment: the session.
//
// Customer profile and payment-method events stand alone: they are a
// happening of their own, and keying them by customer would merge
// everything.
func HappeningKey(eventType string, payload []byte) string {
	return ReadPayloadFacts(payload).HappeningKey(eventType)
}

// HappeningKey is the package-level HappeningKey of the event these facts
// are from.
func (f *PayloadFacts) HappeningKey(eventType string) string {
	if !f.Valid {
		return ""
	}
	obj := f.Object
	first := func(ids ...string) string {
		for _, s := range ids {
			if s != "" {
				return s
			}
		}
		return ""
	}
	invoice, pi := RefID(obj.Invoice), RefID(obj.PaymentIntent)
	switch obj.Object {
	case "invoice":
		return obj.ID // "" for an upcoming invoice: it stands alone
	case "charge":
		if eventType == "charge.refunded" {
			return "refund:" + obj.ID
		}
		return first(invoice, pi, obj.ID)
	case "payment_intent":
		return first(invoice, obj.ID)
	case "refund":
		if charge := RefID(obj.Charge); charge != "" {
			return "refund:" + charge
		}
		return obj.ID
	case "dispute":
		return obj.ID
	case "checkout.session":
		return first(invoice, pi, obj.ID)
	case "subscription":
		latest := RefID(obj.LatestInvoice)
		if eventType == "customer.subscription.created" {
			return first(latest, obj.ID)
		}
		if eventType == "customer.subscription.updated" {
			_, newInvoice := f.PreviousAttributes["latest_invoice"]
			_, newStatus := f.PreviousAttributes["status"]
			if newInvoice || newStatus {
				return first(latest, obj.ID)
			}
		}
		return obj.ID
	}
	return ""
}

// RefID reads a Stripe reference that is either "id" or an expanded
// {"id": …}; "" for null or anything else. The webhook, the renderer and
// HappeningKey all read payloads' references with it.
func RefID(ref json.RawMessage) string {
	var id string
	if json.Unmarshal(ref, &id) == nil {
		return id
	}
	var expanded struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(ref, &expanded)
	return expanded.ID
}

const (
	// The customer's pending events after one, in delivery order.
	listFollowersQuery = `
		SELECT ` + eventColumns + ` FROM stripe_event
		WHERE state='pending' AND account_id=$1 AND customer_id=$2
			AND (created, causal_rank, arrival_seq) > ($3, $4, $5)
		ORDER BY created, causal_rank, arrival_seq
		LIMIT $6
	`
	// The newest happening of the key whose customer message was posted
	// (its lead is itself), created no earlier than $4.
	findLeadQuery = `
		SELECT ` + eventColumns + ` FROM stripe_event
		WHERE account_id=$1 AND customer_id=$2 AND happening_key=$3
			AND happening_lead=event_id AND state='delivered' AND created >= $4
		ORDER BY created DESC, causal_rank DESC, arrival_seq DESC
		LIMIT 1
	`
	listMembersQuery = `
		SELECT ` + eventColumns + ` FROM stripe_event
		WHERE happening_lead=$1 AND state='delivered'
		ORDER BY created, causal_rank, arrival_seq
	`
	// A member joins its happening's message; the lead's matrix_event_id
	// is the message, a later member's is the edit that added it (or the
	// message itself when it added nothing to show).
	// Gathered events are attempted (their feed lines may be posted from
	// here on) and belong to their lead, still pending.
	markGatheredQuery = `
		UPDATE stripe_event
		SET attempts=attempts+1, first_claimed_at=COALESCE(first_claimed_at, $2), happening_lead=$3
		WHERE event_id=$1 AND state='pending'
	`
	markMemberDeliveredQuery = `
		UPDATE stripe_event
		SET state='delivered', matrix_event_id=$2, delivered_at=$3, happening_lead=$4, claimed_by=NULL, claimed_until=NULL
		WHERE event_id=$1 AND state='pending'
	`
)

// Followers returns up to limit pending events of the event's customer that
// come after it in delivery order, in that order. Events without a customer
// have no followers: they are posted one by one.
func (eq *EventQuery) Followers(ctx context.Context, evt *Event, limit int) ([]*Event, error) {
	if evt.CustomerID == "" {
		return nil, nil
	}
	return eq.QueryMany(ctx, listFollowersQuery, evt.AccountID, evt.CustomerID,
		evt.Created.Unix(), evt.CausalRank, evt.ArrivalSeq, limit)
}

// FindLead returns the lead of the customer's newest posted happening with
// the key created at or after since, or nil.
func (eq *EventQuery) FindLead(ctx context.Context, accountID, customerID, key string, since time.Time) (*Event, error) {
	if key == "" || customerID == "" {
		return nil, nil
	}
	return eq.QueryOne(ctx, findLeadQuery, accountID, customerID, key, since.Unix())
}

// Members returns the delivered events of the happening led by leadID, the
// lead included, in delivery order.
func (eq *EventQuery) Members(ctx context.Context, leadID string) ([]*Event, error) {
	return eq.QueryMany(ctx, listMembersQuery, leadID)
}

// MarkMemberDelivered records that the event is delivered as part of the
// happening led by leadID (leadID may be the event itself), shown by
// matrixEventID. Like MarkDelivered, it is recorded by whoever made the
// delivery: members other than the claimed event hold no claim.
func (eq *EventQuery) MarkMemberDelivered(ctx context.Context, eventID string, matrixEventID id.EventID, leadID string, now time.Time) error {
	return eq.Exec(ctx, markMemberDeliveredQuery, eventID, matrixEventID, now.UnixMilli(), dbutil.StrPtr(leadID))
}

// MarkGathered records that the lead's delivery gathered the pending events
// into its happening: they count as attempted, and a retry of the lead
// gathers them again.
func (eq *EventQuery) MarkGathered(ctx context.Context, eventIDs []string, leadID string, now time.Time) error {
	return eq.GetDB().DoTxn(ctx, nil, func(ctx context.Context) error {
		for _, eventID := range eventIDs {
			if err := eq.Exec(ctx, markGatheredQuery, eventID, now.UnixMilli(), leadID); err != nil {
				return err
			}
		}
		return nil
	})
}
