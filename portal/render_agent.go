package portal

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// The feed line is for agents: the event type, the object and customer ids,
// the amount, what only agents need (risk, decline codes, delinquency,
// deadlines) and a dashboard link. Three lines at most:
//
//	🔔 `charge.failed`: $20.00 · `ch_…` · customer `cus_…` · event `evt_…`
//	Radar risk elevated (score 65) · declined by the bank: insufficient_funds
//	Dashboard: https://dashboard.stripe.com/…

// renderFeed writes the feed line for a known type, or returns nil when the
// type has nothing for agents. withCustomer says whether a customer message
// is posted beside it.
func renderFeed(evt *stripe.Event, opts RenderOptions, spec eventSpec, withCustomer bool) (*Rendered, error) {
	standalone := opts.NoCustomerRoom && !withCustomer
	if spec.agent == nil && !(standalone && spec.customer != nil) {
		return nil, nil
	}
	r := &renderer{evt: evt, opts: opts}
	r.feedHead("🔔")
	notable := true
	if spec.agent != nil {
		n, err := spec.agent(r)
		if err != nil {
			return nil, err
		}
		notable = n
	}
	if !notable && !standalone {
		return nil, nil
	}
	r.feedLinks()
	return r.rendered(), nil
}

// feedObject is what every Stripe object says about itself, read without
// knowing its kind.
type feedObject struct {
	ID          string          `json:"id"`
	Object      string          `json:"object"`
	Amount      *int64          `json:"amount"`
	AmountDue   *int64          `json:"amount_due"`
	AmountTotal *int64          `json:"amount_total"`
	Currency    string          `json:"currency"`
	Customer    json.RawMessage `json:"customer"`
	Charge      json.RawMessage `json:"charge"`
	// Subscription names an upcoming invoice, which has no id yet.
	Subscription json.RawMessage `json:"subscription"`
}

func (r *renderer) feedObject() feedObject {
	var obj feedObject
	if r.evt.Data != nil {
		_ = decodeLenient(r.evt.Data.Raw, &obj)
	}
	return obj
}

// feedCustomer is the customer id, also from previous_attributes (a detached
// payment method no longer names its customer).
func (r *renderer) feedCustomer(obj feedObject) string {
	if obj.Object == "customer" {
		return obj.ID
	}
	if id := database.RefID(obj.Customer); id != "" {
		return id
	}
	if old, ok := previous[string](r.evt, "customer"); ok && old != nil {
		return *old
	}
	return ""
}

// feedHead writes the first line: type, amount, object, customer, event.
func (r *renderer) feedHead(emoji string) {
	m := &r.msg
	obj := r.feedObject()
	if r.objectID == "" {
		r.objectID = obj.ID
	}
	m.write(emoji+" ", emoji+" ")
	m.code(string(r.evt.Type))
	for _, amount := range []*int64{obj.Amount, obj.AmountDue, obj.AmountTotal} {
		if amount != nil && obj.Currency != "" {
			m.text(": ")
			m.bold(money(*amount, stripe.Currency(obj.Currency)))
			break
		}
	}
	if obj.ID != "" {
		m.text(" · ")
		m.code(obj.ID)
	}
	if cus := r.feedCustomer(obj); cus != "" && cus != obj.ID {
		m.text(" · customer ")
		m.code(cus)
	}
	if r.evt.ID != "" {
		m.text(" · event ")
		m.code(r.evt.ID)
	}
	m.line()
}

// fact adds one agent-facing fact to the facts line.
func (r *renderer) fact(s string) {
	if s = strings.TrimSpace(s); s == "" {
		return
	}
	r.msg.sep()
	r.msg.text(s)
}

// feedLinks ends the feed line with the dashboard link for the object.
func (r *renderer) feedLinks() {
	obj := r.feedObject()
	r.links("Dashboard", r.feedDashboard(obj))
}

func (r *renderer) feedDashboard(obj feedObject) string {
	switch obj.Object {
	case "invoice":
		if obj.ID == "" {
			return r.dashboard("subscriptions", database.RefID(obj.Subscription))
		}
		return r.dashboard("invoices", obj.ID)
	case "charge", "payment_intent":
		return r.dashboard("payments", obj.ID)
	case "refund":
		return r.dashboard("payments", orDefault(database.RefID(obj.Charge), obj.ID))
	case "dispute":
		return r.dashboard("disputes", obj.ID)
	case "subscription":
		return r.dashboard("subscriptions", obj.ID)
	case "customer":
		return r.dashboard("customers", obj.ID)
	case "payout":
		return r.dashboard("payouts", obj.ID)
	}
	return r.dashboard("customers", r.feedCustomer(obj))
}

// dashboard returns the dashboard URL for a path when configured and the
// object id is known.
func (r *renderer) dashboard(kind, id string) string {
	if r.opts.DashboardLink == nil || id == "" {
		return ""
	}
	return r.opts.DashboardLink(kind + "/" + url.PathEscape(id))
}

func invoiceFacts(r *renderer) (bool, error) {
	inv, err := decodeObject[stripe.Invoice](r.evt, "invoice")
	if err != nil {
		return false, err
	}
	if inv.Number != "" {
		r.fact("invoice " + inv.Number)
	}
	r.fact("status " + invoiceStatusWords(inv.Status))
	if inv.BillingReason != "" {
		r.fact("billing reason " + string(inv.BillingReason))
	}
	if inv.AttemptCount > 0 {
		r.fact(plural(inv.AttemptCount, "attempt"))
	}
	if next := day(inv.NextPaymentAttempt); next != "" {
		r.fact("next retry " + next)
	}
	if inv.Charge != nil && inv.Charge.ID != "" {
		r.fact("charge " + inv.Charge.ID)
	}
	if e := inv.LastFinalizationError; e != nil {
		r.fact("finalization error " + orDefault(string(e.Code), string(e.Type)) + ": " + e.Msg)
	}
	return true, nil
}

