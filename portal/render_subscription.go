package portal

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

func (r *renderer) renderSubscription() error {
	sub, err := decodeObject[stripe.Subscription](r.evt, "subscription")
	if err != nil {
		return err
	}
	m := &r.msg
	r.objectID = sub.ID
	summary := subscriptionSummary(itemsOf(sub.Items))
	status := subscriptionStatusWords(sub.Status)

	switch r.evt.Type {
	case "customer.subscription.created":
		m.lead("🆕", "Subscription started")
		r.subscriptionHead(summary)
		m.text(" · " + status)
		if sub.Status == stripe.SubscriptionStatusTrialing && sub.TrialEnd > 0 {
			m.text(" until " + day(sub.TrialEnd))
		}
	case "customer.subscription.updated":
		m.lead("🔄", "Subscription updated")
		r.subscriptionHead(summary)
		m.text(" · " + status)
		if changes := subscriptionChanges(r.evt, sub); len(changes) > 0 {
			m.line()
			m.text(strings.Join(changes, "; ") + ".")
		}
	case "customer.subscription.deleted":
		m.lead("⛔", "Subscription canceled")
		r.subscriptionHead(summary)
		if ended := day(firstNonZero(sub.EndedAt, sub.CanceledAt)); ended != "" {
			m.text(" · ended " + ended)
		}
		r.cancellationDetails(sub.CancellationDetails)
	case "customer.subscription.trial_will_end":
		m.lead("⏳", "Trial ending soon")
		r.subscriptionHead(summary)
		if sub.TrialEnd > 0 {
			m.text(" · trial ends " + day(sub.TrialEnd))
		}
		m.sentence("Make sure a payment method is on file before then to keep the subscription.")
	case "customer.subscription.paused":
		m.lead("⏸️", "Subscription paused")
		r.subscriptionHead(summary)
		m.sentence("No invoices are created until it is resumed.")
	case "customer.subscription.resumed":
		m.lead("▶️", "Subscription resumed")
		r.subscriptionHead(summary)
		m.text(" · " + status)
		if end := day(sub.CurrentPeriodEnd); end != "" {
			m.text(" · next renewal " + end)
		}
	}
	r.links("Dashboard", r.dashboard("subscriptions", sub.ID))
	return nil
}

func (r *renderer) subscriptionHead(summary string) {
	if summary != "" {
		r.msg.text(": " + summary)
	}
}

func (r *renderer) cancellationDetails(d *stripe.SubscriptionCancellationDetails) {
	if d == nil {
		return
	}
	var parts []string
	switch d.Reason {
	case stripe.SubscriptionCancellationDetailsReasonCancellationRequested:
		parts = append(parts, "Canceled on request")
	case stripe.SubscriptionCancellationDetailsReasonPaymentFailed:
		parts = append(parts, "Canceled because payment failed")
	case stripe.SubscriptionCancellationDetailsReasonPaymentDisputed:
		parts = append(parts, "Canceled because a payment was disputed")
	case "":
	default:
		parts = append(parts, "Reason: "+words(string(d.Reason)))
	}
	if d.Feedback != "" {
		parts = append(parts, "feedback: "+words(string(d.Feedback)))
	}
	if c := clean(d.Comment); c != "" {
		parts = append(parts, "comment: “"+c+"”")
	}
	if len(parts) > 0 {
		r.msg.sentence(capitalize(strings.Join(parts, "; ")) + ".")
	}
}

