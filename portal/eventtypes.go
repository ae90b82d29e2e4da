package portal

import (
	"github.com/stripe/stripe-go/v76"
)

// eventSpec is what the bridge does with one Stripe event type: what the
// customer reads in their room, what agents read in the account's feed room,
// and which happening the event belongs to.
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
	// coalesce names the happening the event belongs to (a renewal, a
	// payment, a refund), so that a later change can merge the events Stripe
	// emits for one happening into one customer message. Nothing reads it
	// yet; see coalesceBy.
	coalesce coalesceBy
}

// coalesceBy says which object ties an event to the other events of the same
// happening: the key is that object's id, found in the event's payload (for
// coalesceInvoice, a charge or payment intent names its invoice). Events of
// one key that arrive within the hold window would become one message. Empty:
// the event stands alone.
type coalesceBy string

const (
	coalesceNone         coalesceBy = ""
	coalesceInvoice      coalesceBy = "invoice"        // invoice.*, and the charge / payment intent paying it
	coalescePayment      coalesceBy = "payment_intent" // one payment's intent, charge and capture
	coalesceRefund       coalesceBy = "refund"         // charge.refunded, refund.*, charge.refund.updated (key: the refund, else the charge)
	coalesceDispute      coalesceBy = "dispute"        // charge.dispute.*
	coalesceSubscription coalesceBy = "subscription"   // customer.subscription.* (joins its invoice when both exist)
	coalesceCheckout     coalesceBy = "checkout"       // checkout.session.* and what the session created
	coalesceCustomer     coalesceBy = "customer"       // customer profile changes of the same second
)

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
		"invoice.created":                 {nil, nil, coalesceInvoice},
		"invoice.updated":                 {nil, nil, coalesceInvoice},
		"invoice.deleted":                 {nil, nil, coalesceInvoice},
		"invoice.sent":                    {nil, nil, coalesceInvoice},
		"invoice.payment_succeeded":       {nil, nil, coalesceInvoice},
		"invoice.finalized":               {invoice, nil, coalesceInvoice},
		"invoice.paid":                    {invoice, nil, coalesceInvoice},
		"invoice.payment_failed":          {invoice, agentAlways(invoiceFacts), coalesceInvoice},
		"invoice.payment_action_required": {invoice, nil, coalesceInvoice},
		"invoice.upcoming":                {invoice, nil, coalesceSubscription},
		"invoice.voided":                  {invoice, nil, coalesceInvoice},
		"invoice.marked_uncollectible":    {nil, agentAlways(invoiceFacts), coalesceInvoice},
		"invoice.finalization_failed":     {nil, agentAlways(invoiceFacts), coalesceInvoice},

		"customer.subscription.created":                {sub, nil, coalesceSubscription},
		"customer.subscription.updated":                {sub, subscriptionFacts, coalesceSubscription},
		"customer.subscription.deleted":                {sub, agentAlways(subscriptionEndFacts), coalesceSubscription},
		"customer.subscription.trial_will_end":         {sub, nil, coalesceSubscription},
		"customer.subscription.paused":                 {sub, nil, coalesceSubscription},
		"customer.subscription.resumed":                {sub, nil, coalesceSubscription},
		"customer.subscription.pending_update_applied": {sub, nil, coalesceSubscription},
		"customer.subscription.pending_update_expired": {sub, agentAlways(nil), coalesceSubscription},

		"charge.succeeded": {charge, chargeFacts, coalescePayment},
		"charge.failed":    {charge, agentAlways(chargeFacts), coalescePayment},
		"charge.captured":  {charge, nil, coalescePayment},
		"charge.refunded":  {charge, nil, coalesceRefund},
		"charge.updated":   {nil, nil, coalescePayment},

		"charge.dispute.created":          {dispute, agentAlways(disputeFacts), coalesceDispute},
		"charge.dispute.updated":          {nil, agentAlways(disputeFacts), coalesceDispute},
		"charge.dispute.closed":           {dispute, agentAlways(disputeFacts), coalesceDispute},
		"charge.dispute.funds_withdrawn":  {nil, agentAlways(disputeFacts), coalesceDispute},
		"charge.dispute.funds_reinstated": {nil, agentAlways(disputeFacts), coalesceDispute},

		"payment_intent.created":         {nil, nil, coalescePayment},
		"payment_intent.processing":      {nil, nil, coalescePayment},
		"payment_intent.succeeded":       {nil, nil, coalescePayment},
		"payment_intent.payment_failed":  {pi, nil, coalescePayment},
		"payment_intent.requires_action": {pi, nil, coalescePayment},
		"payment_intent.canceled":        {pi, nil, coalescePayment},

		"refund.created":        {nil, nil, coalesceRefund},
		"refund.updated":        {refund, refundFacts, coalesceRefund},
		"charge.refund.updated": {refund, refundFacts, coalesceRefund},
		"refund.failed":         {refund, agentAlways(refundFacts), coalesceRefund},

		"checkout.session.completed":               {checkout, nil, coalesceCheckout},
		"checkout.session.async_payment_succeeded": {checkout, nil, coalesceCheckout},
		"checkout.session.async_payment_failed":    {checkout, agentAlways(nil), coalesceCheckout},
		"checkout.session.expired":                 {checkout, agentAlways(nil), coalesceCheckout},

		"customer.created": {cus, nil, coalesceCustomer},
		"customer.updated": {cus, customerFacts, coalesceCustomer},
		"customer.deleted": {cus, nil, coalesceCustomer},

		"payment_method.attached":              {pm, nil, coalesceNone},
		"payment_method.detached":              {pm, nil, coalesceNone},
		"payment_method.automatically_updated": {pm, nil, coalesceNone},
		"payment_method.updated":               {nil, nil, coalesceNone},
		"customer.source.expiring":             {(*renderer).renderSourceExpiring, nil, coalesceNone},
		"customer.discount.created":            {(*renderer).renderDiscount, nil, coalesceSubscription},
		"customer.discount.deleted":            {(*renderer).renderDiscount, nil, coalesceSubscription},

		"billing_portal.session.created": {nil, nil, coalesceNone},
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