// chargeFacts: a successful charge is worth a feed line only when Radar
// found it risky or held it for review.
func chargeFacts(r *renderer) (bool, error) {
	ch, err := decodeObject[stripe.Charge](r.evt, "charge")
	if err != nil {
		return false, err
	}
	notable := false
	if o := ch.Outcome; o != nil {
		if o.RiskLevel != "" && o.RiskLevel != "normal" && o.RiskLevel != "not_assessed" {
			notable = true
		}
		if o.Type == "manual_review" || o.Type == "blocked" {
			notable = true
		}
		if o.RiskLevel != "" {
			risk := "Radar risk " + o.RiskLevel
			if o.RiskScore > 0 {
				risk += " (score " + strconv.FormatInt(o.RiskScore, 10) + ")"
			}
			r.fact(risk)
		}
		if o.Type != "" && o.Type != "authorized" {
			r.fact("outcome " + o.Type)
		}
		if o.Rule != nil && o.Rule.ID != "" {
			r.fact("rule " + o.Rule.ID)
		}
		if o.Reason != "" {
			r.fact("reason " + o.Reason)
		}
		if o.SellerMessage != "" && r.evt.Type != "charge.succeeded" {
			r.fact(o.SellerMessage)
		}
	}
	if ch.FailureCode != "" {
		r.fact("failure code " + ch.FailureCode)
	}
	return notable, nil
}

func disputeFacts(r *renderer) (bool, error) {
	dp, err := decodeObject[stripe.Dispute](r.evt, "dispute")
	if err != nil {
		return false, err
	}
	r.fact("status " + disputeStatusWords(dp.Status))
	if dp.Reason != "" {
		r.fact("reason " + string(dp.Reason))
	}
	if dp.EvidenceDetails != nil {
		if dp.EvidenceDetails.DueBy > 0 && disputeNeedsResponse(dp.Status) {
			r.fact("respond by " + day(dp.EvidenceDetails.DueBy))
		}
		if dp.EvidenceDetails.HasEvidence {
			r.fact("evidence submitted")
		}
	}
	if fee := disputeFee(dp); fee != "" {
		r.fact("fee " + fee)
	}
	if dp.Charge != nil && dp.Charge.ID != "" {
		r.fact("charge " + dp.Charge.ID)
	}
	return true, nil
}

// refundFacts: a refund update is worth a feed line when the refund failed
// or was canceled.
func refundFacts(r *renderer) (bool, error) {
	re, err := decodeObject[stripe.Refund](r.evt, "refund")
	if err != nil {
		return false, err
	}
	r.fact("status " + refundStatusWords(re.Status))
	if re.FailureReason != "" {
		r.fact("failure reason " + string(re.FailureReason))
	}
	if re.Reason != "" {
		r.fact("reason " + string(re.Reason))
	}
	if re.Charge != nil && re.Charge.ID != "" {
		r.fact("charge " + re.Charge.ID)
	}
	return re.Status == stripe.RefundStatusFailed || re.Status == stripe.RefundStatusCanceled, nil
}

// subscriptionFacts: an update is worth a feed line when the status or a
// cancellation changed (a subscription falling past due, a churn signal).
func subscriptionFacts(r *renderer) (bool, error) {
	sub, err := decodeObject[stripe.Subscription](r.evt, "subscription")
	if err != nil {
		return false, err
	}
	notable := false
	if old, ok := previous[stripe.SubscriptionStatus](r.evt, "status"); ok {
		notable = true
		r.fact("status " + string(*old) + " → " + string(sub.Status))
	}
	for _, key := range []string{"cancel_at_period_end", "cancel_at"} {
		if _, ok := previous[any](r.evt, key); ok {
			notable = true
		}
	}
	if sub.CancelAtPeriodEnd {
		r.fact("cancels at period end")
	}
	r.fact(changedKeys(r.evt))
	return notable, nil
}

func subscriptionEndFacts(r *renderer) (bool, error) {
	sub, err := decodeObject[stripe.Subscription](r.evt, "subscription")
	if err != nil {
		return false, err
	}
	if d := sub.CancellationDetails; d != nil {
		if d.Reason != "" {
			r.fact("reason " + string(d.Reason))
		}
		if d.Feedback != "" {
			r.fact("feedback " + string(d.Feedback))
		}
		if c := clean(d.Comment); c != "" {
			r.fact("comment “" + c + "”")
		}
	}
	return true, nil
}

// customerFacts: a customer update is worth a feed line when the customer
// became (or stopped being) delinquent.
func customerFacts(r *renderer) (bool, error) {
	cus, err := decodeObject[stripe.Customer](r.evt, "customer")
	if err != nil {
		return false, err
	}
	_, changed := previous[bool](r.evt, "delinquent")
	switch {
	case changed && cus.Delinquent:
		r.fact("marked delinquent (a payment failed)")
	case changed:
		r.fact("no longer delinquent")
	}
	r.fact(changedKeys(r.evt))
	return changed, nil
}

// changedKeys names every field an update touched, for agents.
func changedKeys(evt *stripe.Event) string {
	if evt.Data == nil || len(evt.Data.PreviousAttributes) == 0 {
		return ""
	}
	keys := make([]string, 0, len(evt.Data.PreviousAttributes))
	for key := range evt.Data.PreviousAttributes {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	const most = 6
	if len(keys) > most {
		keys = append(keys[:most], strconv.Itoa(len(keys)-most)+" more")
	}
	return "changed: " + strings.Join(keys, ", ")
}
