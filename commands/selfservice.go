package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	mcmd "maunium.net/go/mautrix/commands"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

// selfCancelCommand names the customer's cancel in pending actions and the
// audit log; it differs from the agents' subscription cancel so the two never
// share an executor.
const selfCancelCommand = "self-cancel"

// redactAttempts bounds retries of a portal-link redaction: the homeserver
// may be briefly down, but the timer goroutine must not live for ever.
const redactAttempts = 3

func (p *Processor) selfServiceCommands() []*Command {
	p.executors[selfCancelCommand] = p.runSelfCancel
	cmds := []*Command{
		{Name: "portal", Role: config.RoleCustomer, Help: "Get a short-lived link to manage your billing (card, invoices) on Stripe", Func: p.cmdPortal},
		{Name: "pay", Role: config.RoleCustomer, Args: "<invoice>", Help: "Get the payment page of an open invoice", Func: p.cmdPay},
		{Name: "change-plan", Role: config.RoleCustomer, Write: true, Args: "<price_…>", Help: "Switch your subscription to another plan (asks for confirmation)", Func: p.cmdSelfChangePlan},
		{Name: "cancel", Aliases: []string{"unsubscribe"}, Role: config.RoleCustomer, Write: true, Help: "Cancel your subscription at the end of the current period (asks for confirmation)", Func: p.cmdSelfCancel},
	}
	cmds = append(cmds, p.refundRequestCommands()...)
	cmds = append(cmds, p.conversationCommands()...)
	cmds = append(cmds, p.linkCommands()...)
	return cmds
}

// selfServiceAllowed applies the config's self-service policy. The policy
// limits customers only; agents can always act for the customer. On refusal
// the user has been told why, and writes are audited.
func (p *Processor) selfServiceAllowed(ce *Event, enabled bool, command, what string, write bool) bool {
	if enabled || p.deps.Role(ce.Ctx, ce.RoomID, ce.Sender).AtLeast(config.RoleAgent) {
		return true
	}
	why := fmt.Sprintf("%s is switched off on this bridge, so you can't %s yourself. Ask in this room and an agent will help.", code(command), what)
	if write {
		p.deps.auditDenied(ce, command, "", "self-service policy off")
	}
	ce.Reply("%s", why)
	return false
}

func (p *Processor) cmdPortal(ce *Event) {
	bridge := &p.deps.Config.Bridge
	if !p.selfServiceAllowed(ce, bridge.SelfService.Portal, "portal", "open the billing portal", false) {
		return
	}
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	session, err := api.PortalSession(ce.Ctx, portal.CustomerID, bridge.PortalReturnURL)
	if err != nil {
		// The error never contains the URL: there is none without a session.
		ce.Log.Warn().Err(err).Msg("Failed to create billing-portal session")
		ce.Reply("Could not open the billing portal: %s", errorSentence(err))
		return
	}
	ttl := bridge.PortalLinkLifetime()
	anchor := link("Open the billing portal", session.URL)
	if anchor == "" {
		ce.Log.Warn().Msg("Billing-portal session URL is not plain https; not posting it")
		ce.Reply("Stripe returned a billing-portal link I can't post safely; please ask an agent.")
		return
	}
	msg := fmt.Sprintf("%s — manage your card, invoices and subscription there. Anyone with this link can act on your billing, so don't share it; I'll remove it from this room in %s.",
		anchor, durationWords(ttl))
	eventID := ce.Respond(msg, mcmd.ReplyOpts{AllowMarkdown: true, Reply: true})
	// Only ids are logged: the URL is a bearer credential.
	ce.Log.Info().Str("portal_session", session.ID).Stringer("link_event", eventID).Dur("ttl", ttl).Msg("Posted billing-portal link")
	if eventID != "" {
		scheduleRedaction(ce, eventID, ttl)
	}
}