// subscriptionChanges says what an update changed, from previous_attributes.
// Each entry is a short clause; fields we have no words for are named.
func subscriptionChanges(evt *stripe.Event, sub *stripe.Subscription) []string {
	var changes []string
	handled := map[string]bool{}
	current := itemsOf(sub.Items)

	if oldList, ok := previous[stripe.SubscriptionItemList](evt, "items"); ok {
		handled["items"], handled["plan"], handled["quantity"] = true, true, true
		old := itemsOf(oldList)
		switch {
		case !slices.Equal(priceIDs(old), priceIDs(current)):
			changes = append(changes, "plan changed from "+orNone(subscriptionSummary(old))+" to "+orNone(subscriptionSummary(current)))
		case !slices.Equal(quantities(old), quantities(current)):
			changes = append(changes, "quantity changed from "+joinInts(quantities(old))+" to "+joinInts(quantities(current)))
		}
	}
	if oldPlan, ok := previous[stripe.Plan](evt, "plan"); ok && !handled["plan"] {
		handled["plan"] = true
		var newPlan *stripe.Plan
		if len(current) > 0 {
			newPlan = current[0].Plan
		}
		changes = append(changes, "plan changed from "+orNone(priceLabel(nil, oldPlan))+" to "+orNone(priceLabel(nil, newPlan)))
	}
	if oldQty, ok := previous[int64](evt, "quantity"); ok && !handled["quantity"] {
		handled["quantity"] = true
		changes = append(changes, "quantity changed from "+strconv.FormatInt(*oldQty, 10)+" to "+joinInts(quantities(current)))
	}
	if oldStatus, ok := previous[stripe.SubscriptionStatus](evt, "status"); ok {
		handled["status"] = true
		changes = append(changes, "status changed from "+subscriptionStatusWords(*oldStatus)+" to "+subscriptionStatusWords(sub.Status))
	}
	if _, ok := previous[bool](evt, "cancel_at_period_end"); ok {
		for _, key := range []string{"cancel_at_period_end", "cancel_at", "canceled_at", "cancellation_details"} {
			handled[key] = true
		}
		if sub.CancelAtPeriodEnd {
			changes = append(changes, "set to cancel at the end of the period"+onDay(firstNonZero(sub.CancelAt, sub.CurrentPeriodEnd)))
		} else {
			changes = append(changes, "cancellation at period end withdrawn; it renews"+onDay(sub.CurrentPeriodEnd))
		}
	}
	if _, ok := previous[int64](evt, "cancel_at"); ok && !handled["cancel_at"] {
		handled["cancel_at"], handled["canceled_at"], handled["cancellation_details"] = true, true, true
		if sub.CancelAt > 0 {
			changes = append(changes, "set to cancel"+onDay(sub.CancelAt))
		} else {
			changes = append(changes, "scheduled cancellation removed")
		}
	}
	if _, ok := previous[stripe.SubscriptionPauseCollection](evt, "pause_collection"); ok {
		handled["pause_collection"] = true
		if pc := sub.PauseCollection; pc != nil {
			clause := "payment collection paused"
			if pc.ResumesAt > 0 {
				clause += " until " + day(pc.ResumesAt)
			}
			changes = append(changes, clause)
		} else {
			changes = append(changes, "payment collection resumed")
		}
	}
	if _, ok := previous[int64](evt, "trial_end"); ok {
		handled["trial_end"] = true
		if sub.TrialEnd > 0 {
			changes = append(changes, "trial now ends"+onDay(sub.TrialEnd))
		} else {
			changes = append(changes, "trial removed")
		}
	}
	if _, ok := previous[int64](evt, "current_period_end"); ok {
		handled["current_period_end"], handled["current_period_start"], handled["latest_invoice"] = true, true, true
		changes = append(changes, "renewed for "+day(sub.CurrentPeriodStart)+" – "+day(sub.CurrentPeriodEnd))
	}
	if _, ok := previous[any](evt, "default_payment_method"); ok {
		handled["default_payment_method"] = true
		changes = append(changes, "default payment method changed")
	}
	if _, ok := previous[any](evt, "discount"); ok {
		handled["discount"], handled["discounts"] = true, true
		if sub.Discount != nil {
			changes = append(changes, "discount applied")
		} else {
			changes = append(changes, "discount removed")
		}
	}
	if other := otherChangedFields(evt, handled); other != "" {
		changes = append(changes, other)
	}
	if len(changes) > 0 {
		changes[0] = capitalize(changes[0])
	}
	return changes
}

