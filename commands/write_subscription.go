package commands

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

const (
	cancelUsage     = "Usage: `cancel <sub_…> [now|period-end]` (default period-end)."
	resumeUsage     = "Usage: `resume <sub_…>`."
	pauseUsage      = "Usage: `pause <sub_…> [until YYYY-MM-DD]`."
	unpauseUsage    = "Usage: `unpause <sub_…>`."
	changePlanUsage = "Usage: `change-plan <sub_…> <price_…> [prorate|none]` (default prorate)."
	couponUsage     = "Usage: `coupon <sub_…> <coupon id>`."
)

// Modes of the subscription writes, as stored in the pending action.
const (
	modeNow       = "now"
	modePeriodEnd = "period_end"
	modeUncancel  = "uncancel"
	modeResume    = "resume"
	modeUnpause   = "unpause"
)

// subscriptionParams is what a subscription write's confirmation stores.
type subscriptionParams struct {
	Subscription string `json:"subscription"`
	Mode         string `json:"mode,omitempty"`
	ResumesAt    int64  `json:"resumes_at,omitempty"`
	ItemID       string `json:"item_id,omitempty"`
	OldPrice     string `json:"old_price,omitempty"`
	Price        string `json:"price,omitempty"`
	Proration    string `json:"proration_behavior,omitempty"`
	// ProrationDate (Unix seconds) is the moment the plan-change prompt
	// previewed the proration for; the confirmed update sends the same one,
	// so the amount applied is the amount shown.
	ProrationDate int64  `json:"proration_date,omitempty"`
	Coupon        string `json:"coupon,omitempty"`
}

// agentWriteCommands are the agents' writes on subscriptions, invoices and
// the customer balance. Each asks for confirmation first.
func (p *Processor) agentWriteCommands() []*Command {
	sub := func(name, args, help string, fn func(*Event), run subscriptionWrite) *Command {
		p.executors[name] = p.subscriptionExecutor(run)
		return p.shareName(&Command{Name: name, Role: config.RoleAgent, Write: true, Args: args, Help: help, Func: fn})
	}
	cmds := []*Command{
		sub("cancel", "<sub_…> [now|period-end]", "Cancel a subscription now or at period end (asks for confirmation)", p.cmdCancel, runCancel),
		sub("resume", "<sub_…>", "Withdraw a scheduled cancellation or resume a paused subscription (asks for confirmation)", p.cmdResume, runResume),
		sub("pause", "<sub_…> [until YYYY-MM-DD]", "Pause payment collection, voiding invoices meanwhile (asks for confirmation)", p.cmdPause, runPause),
		sub("unpause", "<sub_…>", "Resume payment collection (asks for confirmation)", p.cmdUnpause, runUnpause),
		sub("change-plan", "<sub_…> <price_…> [prorate|none]", "Move a subscription to another price (asks for confirmation)", p.cmdChangePlan, runChangePlan),
		sub("coupon", "<sub_…> <coupon>", "Apply a coupon to a subscription (asks for confirmation)", p.cmdCoupon, runCoupon),
	}
	cmds = append(cmds, p.invoiceWriteCommands()...)
	return append(cmds, p.balanceWriteCommands()...)
}

// subscriptionWrite makes one confirmed change and says what it did.
type subscriptionWrite func(ce *Event, api CustomerAPI, params subscriptionParams, key string) (*stripe.Subscription, string, error)

func (p *Processor) subscriptionExecutor(write subscriptionWrite) executor {
	return func(ce *Event, _ *database.Portal, api CustomerAPI, action *database.PendingAction) (string, string, string, error) {
		var params subscriptionParams
		if err := json.Unmarshal(action.Parameters, &params); err != nil {
			return "Could not read the confirmed change; nothing was changed.", "", "", err
		}
		sub, reply, err := write(ce, api, params, action.IdempotencyKey)
		requestID := ""
		if sub != nil {
			requestID = lastRequestID(sub.LastResponse)
		}
		if err != nil {
			return "Nothing was changed: " + stripeapi.Describe(err), params.Subscription, requestID, err
		}
		return reply, sub.ID, requestID, nil
	}
}