// scheduleRedaction removes the billing-portal link once it has served its
// purpose. It runs on a timer detached from the command's context, which ends
// with the handler. The timer lives in memory: after a restart the link stays
// until someone redacts it, but the Stripe session behind it expires on its
// own shortly after.
func scheduleRedaction(ce *Event, eventID id.EventID, after time.Duration) {
	client, roomID := ce.Proc.Client, ce.RoomID
	log := ce.Log.With().Stringer("link_event", eventID).Logger()
	base := context.WithoutCancel(ce.Ctx)
	time.AfterFunc(after, func() {
		for attempt := 1; attempt <= redactAttempts; attempt++ {
			ctx, cancel := context.WithTimeout(base, 30*time.Second)
			_, err := client.RedactEvent(ctx, roomID, eventID, mautrix.ReqRedact{Reason: "Billing-portal link expired"})
			cancel()
			if err == nil {
				log.Debug().Msg("Redacted billing-portal link")
				return
			}
			log.Warn().Err(err).Int("attempt", attempt).Msg("Failed to redact billing-portal link")
			time.Sleep(time.Duration(attempt) * 5 * time.Second)
		}
		log.Error().Msg("Gave up redacting billing-portal link; redact it by hand")
	})
}

// durationWords says a duration the way people do, number included, so it
// reads right after "in" or "within": "1 minute", "10 minutes", "2 hours",
// "90 seconds". Less than a second still says "1 second", never "0".
func durationWords(d time.Duration) string {
	count := func(n int64, one, many string) string {
		return fmt.Sprintf("%d %s", n, pluralize(int(n), one, many))
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return count(int64(d/time.Hour), "hour", "hours")
	case d >= time.Minute && d%time.Minute == 0:
		return count(int64(d/time.Minute), "minute", "minutes")
	default:
		return count(max(1, int64(d.Round(time.Second)/time.Second)), "second", "seconds")
	}
}

const payUsage = "Usage: `pay <in_…>` — the id of one of your open invoices (see `invoices open`)."

func (p *Processor) cmdPay(ce *Event) {
	if !p.selfServiceAllowed(ce, p.deps.Config.Bridge.SelfService.Pay, "pay", "get payment links", false) {
		return
	}
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	arg := ""
	if len(ce.Args) > 0 {
		arg = ce.Args[0]
	}
	target := ResolveTarget(ce, arg)
	if len(ce.Args) > 1 || !hasAnyPrefix(target, "in_") {
		ce.Reply("%s", payUsage)
		return
	}
	obj, err := Owned(ce.Ctx, api, portal.CustomerID, target)
	if err != nil {
		// pay changes nothing, but a customer trying other customers'
		// invoice ids is exactly what an admin must be able to see.
		auditTargetRefusal(ce, target, err)
		ce.Reply("%s", errorSentence(err))
		return
	}
	inv := obj.(*stripe.Invoice)
	if inv.Status != stripe.InvoiceStatusOpen {
		ce.Reply("Invoice %s is %s, so there is nothing to pay.", code(inv.ID), words(string(inv.Status)))
		return
	}
	anchor := link("Pay "+money(inv.AmountRemaining, string(inv.Currency))+" online", inv.HostedInvoiceURL)
	if anchor == "" {
		ce.Reply("Invoice %s has no online payment page; ask an agent how to pay it.", code(inv.ID))
		return
	}
	ce.Reply("Invoice %s: %s (due %s).", code(inv.ID), anchor, day(inv.DueDate))
}

// selfCancelParams is what the customer's cancel confirmation stores.
type selfCancelParams struct {
	SubscriptionID string `json:"subscription_id"`
}

func (p *Processor) cmdSelfCancel(ce *Event) {
	if !p.selfServiceAllowed(ce, p.deps.Config.Bridge.SelfService.Cancel, "cancel", "cancel your subscription", true) {
		return
	}
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	if len(ce.Args) > 0 {
		// The customer form takes no id: it acts on the room's only active
		// subscription, so nothing typed can point it elsewhere. Naming one
		// anyway is audited: it may be someone else's.
		p.deps.auditDenied(ce, "cancel", typedObject(ce.Args[0]), "self-service cancel takes no id")
		ce.Reply("Usage: `cancel` — cancels your subscription at the end of the current period.")
		return
	}
	sub, ok := onlyLiveSubscription(ce, api, portal.CustomerID, "cancel")
	if !ok {
		return
	}
	if sub.CancelAtPeriodEnd {
		ce.Reply("Your subscription %s already ends on %s.", code(sub.ID), day(sub.CurrentPeriodEnd))
		return
	}
	summary := fmt.Sprintf("**Cancel subscription** %s (%s) at the end of the current period, on %s. It stays active until then and will not renew.",
		code(sub.ID), subscriptionText(sub), day(sub.CurrentPeriodEnd))
	p.askConfirmation(ce, portal, selfCancelCommand, sub.ID, selfCancelParams{SubscriptionID: sub.ID}, summary)
}

