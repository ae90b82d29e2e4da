package portal

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
)

// A happening is what the customer experiences as one thing — a renewal, a
// checkout, a failed payment attempt, a refund — for which Stripe emits
// several events (database.HappeningKey groups them). The customer reads
// one message per happening: each event's customer message is rendered
// with the others at hand (the paid invoice names the card and the receipt
// from its charge, the failed one the bank's reason), and of the messages
// that say the same story only the furthest along is kept.

// HappeningWindow bounds a happening: an event joins the happening's
// message only if it was created within this long of the happening's first
// event. A payment retried days later, a dispute closed weeks after it
// opened, an invoice paid long after it was issued are new messages: the
// customer's history keeps the earlier one.
const HappeningWindow = 10 * time.Minute

// storyline is one line of a happening: the messages of one family tell
// one story (the payment, the refund, the subscription, the dispute), of
// which the message shows the furthest stage.
type storyline struct {
	family string
	// stage orders the messages of a family: a later stage supersedes an
	// earlier one. outcome is the stage's end, for the terminal ones
	// ("paid", "failed", "void"…): a happening whose story has ended one
	// way does not take an event that ends it another way (a failed
	// attempt, then a successful retry, are two happenings).
	stage   int
	outcome string
	// preference breaks ties within a stage: the invoice's message, with
	// the charge's facts added, reads better than the charge's.
	preference int
}

// storylineOf places an event's message in its happening.
func storylineOf(evt *stripe.Event) storyline {
	t := string(evt.Type)
	pref := 0
	switch {
	case strings.HasPrefix(t, "invoice."):
		pref = 3
	case strings.HasPrefix(t, "charge."):
		pref = 2
	case strings.HasPrefix(t, "checkout.session."):
		pref = 1
	}
	switch t {
	case "invoice.finalized":
		return storyline{"payment", 1, "", pref}
	case "invoice.payment_action_required", "payment_intent.requires_action":
		return storyline{"payment", 2, "", pref}
	case "invoice.paid", "charge.succeeded", "charge.captured", "checkout.session.completed", "checkout.session.async_payment_succeeded":
		return storyline{"payment", 3, "paid", pref}
	case "invoice.payment_failed", "charge.failed", "payment_intent.payment_failed", "checkout.session.async_payment_failed":
		return storyline{"payment", 3, "failed", pref}
	case "invoice.voided", "payment_intent.canceled", "checkout.session.expired":
		return storyline{"payment", 3, "void", pref}
	case "charge.refunded":
		return storyline{"refund", 1, "", 2}
	case "refund.updated", "charge.refund.updated", "refund.failed":
		status := evt.GetObjectValue("status")
		if t == "refund.failed" || status == string(stripe.RefundStatusFailed) {
			return storyline{"refund", 2, "failed", 1}
		}
		if status == string(stripe.RefundStatusCanceled) {
			return storyline{"refund", 2, "canceled", 1}
		}
		return storyline{"refund", 1, "", 1}
	case "customer.subscription.created":
		return storyline{"subscription", 2, "", 0}
	case "charge.dispute.created":
		return storyline{"dispute", 1, "", 0}
	case "charge.dispute.closed":
		return storyline{"dispute", 2, "closed", 0}
	}
	if strings.HasPrefix(t, "customer.subscription.") {
		return storyline{"subscription", 1, "", 0}
	}
	// Its own story: nothing supersedes it.
	return storyline{family: t}
}

// Joins reports whether evt belongs in the happening made of members (in
// delivery order): created within HappeningWindow of its first event, and
// not ending a story that has already ended another way.
func Joins(members []*stripe.Event, evt *stripe.Event) bool {
	if len(members) == 0 {
		return true
	}
	if time.Unix(evt.Created, 0).Sub(time.Unix(members[0].Created, 0)) > HappeningWindow {
		return false
	}
	line := storylineOf(evt)
	if line.outcome == "" {
		return true
	}
	for _, m := range members {
		if other := storylineOf(m); other.family == line.family && other.outcome != "" && other.outcome != line.outcome {
			return false
		}
	}
	return true
}

// RenderHappening writes the one customer message of a happening: the
// events of one customer that share a happening key, in delivery order. It
// returns nil when none of them has anything to tell the customer.
func RenderHappening(evts []*stripe.Event, opts RenderOptions) (rendered *Rendered, err error) {
	defer func() {
		if p := recover(); p != nil {
			rendered, err = nil, fmt.Errorf("%w: rendering a happening panicked: %v", errUndecodable, p)
		}
	}()
	type part struct {
		line     storyline
		order    int
		rendered *Rendered
	}
	var parts []part
	for i, evt := range evts {
		spec, known := lookupType(evt.Type)
		if !known || spec.customer == nil {
			continue
		}
		r := &renderer{evt: evt, opts: opts, group: evts}
		if err := spec.customer(r); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errUndecodable, evt.Type, err)
		}
		if !r.skip {
			parts = append(parts, part{storylineOf(evt), i, r.rendered()})
		}
	}
	// Of each family, the furthest stage; then the invoice's message over
	// the charge's; then the latest.
	best := map[string]int{}
	for i, p := range parts {
		j, seen := best[p.line.family]
		if !seen {
			best[p.line.family] = i
			continue
		}
		q := parts[j].line
		if p.line.stage > q.stage || (p.line.stage == q.stage && p.line.preference >= q.preference) {
			best[p.line.family] = i
		}
	}
	var kept []part
	for i, p := range parts {
		if best[p.line.family] == i {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil, nil
	}
	// The subscription's line first: "it started / renewed", then what was
	// paid for it.
	slices.SortStableFunc(kept, func(a, b part) int {
		return boolRank(a.line.family != "subscription") - boolRank(b.line.family != "subscription")
	})
	if len(kept) == 1 {
		return kept[0].rendered, nil
	}
	var plain, html []string
	objectID := ""
	for _, p := range kept {
		plain = append(plain, p.rendered.Content.Body)
		html = append(html, p.rendered.Content.FormattedBody)
		// Replies act on what was paid (the invoice, the charge) rather
		// than the subscription.
		if objectID == "" || p.line.family != "subscription" {
			objectID = p.rendered.ObjectID
		}
	}
	content := *kept[0].rendered.Content
	content.Body = strings.Join(plain, "\n")
	content.FormattedBody = strings.Join(html, "<br>")
	content.Mentions = &event.Mentions{}
	return &Rendered{Content: &content, ObjectID: objectID}, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sibling returns the newest object of the kind ("charge", "invoice",
// "subscription") among the events of the renderer's happening, decoded,
// or nil. With id set, only that object.
func sibling[T any](r *renderer, kind, id string) *T {
	for i := len(r.group) - 1; i >= 0; i-- {
		evt := r.group[i]
		if evt.Data == nil || evt.GetObjectValue("object") != kind {
			continue
		}
		if id != "" && evt.GetObjectValue("id") != id {
			continue
		}
		if obj, err := decodeObject[T](evt, kind); err == nil {
			return obj
		}
	}
	return nil
}

// sameContent reports whether two renderings would show the customer the
// same message.
func sameContent(a, b *Rendered) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Content.Body == b.Content.Body && a.Content.FormattedBody == b.Content.FormattedBody
}
