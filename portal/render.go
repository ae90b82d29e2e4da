package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
)

// RenderOptions carries what rendering needs from the account's config.
type RenderOptions struct {
	// DashboardLink builds a dashboard URL for a path like "customers/cus_1" (test/live aware); may be nil (no dashboard links).
	DashboardLink func(path string) string
	// SkipUnknown: unknown event types are skipped (Render returns nil, nil) instead of one generic line.
	SkipUnknown bool
}

// Rendered is one event as a Matrix message.
type Rendered struct {
	Content  *event.MessageEventContent // MsgType m.notice, Body plain text, Format org.matrix.custom.html, FormattedBody HTML
	ObjectID string                     // id of the Stripe object the message is about (in_…, ch_…, sub_…, dp_…, re_…, pi_…, cus_…), for reply-based commands
}

// errUndecodable marks payloads that can never be rendered, so retrying them
// is pointless; the caller marks the inbox row failed.
var errUndecodable = errors.New("undecodable Stripe event")

// renderer is one Render call: the event, the options, and the message
// being built. Family renderers (render_*.go) fill msg and objectID.
type renderer struct {
	evt      *stripe.Event
	opts     RenderOptions
	msg      message
	objectID string
}

// Render turns a Stripe event into a notice. Payloads from newer API
// versions than stripe-go v76 speaks are rendered from the fields it
// understands. It returns an error only for a payload that cannot be decoded
// at all, and (nil, nil) for an unknown type when opts.SkipUnknown is set.
func Render(evt *stripe.Event, opts RenderOptions) (rendered *Rendered, err error) {
	if evt == nil {
		return nil, fmt.Errorf("%w: no event", errUndecodable)
	}
	// The family renderers are written to never panic (the fuzz test calls
	// render directly to prove it); this only keeps one bad payload from
	// taking a delivery worker down if they ever do.
	defer func() {
		if p := recover(); p != nil {
			rendered, err = nil, fmt.Errorf("%w: rendering %s panicked: %v", errUndecodable, evt.Type, p)
		}
	}()
	return render(evt, opts)
}

func render(evt *stripe.Event, opts RenderOptions) (*Rendered, error) {
	r := &renderer{evt: evt, opts: opts}
	family := familyOf(evt.Type)
	if family == nil {
		if opts.SkipUnknown {
			return nil, nil
		}
		r.renderUnknown()
	} else if err := family(r); err != nil {
		return nil, fmt.Errorf("%w: %w", errUndecodable, err)
	}
	return &Rendered{Content: r.msg.content(), ObjectID: r.objectID}, nil
}

// familyOf picks the renderer for an event type; nil means unknown. Types
// are listed one by one rather than by prefix so that a new Stripe event in
// a known family (say invoice.overdue) gets the honest generic line instead
// of a message that claims something it does not know.
func familyOf(t stripe.EventType) func(*renderer) error {
	switch t {
	case "invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_failed",
		"invoice.payment_action_required", "invoice.upcoming", "invoice.voided",
		"invoice.marked_uncollectible":
		return (*renderer).renderInvoice
	case "customer.subscription.created", "customer.subscription.updated",
		"customer.subscription.deleted", "customer.subscription.trial_will_end",
		"customer.subscription.paused", "customer.subscription.resumed":
		return (*renderer).renderSubscription
	case "charge.succeeded", "charge.failed", "charge.refunded", "charge.captured":
		return (*renderer).renderCharge
	case "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
		"charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated":
		return (*renderer).renderDispute
	case "payment_intent.payment_failed", "payment_intent.requires_action",
		"payment_intent.succeeded", "payment_intent.canceled":
		return (*renderer).renderPaymentIntent
	case "refund.created", "refund.updated", "refund.failed":
		return (*renderer).renderRefund
	case "checkout.session.completed":
		return (*renderer).renderCheckout
	case "customer.created", "customer.updated", "customer.deleted":
		return (*renderer).renderCustomer
	case "payment_method.attached", "payment_method.detached":
		return (*renderer).renderPaymentMethod
	case "customer.source.expiring":
		return (*renderer).renderSourceExpiring
	case "customer.discount.created", "customer.discount.deleted":
		return (*renderer).renderDiscount
	}
	return nil
}

// renderUnknown is the one generic line for types we do not render.
func (r *renderer) renderUnknown() {
	m := &r.msg
	m.text("Stripe event ")
	m.code(string(r.evt.Type))
	if r.evt.ID != "" {
		m.text(" (" + r.evt.ID + ")")
	}
	if r.evt.Data != nil {
		if id, ok := r.evt.Data.Object["id"].(string); ok {
			r.objectID = id
		}
	}
}

// decodeObject decodes the event's data.object into T, checking that its
// "object" field (when present) is one the caller expects.
func decodeObject[T any](evt *stripe.Event, kinds ...string) (*T, error) {
	if evt.Data == nil {
		return nil, errors.New("event has no data")
	}
	raw := bytes.TrimSpace(evt.Data.Raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errors.New("data.object is not a JSON object")
	}
	kind, ok := evt.Data.Object["object"].(string)
	if !ok && evt.Data.Object == nil {
		// An event built in code rather than decoded has no Object map.
		var head struct {
			Object string `json:"object"`
		}
		_ = json.Unmarshal(raw, &head)
		kind, ok = head.Object, head.Object != ""
	}
	if ok && len(kinds) > 0 && !slices.Contains(kinds, kind) {
		return nil, fmt.Errorf("data.object is a %q, expected %q", kind, kinds[0])
	}
	obj := new(T)
	if err := decodeLenient(raw, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// decodeLenient decodes a JSON object into T, dropping the top-level fields
// whose shape T does not accept. Newer API versions change a field's shape
// now and then (a string becomes an object); stripe-go's own UnmarshalJSON
// methods turn such a mismatch into an error for the whole object, and we
// would rather render from everything else. Unknown fields are ignored by
// encoding/json anyway.
func decodeLenient[T any](raw []byte, dst *T) error {
	err := json.Unmarshal(raw, dst)
	if err == nil {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return err
	}
	for key, value := range fields {
		one, _ := json.Marshal(map[string]json.RawMessage{key: value})
		var probe T
		if json.Unmarshal(one, &probe) != nil {
			delete(fields, key)
		}
	}
	kept, _ := json.Marshal(fields)
	var fresh T
	if err2 := json.Unmarshal(kept, &fresh); err2 != nil {
		return err
	}
	*dst = fresh
	return nil
}

// previous decodes one previous_attributes entry into T. ok is false when
// the key is absent; a value of the wrong shape decodes leniently like the
// object itself.
func previous[T any](evt *stripe.Event, key string) (value *T, ok bool) {
	if evt.Data == nil {
		return nil, false
	}
	v, present := evt.Data.PreviousAttributes[key]
	if !present {
		return nil, false
	}
	value = new(T)
	if v == nil {
		return value, true
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return value, true
	}
	if raw[0] == '{' {
		_ = decodeLenient(raw, value)
	} else {
		_ = json.Unmarshal(raw, value)
	}
	return value, true
}