// typedObject is arg when it has the shape of a Stripe id (prefix_body),
// for the audit log's target column; anything else stays in the parameters.
func typedObject(arg string) string {
	prefix, body, ok := strings.Cut(arg, "_")
	if !ok || prefix == "" || !validIDBody(prefix) || !validIDBody(body) {
		return ""
	}
	return arg
}

// onlyLiveSubscription is the customer's one active subscription. The
// customer forms take no id, so nothing typed can point them at anything
// else; with several subscriptions an agent has to pick.
func onlyLiveSubscription(ce *Event, api CustomerAPI, customerID, verb string) (*stripe.Subscription, bool) {
	subs, err := api.Subscriptions(ce.Ctx, customerID)
	if err != nil {
		ce.Reply("Could not read your subscriptions: %s", errorSentence(err))
		return nil, false
	}
	var live []*stripe.Subscription
	for _, sub := range ownedOnly(customerID, subs, subscriptionOwner) {
		switch sub.Status {
		case stripe.SubscriptionStatusActive, stripe.SubscriptionStatusTrialing, stripe.SubscriptionStatusPastDue:
			live = append(live, sub)
		}
	}
	switch len(live) {
	case 0:
		ce.Reply("You have no active subscription to %s.", verb)
		return nil, false
	case 1:
		return live[0], true
	default:
		ce.Reply("You have %d active subscriptions; ask an agent which one to %s.", len(live), verb)
		return nil, false
	}
}

// cmdSelfChangePlan moves the customer's subscription to one of the
// configured plans, through the same confirmation as the agent command.
func (p *Processor) cmdSelfChangePlan(ce *Event) {
	bridge := &p.deps.Config.Bridge
	if !p.selfServiceAllowed(ce, bridge.SelfService.ChangePlan, "change-plan", "change your plan", true) {
		return
	}
	if len(ce.Args) != 1 || !slices.Contains(bridge.Plans, ce.Args[0]) {
		if len(ce.Args) == 1 {
			p.deps.auditDenied(ce, "change-plan", typedObject(ce.Args[0]), "plan not offered for self-service")
		}
		plans := make([]string, len(bridge.Plans))
		for i, plan := range bridge.Plans {
			plans[i] = code(plan)
		}
		ce.Reply("Usage: `change-plan <price>` with one of: %s.", strings.Join(plans, ", "))
		return
	}
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	sub, ok := onlyLiveSubscription(ce, api, portal.CustomerID, "change")
	if !ok {
		return
	}
	ce.Args = []string{sub.ID, ce.Args[0]}
	p.cmdChangePlan(ce)
}

func (p *Processor) runSelfCancel(ce *Event, portal *database.Portal, api CustomerAPI, action *database.PendingAction) (string, string, string, error) {
	var params selfCancelParams
	if err := json.Unmarshal(action.Parameters, &params); err != nil {
		return "Could not read the confirmed cancellation; nothing was changed.", "", "", err
	}
	// Ownership again: the room's customer may have changed since the prompt.
	if _, err := Owned(ce.Ctx, api, portal.CustomerID, params.SubscriptionID); err != nil {
		return errorSentence(err) + " Nothing was changed.", params.SubscriptionID, "", err
	}
	sub, err := api.CancelAtPeriodEnd(ce.Ctx, params.SubscriptionID, action.IdempotencyKey)
	requestID := ""
	if sub != nil && sub.LastResponse != nil {
		requestID = sub.LastResponse.RequestID
	}
	if err != nil {
		return "Nothing was cancelled: " + errorSentence(err), params.SubscriptionID, requestID, err
	}
	return fmt.Sprintf("Subscription %s will end on %s and will not renew.", code(sub.ID), day(sub.CurrentPeriodEnd)), sub.ID, requestID, nil
}
