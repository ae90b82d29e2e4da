package commands

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

func (p *Processor) cmdChangePlan(ce *Event) {
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	target, args := targetArg(ce, "sub_")
	if target == "" || len(args) < 1 || len(args) > 2 || !strings.HasPrefix(args[0], "price_") || !validIDBody(strings.TrimPrefix(args[0], "price_")) {
		ce.Reply("%s", changePlanUsage)
		return
	}
	proration := "create_prorations"
	if len(args) == 2 {
		switch strings.ToLower(args[1]) {
		case "prorate", "proration", "prorations":
		case "none", "no-proration":
			proration = "none"
		default:
			ce.Reply("%s is not a proration choice. %s", code(args[1]), changePlanUsage)
			return
		}
	}
	sub, ok := ownedSubscription(ce, api, portal.CustomerID, target)
	if !ok {
		return
	}
	id := code(sub.ID)
	if subscriptionEnded(sub) {
		ce.Reply("Subscription %s is canceled; its plan cannot change.", id)
		return
	}
	if sub.Items == nil || len(sub.Items.Data) != 1 {
		ce.Reply("Subscription %s has several prices; change it in the Stripe dashboard.", id)
		return
	}
	item := sub.Items.Data[0]
	if item.Price != nil && item.Price.ID == args[0] {
		ce.Reply("Subscription %s is already on %s.", id, describePrice(item.Price))
		return
	}
	price, err := api.Price(ce.Ctx, args[0])
	switch {
	case err != nil && stripeapi.IsNotFound(err):
		ce.Reply("No such price.")
		return
	case err != nil:
		ce.Reply("%s", errorSentence(err))
		return
	case !price.Active:
		ce.Reply("Price %s is archived; pick an active one.", code(price.ID))
		return
	case price.Recurring == nil:
		ce.Reply("Price %s is one-time; a subscription needs a recurring price.", code(price.ID))
		return
	case sub.Currency != "" && price.Currency != sub.Currency:
		ce.Reply("Price %s is in %s but the subscription bills in %s.", code(price.ID),
			strings.ToUpper(string(price.Currency)), strings.ToUpper(string(sub.Currency)))
		return
	}
	change := stripeapi.PriceChange{SubscriptionID: sub.ID, ItemID: item.ID, PriceID: price.ID, ProrationBehavior: proration}
	if proration != "none" {
		// The moment previewed is stored with the prompt and sent again on
		// confirmation: Stripe prorates by the second, so an update
		// prorated for the confirmation's own moment would differ from
		// the amount the prompt showed.
		change.ProrationDate = p.deps.now().Unix()
	}
	summary := fmt.Sprintf("**Change plan** of subscription %s for %s: %s → %s, effective now. %s",
		id, code(portal.Name), describePrice(item.Price), describePrice(price),
		previewSentence(ce, api, portal.CustomerID, change, sub))
	old := ""
	if item.Price != nil {
		old = item.Price.ID
	}
	p.askConfirmation(ce, portal, "change-plan", sub.ID, subscriptionParams{
		Subscription: sub.ID, ItemID: item.ID, OldPrice: old, Price: price.ID, Proration: proration,
		ProrationDate: change.ProrationDate,
	}, summary)
}

// previewSentence says what the change costs, as far as Stripe's preview of
// the upcoming invoice tells. When the preview itemises no proration (or
// cannot be had) it says so rather than guessing an amount.
func previewSentence(ce *Event, api CustomerAPI, customerID string, change stripeapi.PriceChange, sub *stripe.Subscription) string {
	if change.ProrationBehavior == "none" {
		return fmt.Sprintf("No proration: nothing is charged or credited for the rest of the current period; the new price is billed from the renewal on %s.", day(sub.CurrentPeriodEnd))
	}
	preview, err := api.PreviewPriceChange(ce.Ctx, customerID, change)
	if err != nil || preview == nil {
		ce.Log.Debug().AnErr("error", err).Msg("No upcoming-invoice preview for plan change")
		return "Proration for the rest of the current period is computed by Stripe when the change is made (no preview was available)."
	}
	var proration int64
	prorated := false
	if preview.Lines != nil {
		for _, line := range preview.Lines.Data {
			if line.Proration {
				proration += line.Amount
				prorated = true
			}
		}
	}
	cur := string(preview.Currency)
	next := fmt.Sprintf("Stripe's preview of the next invoice (%s): %s.", day(sub.CurrentPeriodEnd), stripeapi.FormatAmount(preview.AmountDue, cur))
	if !prorated {
		return "Proration for the rest of the current period is computed by Stripe when the change is made; the preview did not itemise it. " + next
	}
	what := "charged"
	if proration < 0 {
		what, proration = "credited", -proration
	}
	return fmt.Sprintf("Proration: %s %s for the rest of the current period, on the next invoice. %s", stripeapi.FormatAmount(proration, cur), what, next)
}