func lastRequestID(resp *stripe.APIResponse) string {
	if resp == nil {
		return ""
	}
	return resp.RequestID
}

// targetArg takes the object id from the first argument when it has the
// prefix, otherwise from the billing message the command replies to.
func targetArg(ce *Event, prefixes ...string) (string, []string) {
	if len(ce.Args) > 0 && hasAnyPrefix(ce.Args[0], prefixes...) {
		return ce.Args[0], ce.Args[1:]
	}
	if t := ResolveTarget(ce, ""); hasAnyPrefix(t, prefixes...) {
		return t, ce.Args
	}
	return "", ce.Args
}

// subscriptionTarget resolves the room's customer and the subscription the
// command names (or replies to), once argsOK has accepted the remaining
// arguments; on failure it has told the user why.
func subscriptionTarget(ce *Event, usage string, argsOK func(args []string) bool) (*database.Portal, CustomerAPI, *stripe.Subscription, []string, bool) {
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return nil, nil, nil, nil, false
	}
	target, args := targetArg(ce, "sub_")
	if target == "" || !argsOK(args) {
		ce.Reply("%s", usage)
		return nil, nil, nil, nil, false
	}
	sub, ok := ownedSubscription(ce, api, portal.CustomerID, target)
	return portal, api, sub, args, ok
}

func noArgs(args []string) bool { return len(args) == 0 }

// ownedSubscription fetches a subscription of the room's customer; on
// failure it has told the user why, and audited an ownership refusal.
func ownedSubscription(ce *Event, api CustomerAPI, customerID, target string) (*stripe.Subscription, bool) {
	obj, err := Owned(ce.Ctx, api, customerID, target)
	if err != nil {
		auditTargetRefusal(ce, target, err)
		ce.Reply("%s", errorSentence(err))
		return nil, false
	}
	sub, ok := obj.(*stripe.Subscription)
	if !ok {
		ce.Reply("%s", notFound("subscription").Error())
	}
	return sub, ok
}

func subscriptionEnded(sub *stripe.Subscription) bool {
	return sub.Status == stripe.SubscriptionStatusCanceled || sub.Status == stripe.SubscriptionStatusIncompleteExpired
}

// describePrice is "`price_…` (Pro, $25.00/month)".
func describePrice(pr *stripe.Price) string {
	if pr == nil {
		return "no price"
	}
	var parts []string
	if pr.Nickname != "" {
		parts = append(parts, pr.Nickname)
	} else if pr.Product != nil && pr.Product.Name != "" {
		parts = append(parts, pr.Product.Name)
	}
	amount := stripeapi.FormatAmount(pr.UnitAmount, string(pr.Currency))
	if pr.Recurring != nil {
		every := string(pr.Recurring.Interval)
		if pr.Recurring.IntervalCount > 1 {
			every = fmt.Sprintf("%d %ss", pr.Recurring.IntervalCount, pr.Recurring.Interval)
		}
		amount += "/" + every
	}
	parts = append(parts, amount)
	return code(pr.ID) + " (" + strings.Join(parts, ", ") + ")"
}

func subscriptionPrice(sub *stripe.Subscription) *stripe.Price {
	if sub.Items == nil || len(sub.Items.Data) == 0 {
		return nil
	}
	return sub.Items.Data[0].Price
}

