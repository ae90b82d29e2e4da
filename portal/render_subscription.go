package portal

import (
	"slices"
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

	switch r.evt.Type {
	case "customer.subscription.created":
		m.lead("🆕", "Your subscription has started")
		r.subscriptionHead(summary)
		// Said with its happening, the status is the one the first
		// payment left it in, not "waiting for the first payment".
		if now := sibling[stripe.Subscription](r, "subscription", sub.ID); now != nil {
			sub = now
		}
		switch {
		case sub.Status == stripe.SubscriptionStatusTrialing && sub.TrialEnd > 0:
			m.text(" · free trial until " + day(sub.TrialEnd))
		case sub.Status != stripe.SubscriptionStatusActive:
			m.text(" · " + subscriptionStatusWords(sub.Status))
		}
	case "customer.subscription.updated":
		changes, renewalOnly := subscriptionChanges(r.evt, sub)
		if len(changes) == 0 {
			r.skip = true
			return nil
		}
		if renewalOnly {
			m.lead("🔄", "Your subscription renewed")
		} else {
			m.lead("🔄", "Your subscription changed")
		}
		r.subscriptionHead(summary)
		m.line()
		m.text(strings.Join(changes, "; ") + ".")
	case "customer.subscription.deleted":
		m.lead("⛔", "Your subscription has ended")
		r.subscriptionHead(summary)
		if ended := day(firstNonZero(sub.EndedAt, sub.CanceledAt)); ended != "" {
			m.text(" · ended " + ended)
		}
		if d := sub.CancellationDetails; d != nil {
			switch d.Reason {
			case stripe.SubscriptionCancellationDetailsReasonCancellationRequested:
				m.sentence("It was canceled on request.")
			case stripe.SubscriptionCancellationDetailsReasonPaymentFailed:
				m.sentence("It ended because a payment didn't go through.")
			case stripe.SubscriptionCancellationDetailsReasonPaymentDisputed:
				m.sentence("It ended because a payment was disputed.")
			}
		}
	case "customer.subscription.trial_will_end":
		m.lead("⏳", "Your free trial ends soon")
		r.subscriptionHead(summary)
		if sub.TrialEnd > 0 {
			m.text(" · trial ends " + day(sub.TrialEnd))
		}
		m.sentence("Make sure a payment method is on file before then to keep your subscription.")
	case "customer.subscription.paused":
		m.lead("⏸️", "Your subscription is paused")
		r.subscriptionHead(summary)
		m.sentence("You won't be billed until it resumes.")
	case "customer.subscription.resumed":
		m.lead("▶️", "Your subscription has resumed")
		r.subscriptionHead(summary)
		if end := day(sub.CurrentPeriodEnd); end != "" {
			m.text(" · next renewal " + end)
		}
	case "customer.subscription.pending_update_applied":
		m.lead("✅", "Your subscription change is now in effect")
		r.subscriptionHead(summary)
	case "customer.subscription.pending_update_expired":
		m.lead("⌛", "Your subscription change was not applied")
		if old, ok := previous[stripe.SubscriptionPendingUpdate](r.evt, "pending_update"); ok && old != nil {
			if wanted := subscriptionSummary(old.SubscriptionItems); wanted != "" {
				m.text(": " + wanted)
			}
		}
		m.sentence("The payment it needed was not completed in time")
		if summary != "" {
			m.text("; you stay on " + summary)
		}
		m.text(".")
	}
	return nil
}

func (r *renderer) subscriptionHead(summary string) {
	if summary != "" {
		r.msg.text(": " + summary)
	}
}

// subscriptionChanges says what an update changed that the customer can
// see, from previous_attributes. Each entry is a short clause. Fields a
// customer does not see (metadata, latest invoice, collection settings…)
// are left out: an update of only those says nothing (the feed line names
// them for agents). renewalOnly: the update is the period rolling over.
func subscriptionChanges(evt *stripe.Event, sub *stripe.Subscription) (changes []string, renewalOnly bool) {
	handled := map[string]bool{}
	current := itemsOf(sub.Items)
	renewal := false

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
			changes = append(changes, "it will end at the end of the period"+onDay(firstNonZero(sub.CancelAt, sub.CurrentPeriodEnd)))
		} else {
			changes = append(changes, "it will no longer end at the end of the period; it renews"+onDay(sub.CurrentPeriodEnd))
		}
	}
	if _, ok := previous[int64](evt, "cancel_at"); ok && !handled["cancel_at"] {
		handled["cancel_at"], handled["canceled_at"], handled["cancellation_details"] = true, true, true
		if sub.CancelAt > 0 {
			changes = append(changes, "it will end"+onDay(sub.CancelAt))
		} else {
			changes = append(changes, "it will no longer end as scheduled")
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
		renewal = true
	}
	if _, ok := previous[any](evt, "default_payment_method"); ok {
		handled["default_payment_method"] = true
		changes = append(changes, "your default payment method changed")
	}
	if _, ok := previous[any](evt, "discount"); ok {
		handled["discount"], handled["discounts"] = true, true
		if sub.Discount != nil {
			changes = append(changes, "discount applied")
		} else {
			changes = append(changes, "discount removed")
		}
	}
	if len(changes) > 0 {
		changes[0] = capitalize(changes[0])
	}
	return changes, renewal && len(changes) == 1
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
		return "payment overdue"
	case stripe.SubscriptionStatusUnpaid:
		return "unpaid, on hold"
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