func runChangePlan(ce *Event, api CustomerAPI, params subscriptionParams, key string) (*stripe.Subscription, string, error) {
	sub, err := api.ChangePrice(ce.Ctx, stripeapi.PriceChange{
		SubscriptionID: params.Subscription, ItemID: params.ItemID, PriceID: params.Price, ProrationBehavior: params.Proration,
		ProrationDate: params.ProrationDate,
	}, key)
	if err != nil {
		return sub, "", err
	}
	return sub, fmt.Sprintf("Subscription %s is now on %s.", code(sub.ID), describePrice(subscriptionPrice(sub))), nil
}

// validCouponID keeps a typed coupon code to what Stripe allows in ids.
func validCouponID(s string) bool {
	return s != "" && len(s) <= 200 && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	})
}

func couponTerms(cp *stripe.Coupon) string {
	var off string
	if cp.PercentOff > 0 {
		off = fmt.Sprintf("%g%% off", cp.PercentOff)
	} else {
		off = stripeapi.FormatAmount(cp.AmountOff, string(cp.Currency)) + " off"
	}
	switch cp.Duration {
	case stripe.CouponDurationOnce:
		off += " the next invoice"
	case stripe.CouponDurationRepeating:
		off += fmt.Sprintf(" for %d months", cp.DurationInMonths)
	default:
		off += " for ever"
	}
	if cp.Name != "" {
		off = code(cp.Name) + ": " + off
	}
	return off
}

func (p *Processor) cmdCoupon(ce *Event) {
	portal, api, sub, args, ok := subscriptionTarget(ce, couponUsage, func(args []string) bool {
		return len(args) == 1 && validCouponID(args[0])
	})
	if !ok {
		return
	}
	id := code(sub.ID)
	if subscriptionEnded(sub) {
		ce.Reply("Subscription %s is canceled; a coupon would do nothing.", id)
		return
	}
	cp, err := api.Coupon(ce.Ctx, args[0])
	switch {
	case err != nil && stripeapi.IsNotFound(err):
		ce.Reply("No such coupon.")
		return
	case err != nil:
		ce.Reply("%s", errorSentence(err))
		return
	case !cp.Valid:
		ce.Reply("Coupon %s can no longer be redeemed.", code(cp.ID))
		return
	case cp.AmountOff > 0 && sub.Currency != "" && cp.Currency != sub.Currency:
		ce.Reply("Coupon %s is in %s but the subscription bills in %s.", code(cp.ID),
			strings.ToUpper(string(cp.Currency)), strings.ToUpper(string(sub.Currency)))
		return
	}
	summary := fmt.Sprintf("**Apply coupon %s** (%s) to subscription %s for %s, from the next invoice (%s).",
		code(cp.ID), couponTerms(cp), id, code(portal.Name), day(sub.CurrentPeriodEnd))
	if sub.Discount != nil && sub.Discount.Coupon != nil {
		summary += fmt.Sprintf(" It replaces the current coupon %s.", code(sub.Discount.Coupon.ID))
	}
	p.askConfirmation(ce, portal, "coupon", sub.ID, subscriptionParams{Subscription: sub.ID, Coupon: cp.ID}, summary)
}

func runCoupon(ce *Event, api CustomerAPI, params subscriptionParams, key string) (*stripe.Subscription, string, error) {
	sub, err := api.ApplyCoupon(ce.Ctx, params.Subscription, params.Coupon, key)
	if err != nil {
		return sub, "", err
	}
	return sub, fmt.Sprintf("Coupon %s is on subscription %s.", code(params.Coupon), code(sub.ID)), nil
}

// shareName lets an agent write and a customer self-service command use one
// name (`cancel`, `change-plan`): when the other is already registered, it
// is replaced by one command that runs the agent form for agents and the
// self-service form for everyone else. Registering the two apart
// would make mautrix panic on the duplicate name.
func (p *Processor) shareName(mine *Command) *Command {
	i := slices.IndexFunc(p.commands, func(c *Command) bool { return c.Name == mine.Name })
	if i < 0 {
		return mine
	}
	theirs := p.commands[i]
	p.proc.Unregister(p.proc.GetHandler(mine.Name))
	p.commands = slices.Delete(p.commands, i, i+1)
	agentForm, selfForm := mine.Func, theirs.Func
	return &Command{
		Name: mine.Name, Aliases: theirs.Aliases, Role: theirs.Role, Scope: theirs.Scope, Write: true,
		Args: "[" + mine.Args + "]", Help: theirs.Help + "; agents: " + mine.Args,
		Func: func(ce *Event) {
			if p.deps.Role(ce.Ctx, ce.RoomID, ce.Sender).AtLeast(mine.Role) {
				agentForm(ce)
				return
			}
			selfForm(ce)
		},
	}
}