func (p *Processor) cmdCancel(ce *Event) {
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	target, args := targetArg(ce, "sub_")
	if target == "" || len(args) > 1 {
		ce.Reply("%s", cancelUsage)
		return
	}
	mode := modePeriodEnd
	if len(args) == 1 {
		switch strings.ToLower(args[0]) {
		case "now", "immediately":
			mode = modeNow
		case "period-end", "period_end", "end":
		default:
			ce.Reply("%s is not when to cancel. %s", code(args[0]), cancelUsage)
			return
		}
	}
	sub, ok := ownedSubscription(ce, api, portal.CustomerID, target)
	if !ok {
		return
	}
	id := code(sub.ID)
	switch {
	case subscriptionEnded(sub):
		ce.Reply("Subscription %s is already canceled.", id)
		return
	case mode == modePeriodEnd && sub.CancelAtPeriodEnd:
		ce.Reply("Subscription %s is already set to cancel at the end of its period, on %s.", id, day(sub.CurrentPeriodEnd))
		return
	}
	var summary string
	if mode == modeNow {
		summary = fmt.Sprintf("**Cancel subscription %s now** for %s (%s). It ends immediately instead of on %s; the unused time is not refunded or credited and no final invoice is created.",
			id, code(portal.Name), describePrice(subscriptionPrice(sub)), day(sub.CurrentPeriodEnd))
	} else {
		summary = fmt.Sprintf("**Cancel subscription %s at the end of its period** for %s (%s). It stays active until %s and is not renewed after that.",
			id, code(portal.Name), describePrice(subscriptionPrice(sub)), day(sub.CurrentPeriodEnd))
	}
	p.askConfirmation(ce, portal, "cancel", sub.ID, subscriptionParams{Subscription: sub.ID, Mode: mode}, summary)
}

func runCancel(ce *Event, api CustomerAPI, params subscriptionParams, key string) (*stripe.Subscription, string, error) {
	if params.Mode == modeNow {
		sub, err := api.CancelSubscriptionNow(ce.Ctx, params.Subscription, key)
		if err != nil {
			return sub, "", err
		}
		return sub, fmt.Sprintf("Canceled subscription %s; it has ended.", code(sub.ID)), nil
	}
	sub, err := api.SetCancelAtPeriodEnd(ce.Ctx, params.Subscription, true, key)
	if err != nil {
		return sub, "", err
	}
	return sub, fmt.Sprintf("Subscription %s will end on %s and not renew.", code(sub.ID), day(sub.CurrentPeriodEnd)), nil
}

func (p *Processor) cmdResume(ce *Event) {
	portal, _, sub, _, ok := subscriptionTarget(ce, resumeUsage, noArgs)
	if !ok {
		return
	}
	id := code(sub.ID)
	params := subscriptionParams{Subscription: sub.ID}
	var summary string
	switch {
	case subscriptionEnded(sub):
		ce.Reply("Subscription %s is canceled; a canceled subscription cannot be resumed.", id)
		return
	case sub.CancelAtPeriodEnd:
		params.Mode = modeUncancel
		summary = fmt.Sprintf("**Keep subscription %s** for %s: withdraw its cancellation scheduled for %s, so it renews then as usual (%s).",
			id, code(portal.Name), day(sub.CurrentPeriodEnd), describePrice(subscriptionPrice(sub)))
	case sub.CancelAt != 0:
		// cancel_at is a date someone chose on purpose; moving it is a
		// different decision than undoing a period-end cancellation.
		ce.Reply("Subscription %s is set to cancel on %s by a fixed date; change that in the Stripe dashboard.", id, day(sub.CancelAt))
		return
	case sub.Status == stripe.SubscriptionStatusPaused:
		params.Mode = modeResume
		summary = fmt.Sprintf("**Resume subscription %s** for %s, paused since its trial ended without a payment method. Stripe starts a new billing period today and invoices it (%s).",
			id, code(portal.Name), describePrice(subscriptionPrice(sub)))
	case sub.PauseCollection != nil:
		params.Mode = modeUnpause
		summary = unpauseSummary(sub, portal)
	default:
		ce.Reply("Subscription %s is %s and neither paused nor scheduled to cancel; there is nothing to resume.", id, sub.Status)
		return
	}
	p.askConfirmation(ce, portal, "resume", sub.ID, params, summary)
}