// otherChangedFields names the fields the update touched that we have no
// sentence for, so the message never claims "nothing changed".
func otherChangedFields(evt *stripe.Event, handled map[string]bool) string {
	if evt.Data == nil {
		return ""
	}
	var keys []string
	for key := range evt.Data.PreviousAttributes {
		if !handled[key] {
			keys = append(keys, words(key))
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	const most = 4
	if len(keys) > most {
		keys = append(keys[:most], strconv.Itoa(len(keys)-most)+" more")
	}
	return "also changed: " + strings.Join(keys, ", ")
}

func onDay(unix int64) string {
	if d := day(unix); d != "" {
		return " on " + d
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func itemsOf(list *stripe.SubscriptionItemList) []*stripe.SubscriptionItem {
	if list == nil {
		return nil
	}
	items := make([]*stripe.SubscriptionItem, 0, len(list.Data))
	for _, item := range list.Data {
		if item != nil {
			items = append(items, item)
		}
	}
	return items
}

func priceIDs(items []*stripe.SubscriptionItem) []string {
	ids := make([]string, 0, len(items))
	for _, item := range items {
		switch {
		case item.Price != nil:
			ids = append(ids, item.Price.ID)
		case item.Plan != nil:
			ids = append(ids, item.Plan.ID)
		default:
			ids = append(ids, "")
		}
	}
	return ids
}

func quantities(items []*stripe.SubscriptionItem) []int64 {
	q := make([]int64, 0, len(items))
	for _, item := range items {
		q = append(q, item.Quantity)
	}
	return q
}

func joinInts(values []int64) string {
	if len(values) == 0 {
		return "none"
	}
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(parts, ", ")
}

// subscriptionSummary is "Pro ($20.00/month) × 3", for up to two items.
func subscriptionSummary(items []*stripe.SubscriptionItem) string {
	var parts []string
	for i, item := range items {
		if i == 2 {
			parts = append(parts, "and "+strconv.Itoa(len(items)-2)+" more")
			break
		}
		label := priceLabel(item.Price, item.Plan)
		if label == "" {
			continue
		}
		if item.Quantity > 1 {
			label += " × " + strconv.FormatInt(item.Quantity, 10)
		}
		parts = append(parts, label)
	}
	return strings.Join(parts, ", ")
}

// priceLabel is "Pro ($20.00/month)": the price's nickname (or its product's
// name when the product is expanded) and what it costs. Webhooks carry the
// product as a bare id, so the nickname is what usually names a plan.
func priceLabel(price *stripe.Price, plan *stripe.Plan) string {
	var name, cost, id string
	switch {
	case price != nil:
		id, name = price.ID, price.Nickname
		if name == "" && price.Product != nil {
			name = price.Product.Name
		}
		if price.BillingScheme != stripe.PriceBillingSchemeTiered {
			cost = money(price.UnitAmount, price.Currency)
		}
		if price.Recurring != nil {
			cost = withInterval(cost, string(price.Recurring.Interval), price.Recurring.IntervalCount)
		}
	case plan != nil:
		id, name = plan.ID, plan.Nickname
		if name == "" && plan.Product != nil {
			name = plan.Product.Name
		}
		if plan.BillingScheme != stripe.PlanBillingSchemeTiered {
			cost = money(plan.Amount, plan.Currency)
		}
		cost = withInterval(cost, string(plan.Interval), plan.IntervalCount)
	default:
		return ""
	}
	name = clean(name)
	switch {
	case name != "" && cost != "":
		return name + " (" + cost + ")"
	case name != "":
		return name
	case cost != "":
		return cost
	}
	return clean(id)
}

func withInterval(cost, interval string, count int64) string {
	if interval == "" {
		return cost
	}
	interval = words(interval)
	if cost == "" {
		cost = "tiered"
	}
	if count > 1 {
		return cost + " every " + plural(count, interval)
	}
	return cost + "/" + interval
}

func subscriptionStatusWords(s stripe.SubscriptionStatus) string {
	switch s {
	case stripe.SubscriptionStatusActive:
		return "active"
	case stripe.SubscriptionStatusTrialing:
		return "trialing"
	case stripe.SubscriptionStatusPastDue:
		return "past due"
	case stripe.SubscriptionStatusUnpaid:
		return "unpaid"
	case stripe.SubscriptionStatusCanceled:
		return "canceled"
	case stripe.SubscriptionStatusIncomplete:
		return "waiting for the first payment"
	case stripe.SubscriptionStatusIncompleteExpired:
		return "expired before the first payment"
	case stripe.SubscriptionStatusPaused:
		return "paused"
	case "":
		return "status unknown"
	}
	return words(string(s))
}
