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
	// DashboardLink builds a dashboard URL for a path like "customers/cus_1" (test/live aware); may be nil (no dashboard links). Only feed-room lines link the dashboard: customers cannot open it.
	DashboardLink func(path string) string
	// SkipUnknown: unknown event types are posted nowhere instead of one line in the account's feed room (bridge.unknown_events: skip).
	SkipUnknown bool
	// NoCustomerRoom: the event belongs to no customer (a payout, a guest's
	// payment), so its feed line stands alone: every known type that says
	// anything gets one, whether or not it is notable beside a customer
	// message.
	NoCustomerRoom bool
}

// Rendered is one event as a Matrix message.
type Rendered struct {
	Content  *event.MessageEventContent // MsgType m.notice, Body plain text, Format org.matrix.custom.html, FormattedBody HTML
	ObjectID string                     // id of the Stripe object the message is about (in_…, ch_…, sub_…, dp_…, re_…, pi_…, cus_…), for reply-based commands
}

// Rendering is one event for both audiences. Either or both may be nil.
type Rendering struct {
	// Customer goes into the customer's room: written for the customer.
	Customer *Rendered
	// Feed goes into the account's agent feed room: the event type, ids,
	// the dashboard link and what only agents need (risk, decline codes,
	// delinquency, deadlines).
	Feed *Rendered
	// Why says, when both are nil, why the event is posted nowhere.
	Why string
}

// errUndecodable marks payloads that can never be rendered, so retrying them
// is pointless; the caller marks the inbox row failed.
var errUndecodable = errors.New("undecodable Stripe event")

// renderer is one message being built for one audience: the event, the
// options, and the message. Family renderers (render_*.go) fill msg and
// objectID, or set skip when this payload has nothing to say.
type renderer struct {
	evt  *stripe.Event
	opts RenderOptions
	// group is the happening the event is rendered in (happening.go), for
	// the facts its other events carry; nil when it is rendered alone.
	group    []*stripe.Event
	msg      message
	objectID string
	skip     bool
}

// Render turns a Stripe event into its customer message and its feed line.
// Payloads from newer API versions than stripe-go v76 speaks are rendered
// from the fields it understands. It returns an error only for a payload that
// cannot be decoded at all.
func Render(evt *stripe.Event, opts RenderOptions) (rendering *Rendering, err error) {
	if evt == nil {
		return nil, fmt.Errorf("%w: no event", errUndecodable)
	}
	// The family renderers are written to never panic (the fuzz test calls
	// render directly to prove it); this only keeps one bad payload from
	// taking a delivery worker down if they ever do.
	defer func() {
		if p := recover(); p != nil {
			rendering, err = nil, fmt.Errorf("%w: rendering %s panicked: %v", errUndecodable, evt.Type, p)
		}
	}()
	return render(evt, opts)
}

func render(evt *stripe.Event, opts RenderOptions) (*Rendering, error) {
	spec, known := lookupType(evt.Type)
	if !known {
		if opts.SkipUnknown {
			return &Rendering{Why: "no message for this event type (bridge.unknown_events: skip)"}, nil
		}
		r := &renderer{evt: evt, opts: opts}
		r.feedHead("❔")
		r.feedLinks()
		return &Rendering{Feed: r.rendered()}, nil
	}
	out := &Rendering{}
	if spec.customer != nil && !opts.NoCustomerRoom {
		r := &renderer{evt: evt, opts: opts}
		if err := spec.customer(r); err != nil {
			return nil, fmt.Errorf("%w: %w", errUndecodable, err)
		}
		if !r.skip {
			out.Customer = r.rendered()
		}
	}
	feed, err := renderFeed(evt, opts, spec, out.Customer != nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUndecodable, err)
	}
	out.Feed = feed
	if out.Customer == nil && out.Feed == nil {
		out.Why = "nothing for the customer or the agents in this event"
	}
	return out, nil
}

func (r *renderer) rendered() *Rendered {
	return &Rendered{Content: r.msg.content(), ObjectID: r.objectID}
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
