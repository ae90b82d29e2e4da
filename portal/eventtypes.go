package portal

import (
	"github.com/stripe/stripe-go/v76"
)

// eventSpec is what the bridge does with one Stripe event type: what the
// customer reads in their room and what agents read in the account's feed
// room. Which happening an event belongs to is database.HappeningKey; how a
// happening's messages combine, happening.go.
type eventSpec struct {
	// customer writes the customer-room message: plain words, no event type
	// names, no Stripe ids, no dashboard links, no internal flags. nil: the
	// type is never posted in customer rooms. It may still decide, from the
	// payload, that this one event says nothing new (r.skip), e.g. an update
	// that changed only metadata.
	customer func(*renderer) error
	// agent adds the agent-facing facts (risk, decline codes, delinquency,
	// evidence deadlines) to the feed line and says whether the event is worth
	// a line in the feed room beside the customer's message. nil: no feed line
	// beside a customer message. An event that has no customer room at all
	// always gets its feed line (with these facts when agent is set).
	agent func(*renderer) (notable bool, err error)
}

// eventTypes is the one table from Stripe event type to its renderers: Render
// reads it, and the tests iterate it. It is built by a function, not held in
// a package variable, so that nothing can change it at run time.
//
// Types not listed are "unknown": never in customer rooms; one line in the
// account's feed room (bridge.unknown_events: feed, the default) or nothing
// (skip). Types are listed one by one rather than by prefix so that a new
// Stripe type in a known family (say invoice.overdue) gets the honest generic
// feed line instead of a message that claims something it does not know.
//
// Decisions for types with no customer value (docs/timeline.md has the full
// table):
//   - payment_intent.created, .processing, .succeeded: the charge messages
//     say what happened, with the card and the receipt.
//   - payment_intent.payment_failed / .requires_action / .canceled: only when
//     no charge or invoice message says the same (no charge on the error, no
//     invoice on the intent).
//   - invoice.created (a draft), .updated, .sent, .deleted,
//     .payment_succeeded (beside invoice.paid): the finalized / paid / failed
//     messages tell the story. $0 invoices are not posted either.
//   - invoice.marked_uncollectible, .finalization_failed,
//     charge.dispute.updated, .funds_withdrawn, .funds_reinstated: the
//     merchant's bookkeeping; feed room only.
//   - refund.created: charge.refunded says it to the customer, with the card.
//   - refund.updated, charge.refund.updated: only when the status changed.
//   - customer.updated, customer.subscription.updated: only the changes a
//     customer can see (not metadata, description, delinquency, invoice
//     prefix, latest invoice…); delinquency goes to the feed room.
//   - charge.updated, payment_method.updated, billing_portal.session.created
//     (its URL is a bearer credential): posted nowhere.
//   - checkout.session.expired: in the customer room only when Stripe made a
//     recovery link; always in the feed room (an abandoned checkout).
func eventTypes() map[stripe.EventType]eventSpec {
	invoice := (*renderer).renderInvoice
	sub := (*renderer).renderSubscription
	charge := (*renderer).renderCharge
	dispute := (*renderer).renderDispute
	pi := (*renderer).renderPaymentIntent
	refund := (*renderer).renderRefund
	checkout := (*renderer).renderCheckout
	cus := (*renderer).renderCustomer
	pm := (*renderer).renderPaymentMethod
	return map[stripe.EventType]eventSpec{
		"invoice.created":                 {nil, nil},
		"invoice.updated":                 {nil, nil},
		"invoice.deleted":                 {nil, nil},
		"invoice.sent":                    {nil, nil},
		"invoice.payment_succeeded":       {nil, nil},
		"invoice.finalized":               {invoice, nil},
		"invoice.paid":                    {invoice, nil},
		"invoice.payment_failed":          {invoice, agentAlways(invoiceFacts)},
		"invoice.payment_action_required": {invoice, nil},
		"invoice.upcoming":                {invoice, nil},
		"invoice.voided":                  {invoice, nil},
		"invoice.marked_uncollectible":    {nil, agentAlways(invoiceFacts)},
		"invoice.finalization_failed":     {nil, agentAlways(invoiceFacts)},

		"customer.subscription.created":                {sub, nil},
		"customer.subscription.updated":                {sub, subscriptionFacts},
		"customer.subscription.deleted":                {sub, agentAlways(subscriptionEndFacts)},
		"customer.subscription.trial_will_end":         {sub, nil},
		"customer.subscription.paused":                 {sub, nil},
		"customer.subscription.resumed":                {sub, nil},
		"customer.subscription.pending_update_applied": {sub, nil},
		"customer.subscription.pending_update_expired": {sub, agentAlways(nil)},

		"charge.succeeded": {charge, chargeFacts},
		"charge.failed":    {charge, agentAlways(chargeFacts)},
		"charge.captured":  {charge, nil},
		"charge.refunded":  {charge, nil},
		"charge.updated":   {nil, nil},

		"charge.dispute.created":          {dispute, agentAlways(disputeFacts)},
		"charge.dispute.updated":          {nil, agentAlways(disputeFacts)},
		"charge.dispute.closed":           {dispute, agentAlways(disputeFacts)},
		"charge.dispute.funds_withdrawn":  {nil, agentAlways(disputeFacts)},
		"charge.dispute.funds_reinstated": {nil, agentAlways(disputeFacts)},

		"payment_intent.created":         {nil, nil},
		"payment_intent.processing":      {nil, nil},
		"payment_intent.succeeded":       {nil, nil},
		"payment_intent.payment_failed":  {pi, nil},
		"payment_intent.requires_action": {pi, nil},
		"payment_intent.canceled":        {pi, nil},

		"refund.created":        {nil, nil},
		"refund.updated":        {refund, refundFacts},
		"charge.refund.updated": {refund, refundFacts},
		"refund.failed":         {refund, agentAlways(refundFacts)},

		"checkout.session.completed":               {checkout, nil},
		"checkout.session.async_payment_succeeded": {checkout, nil},
		"checkout.session.async_payment_failed":    {checkout, agentAlways(nil)},
		"checkout.session.expired":                 {checkout, agentAlways(nil)},

		"customer.created": {cus, nil},
		"customer.updated": {cus, customerFacts},
		"customer.deleted": {cus, nil},

		"payment_method.attached":              {pm, nil},
		"payment_method.detached":              {pm, nil},
		"payment_method.automatically_updated": {pm, nil},
		"payment_method.updated":               {nil, nil},
		"customer.source.expiring":             {(*renderer).renderSourceExpiring, nil},
		"customer.discount.created":            {(*renderer).renderDiscount, nil},
		"customer.discount.deleted":            {(*renderer).renderDiscount, nil},

		"billing_portal.session.created": {nil, nil},
	}
}

// lookupType returns the table entry for a type; ok is false for unknown
// types.
func lookupType(t stripe.EventType) (eventSpec, bool) {
	spec, ok := eventTypes()[t]
	return spec, ok
}

// agentAlways makes a facts function (or none) notable for every event of
// its type.
func agentAlways(facts func(*renderer) (bool, error)) func(*renderer) (bool, error) {
	return func(r *renderer) (bool, error) {
		if facts != nil {
			if _, err := facts(r); err != nil {
				return false, err
			}
		}
		return true, nil
	}
}