func runResume(ce *Event, api CustomerAPI, params subscriptionParams, key string) (*stripe.Subscription, string, error) {
	switch params.Mode {
	case modeUncancel:
		sub, err := api.SetCancelAtPeriodEnd(ce.Ctx, params.Subscription, false, key)
		if err != nil {
			return sub, "", err
		}
		return sub, fmt.Sprintf("Subscription %s is no longer canceling; it renews on %s.", code(sub.ID), day(sub.CurrentPeriodEnd)), nil
	case modeResume:
		sub, err := api.ResumeSubscription(ce.Ctx, params.Subscription, key)
		if err != nil {
			return sub, "", err
		}
		return sub, fmt.Sprintf("Resumed subscription %s; it is %s.", code(sub.ID), sub.Status), nil
	default:
		return runUnpause(ce, api, params, key)
	}
}

func (p *Processor) cmdPause(ce *Event) {
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	target, args := targetArg(ce, "sub_")
	if target == "" {
		ce.Reply("%s", pauseUsage)
		return
	}
	if len(args) > 0 && strings.EqualFold(args[0], "until") {
		args = args[1:]
	}
	var resumesAt int64
	switch len(args) {
	case 0:
	case 1:
		until, err := time.Parse("2006-01-02", args[0])
		if err != nil {
			ce.Reply("%s is not a date. %s", code(args[0]), pauseUsage)
			return
		}
		if !until.After(p.deps.now()) {
			ce.Reply("The pause must end in the future. %s", pauseUsage)
			return
		}
		resumesAt = until.Unix()
	default:
		ce.Reply("%s", pauseUsage)
		return
	}
	sub, ok := ownedSubscription(ce, api, portal.CustomerID, target)
	if !ok {
		return
	}
	id := code(sub.ID)
	switch {
	case subscriptionEnded(sub):
		ce.Reply("Subscription %s is canceled; there is nothing to pause.", id)
		return
	case sub.PauseCollection != nil:
		ce.Reply("Payment collection on %s is already paused; use `unpause` first to change it.", id)
		return
	}
	until := "until someone runs `unpause`"
	if resumesAt > 0 {
		until = "until " + day(resumesAt)
	}
	summary := fmt.Sprintf("**Pause payment collection** on subscription %s for %s %s. The subscription stays on; invoices created meanwhile are voided, so the customer is not charged for that time (next renewal %s).",
		id, code(portal.Name), until, day(sub.CurrentPeriodEnd))
	p.askConfirmation(ce, portal, "pause", sub.ID, subscriptionParams{Subscription: sub.ID, ResumesAt: resumesAt}, summary)
}

func runPause(ce *Event, api CustomerAPI, params subscriptionParams, key string) (*stripe.Subscription, string, error) {
	sub, err := api.PauseCollection(ce.Ctx, params.Subscription, params.ResumesAt, key)
	if err != nil {
		return sub, "", err
	}
	until := ""
	if params.ResumesAt > 0 {
		until = " until " + day(params.ResumesAt)
	}
	return sub, fmt.Sprintf("Paused payment collection on %s%s.", code(sub.ID), until), nil
}

func unpauseSummary(sub *stripe.Subscription, portal *database.Portal) string {
	return fmt.Sprintf("**Resume payment collection** on subscription %s for %s. Invoices are charged again as usual, starting with the renewal on %s (%s).",
		code(sub.ID), code(portal.Name), day(sub.CurrentPeriodEnd), describePrice(subscriptionPrice(sub)))
}

func (p *Processor) cmdUnpause(ce *Event) {
	portal, _, sub, _, ok := subscriptionTarget(ce, unpauseUsage, noArgs)
	if !ok {
		return
	}
	if subscriptionEnded(sub) || sub.PauseCollection == nil {
		ce.Reply("Payment collection on %s is not paused.", code(sub.ID))
		return
	}
	p.askConfirmation(ce, portal, "unpause", sub.ID, subscriptionParams{Subscription: sub.ID, Mode: modeUnpause}, unpauseSummary(sub, portal))
}

func runUnpause(ce *Event, api CustomerAPI, params subscriptionParams, key string) (*stripe.Subscription, string, error) {
	sub, err := api.UnpauseCollection(ce.Ctx, params.Subscription, key)
	if err != nil {
		return sub, "", err
	}
	return sub, fmt.Sprintf("Payment collection on %s is back on.", code(sub.ID)), nil
}
