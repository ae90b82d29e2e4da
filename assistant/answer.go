package assistant

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// Data is the customer's Stripe data, read-only; *stripeapi.Client
// implements it. The assistant gets no write methods at all, so it cannot
// refund, cancel or change anything however a message is phrased.
type Data interface {
	Customer(ctx context.Context, id string) (*stripe.Customer, error)
	Invoices(ctx context.Context, customerID, status string, limit int) ([]*stripe.Invoice, error)
	UpcomingInvoice(ctx context.Context, customerID string) (*stripe.Invoice, error)
	Subscriptions(ctx context.Context, customerID string) ([]*stripe.Subscription, error)
	Charges(ctx context.Context, customerID string, limit int) ([]*stripe.Charge, error)
	Disputes(ctx context.Context, customerID string, limit int) ([]*stripe.Dispute, error)
}

// Result is what the room gets for one message.
type Result struct {
	Intent     Intent
	Confidence float64 // 0..1
	Reply      string  // markdown, one short message: key facts + next step; all Stripe text escaped
	Handoff    bool    // the bridge mentions agents and sets the conversation to waiting
}

const (
	handoffReply = "I'm not sure I understood that, so I've asked an agent to help; they'll reply here."
	humanReply   = "Of course: I've asked an agent to join; they'll reply here shortly."
	lookupFailed = "Sorry, I couldn't look up your billing details just now, so I've asked an agent to help; they'll reply here."
	listLimit    = 10
)

// Answer classifies text and builds the reply from customerID's own data.
// Stripe failures become a handoff reply rather than an error, because the
// customer still deserves an answer; the returned error is only ctx's, when
// the caller has gone away and there is nobody to reply to.
func (e *Engine) Answer(ctx context.Context, data Data, customerID, text string) (*Result, error) {
	if reply := closing(text); reply != "" {
		return &Result{Intent: IntentThanks, Confidence: 1, Reply: reply}, nil
	}
	res, err := e.ruleAnswer(ctx, data, customerID, text)
	if err != nil || e.opts.LLM == nil {
		return res, err
	}
	return e.llmAnswer(ctx, data, customerID, text, res), nil
}

// ruleAnswer is the rule engine's answer: the default, and the LLM mode's
// fallback.
func (e *Engine) ruleAnswer(ctx context.Context, data Data, customerID, text string) (*Result, error) {
	intent, conf := e.Classify(text)
	res := &Result{Intent: intent, Confidence: conf}
	switch {
	case intent == IntentHuman:
		res.Reply, res.Handoff = humanReply, true
		return res, nil
	case intent == IntentUnknown || conf < e.opts.Threshold:
		res.Reply, res.Handoff = handoffReply, true
		return res, nil
	}
	if data == nil || customerID == "" {
		res.Reply, res.Handoff = lookupFailed, true
		return res, nil
	}
	reply, handoff, err := e.reply(ctx, data, customerID, intent)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.Reply, res.Handoff = lookupFailed, true
		return res, nil
	}
	res.Reply, res.Handoff = reply, handoff
	return res, nil
}

// reply dispatches to one answer per intent. handoff is set where the only
// honest next step is a person (e.g. pausing, which has no self-service
// command).
func (e *Engine) reply(ctx context.Context, d Data, cus string, in Intent) (string, bool, error) {
	a := answerer{e: e, d: d, cus: cus}
	switch in {
	case IntentFailedPayment:
		return a.failedPayment(ctx)
	case IntentNextBill:
		return a.nextBill(ctx)
	case IntentRefundRequest:
		return a.refundRequest(ctx)
	case IntentRefundStatus:
		return a.refundStatus(ctx)
	case IntentInvoices:
		return a.invoices(ctx)
	case IntentReceipt:
		return a.receipt(ctx)
	case IntentBalance:
		return a.balance(ctx)
	case IntentUpdatePayment:
		if !e.can("portal") {
			return "I've asked an agent to help you change your card or billing details; they'll reply here.", true, nil
		}
		return "You can change your card or billing details yourself: send " + e.cmd("portal") +
			" for a secure, short-lived billing-portal link.", false, nil
	case IntentCancel:
		return a.cancel(ctx)
	case IntentChangePlan:
		return a.changePlan(ctx)
	case IntentPause:
		return a.pause(ctx)
	case IntentDispute:
		return a.dispute(ctx)
	case IntentGreeting:
		return "Hi! I can help with your payments, invoices, refunds and subscription, e.g. " +
			"\u201cwhy did my payment fail?\u201d or \u201cwhen is my next bill?\u201d", false, nil
	case IntentThanks:
		return "You're welcome! Ask any time if something else comes up.", false, nil
	}
	return handoffReply, true, nil
}

type answerer struct {
	e   *Engine
	d   Data
	cus string
}

// Ownership filters: the Data implementation is asked only about a.cus,
// but a room must never show another customer's object even if a backend
// returned one, so anything naming a different customer is dropped.

func (a answerer) ownCustomer(c *stripe.Customer) bool { return c == nil || c.ID == a.cus }

func (a answerer) invoicesOf(ctx context.Context, status string) ([]*stripe.Invoice, error) {
	list, err := a.d.Invoices(ctx, a.cus, status, listLimit)
	if err != nil {
		return nil, err
	}
	var out []*stripe.Invoice
	for _, inv := range list {
		if inv != nil && a.ownCustomer(inv.Customer) {
			out = append(out, inv)
		}
	}
	return out, nil
}

func (a answerer) charges(ctx context.Context) ([]*stripe.Charge, error) {
	list, err := a.d.Charges(ctx, a.cus, listLimit)
	if err != nil {
		return nil, err
	}
	var out []*stripe.Charge
	for _, ch := range list {
		if ch != nil && a.ownCustomer(ch.Customer) {
			out = append(out, ch)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out, nil
}

func (a answerer) subscriptions(ctx context.Context) ([]*stripe.Subscription, error) {
	list, err := a.d.Subscriptions(ctx, a.cus)
	if err != nil {
		return nil, err
	}
	var out []*stripe.Subscription
	for _, s := range list {
		if s != nil && a.ownCustomer(s.Customer) && s.Status != stripe.SubscriptionStatusCanceled &&
			s.Status != stripe.SubscriptionStatusIncompleteExpired {
			out = append(out, s)
		}
	}
	return out, nil
}

func (a answerer) failedPayment(ctx context.Context) (string, bool, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return "", false, err
	}
	open, err := a.invoicesOf(ctx, "open")
	if err != nil {
		return "", false, err
	}
	var failed *stripe.Charge
	for _, ch := range charges {
		if ch.Status == stripe.ChargeStatusFailed {
			failed = ch
			break
		}
	}
	var b strings.Builder
	if failed == nil {
		b.WriteString("I can't see a failed payment on your account recently.")
	} else {
		fmt.Fprintf(&b, "Your payment of **%s** on %s didn't go through: %s.",
			money(failed.Amount, string(failed.Currency)), day(failed.Created), esc(stripeapi.DeclineReason(declineCode(failed))))
	}
	portal := a.e.can("portal")
	switch inv := firstPayable(open); {
	case inv != nil && portal:
		fmt.Fprintf(&b, " %s, or update your card with %s.",
			link("Pay "+stripeapi.FormatAmount(inv.AmountRemaining, string(inv.Currency))+" online", inv.HostedInvoiceURL), a.e.cmd("portal"))
	case inv != nil:
		fmt.Fprintf(&b, " %s.", link("Pay "+stripeapi.FormatAmount(inv.AmountRemaining, string(inv.Currency))+" online", inv.HostedInvoiceURL))
	case failed != nil && portal:
		fmt.Fprintf(&b, " You can update your card with %s and we'll retry.", a.e.cmd("portal"))
	}
	return b.String(), false, nil
}

// declineCode prefers the bank's specific reason (insufficient funds…) over
// the generic failure code (card_declined).
func declineCode(ch *stripe.Charge) string {
	if ch.Outcome != nil && ch.Outcome.Reason != "" {
		return ch.Outcome.Reason
	}
	return ch.FailureCode
}

func firstPayable(invs []*stripe.Invoice) *stripe.Invoice {
	for _, inv := range invs {
		if inv.HostedInvoiceURL != "" && inv.AmountRemaining > 0 {
			return inv
		}
	}
	return nil
}

func (a answerer) nextBill(ctx context.Context) (string, bool, error) {
	inv, err := a.d.UpcomingInvoice(ctx, a.cus)
	if err != nil {
		return "", false, err
	}
	if inv == nil || !a.ownCustomer(inv.Customer) {
		return "You have no upcoming bill: nothing on your account renews.", false, nil
	}
	when := inv.NextPaymentAttempt
	if when == 0 {
		when = inv.PeriodEnd
	}
	if when == 0 {
		when = inv.Created
	}
	s := fmt.Sprintf("Your next bill is **%s** on **%s**.", money(inv.AmountDue, string(inv.Currency)), day(when))
	if !a.e.can("portal") {
		return s, false, nil
	}
	return s + " To change what you pay, send " + a.e.cmd("portal") + ".", false, nil
}

func (a answerer) refundRequest(ctx context.Context) (string, bool, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return "", false, err
	}
	for _, ch := range charges {
		if ch.Status != stripe.ChargeStatusSucceeded || ch.Refunded || ch.Amount-ch.AmountRefunded <= 0 {
			continue
		}
		// A disputed payment is the bank's to settle: a refund on top
		// would pay the customer twice. Never offered; a person explains.
		if ch.Disputed {
			return fmt.Sprintf("Your latest payment of **%s** on %s is being disputed with your bank, so it can't be refunded "+
				"here; I've asked an agent to explain what happens next. They'll reply here.",
				money(ch.Amount, string(ch.Currency)), day(ch.Created)), true, nil
		}
		if !a.e.can("request-refund") {
			return fmt.Sprintf("I can't issue refunds myself. I've asked an agent to look at your latest payment of **%s** on %s; "+
				"they'll reply here.", money(ch.Amount, string(ch.Currency)), day(ch.Created)), true, nil
		}
		return fmt.Sprintf("I can't issue refunds myself, but an agent can. Your latest payment was **%s** on %s; "+
			"to ask for a refund of it, send %s (you can add a reason after it).",
			money(ch.Amount, string(ch.Currency)), day(ch.Created), a.e.cmd("request-refund "+ch.ID)), false, nil
	}
	return "I can't find a recent payment that could be refunded, so I've asked an agent to take a look; they'll reply here.", true, nil
}

func (a answerer) refundStatus(ctx context.Context) (string, bool, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return "", false, err
	}
	var refunds []*stripe.Refund
	for _, ch := range charges {
		if ch.Refunds == nil {
			continue
		}
		for _, r := range ch.Refunds.Data {
			if r != nil {
				refunds = append(refunds, r)
			}
		}
	}
	if len(refunds) == 0 {
		if !a.e.can("request-refund") {
			return "I can't see any refund on your account yet. If you asked for one, an agent reviews it first; " +
				"I've asked one to look, and they'll reply here.", true, nil
		}
		return "I can't see any refund on your account yet. If you asked for one, an agent reviews it first; " +
			"to ask, send " + a.e.cmd("request-refund <payment id>") + ".", false, nil
	}
	sort.SliceStable(refunds, func(i, j int) bool { return refunds[i].Created > refunds[j].Created })
	r := refunds[0]
	amount := money(r.Amount, string(r.Currency))
	switch r.Status {
	case stripe.RefundStatusSucceeded:
		return fmt.Sprintf("Your refund of **%s** was sent on %s. Banks usually take 5–10 business days to show it on your statement.",
			amount, day(r.Created)), false, nil
	case stripe.RefundStatusPending, stripe.RefundStatusRequiresAction:
		return fmt.Sprintf("Your refund of **%s** (started %s) is still being processed.", amount, day(r.Created)), false, nil
	default:
		return fmt.Sprintf("Your refund of **%s** from %s did not go through (%s), so I've asked an agent to look at it.",
			amount, day(r.Created), esc(words(string(r.Status)))), true, nil
	}
}

func (a answerer) invoices(ctx context.Context) (string, bool, error) {
	invs, err := a.invoicesOf(ctx, "")
	if err != nil {
		return "", false, err
	}
	if len(invs) == 0 {
		return "You have no invoices yet.", false, nil
	}
	if len(invs) > 5 {
		invs = invs[:5]
	}
	var b strings.Builder
	b.WriteString("Your latest invoices:")
	for _, inv := range invs {
		label := inv.Number
		if label == "" {
			label = inv.ID
		}
		fmt.Fprintf(&b, "\n- %s: **%s**, %s, %s", esc(label), money(inv.Total, string(inv.Currency)),
			esc(words(string(inv.Status))), day(inv.Created))
		if l := link("view", inv.HostedInvoiceURL); l != "" {
			b.WriteString(" (" + l + ")")
		}
	}
	return b.String(), false, nil
}

func (a answerer) receipt(ctx context.Context) (string, bool, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return "", false, err
	}
	for _, ch := range charges {
		if ch.Status == stripe.ChargeStatusSucceeded && ch.ReceiptURL != "" {
			return fmt.Sprintf("Here is the receipt for your payment of **%s** on %s: %s.",
				money(ch.Amount, string(ch.Currency)), day(ch.Created), link("receipt", ch.ReceiptURL)), false, nil
		}
	}
	return "I can't find a receipt for a recent payment, so I've asked an agent to send you one.", true, nil
}

func (a answerer) balance(ctx context.Context) (string, bool, error) {
	open, err := a.invoicesOf(ctx, "open")
	if err != nil {
		return "", false, err
	}
	cus, err := a.d.Customer(ctx, a.cus)
	if err != nil {
		return "", false, err
	}
	due := map[string]int64{}
	var currencies []string
	for _, inv := range open {
		c := string(inv.Currency)
		if _, seen := due[c]; !seen {
			currencies = append(currencies, c)
		}
		due[c] += inv.AmountRemaining
	}
	var parts []string
	for _, c := range currencies {
		parts = append(parts, "**"+money(due[c], c)+"**")
	}
	var b strings.Builder
	if len(parts) == 0 {
		b.WriteString("You don't owe anything: there are no unpaid invoices.")
	} else {
		fmt.Fprintf(&b, "You owe %s on %d unpaid invoice(s).", strings.Join(parts, " + "), len(open))
		if inv := firstPayable(open); inv != nil {
			b.WriteString(" " + link("Pay online", inv.HostedInvoiceURL) + ".")
		}
	}
	// Stripe's customer balance is negative for credit the customer holds.
	if cus != nil && cus.ID == a.cus && cus.Balance != 0 {
		if cus.Balance < 0 {
			fmt.Fprintf(&b, " You have **%s** in credit, applied to your next invoice.", money(-cus.Balance, string(cus.Currency)))
		} else {
			fmt.Fprintf(&b, " **%s** will be added to your next invoice.", money(cus.Balance, string(cus.Currency)))
		}
	}
	return b.String(), false, nil
}

func (a answerer) cancel(ctx context.Context) (string, bool, error) {
	subs, err := a.subscriptions(ctx)
	if err != nil {
		return "", false, err
	}
	if len(subs) == 0 {
		return "You have no active subscription, so there is nothing to cancel.", false, nil
	}
	s := subs[0]
	if s.CancelAtPeriodEnd {
		return fmt.Sprintf("Your %s subscription is already set to end on %s; you won't be charged after that.",
			planName(s), day(s.CurrentPeriodEnd)), false, nil
	}
	if !a.e.can("cancel") {
		return fmt.Sprintf("Your %s subscription renews on %s. I've asked an agent to help you with cancelling; they'll reply here.",
			planName(s), day(s.CurrentPeriodEnd)), true, nil
	}
	return fmt.Sprintf("Your %s subscription renews on %s. To cancel at the end of the period, send %s "+
		"(you'll be asked to confirm), or ask here and an agent will help.", planName(s), day(s.CurrentPeriodEnd), a.e.cmd("cancel")), false, nil
}

func (a answerer) changePlan(ctx context.Context) (string, bool, error) {
	subs, err := a.subscriptions(ctx)
	if err != nil {
		return "", false, err
	}
	cur := ""
	if len(subs) > 0 {
		cur = "You're on the " + planName(subs[0]) + " plan. "
	}
	if !a.e.can("change-plan") {
		return cur + "I've asked an agent to help you switch plans; they'll reply here.", true, nil
	}
	return cur + "To switch, send " + a.e.cmd("change-plan <price>") + ": it shows the new price and asks you to confirm " +
		"before anything changes. An agent can help you pick a plan.", false, nil
}

func (a answerer) pause(ctx context.Context) (string, bool, error) {
	subs, err := a.subscriptions(ctx)
	if err != nil {
		return "", false, err
	}
	for _, s := range subs {
		if s.PauseCollection != nil {
			msg := "Payments for your " + planName(s) + " subscription are paused"
			if s.PauseCollection.ResumesAt > 0 {
				msg += " until " + day(s.PauseCollection.ResumesAt)
			}
			return msg + ". I've asked an agent in case you want to change that.", true, nil
		}
	}
	if len(subs) == 0 {
		return "You have no active subscription to pause.", false, nil
	}
	// No self-service command pauses a subscription, so a person decides.
	return "I can't pause a subscription myself, so I've asked an agent to help; they'll reply here.", true, nil
}

func (a answerer) dispute(ctx context.Context) (string, bool, error) {
	list, err := a.d.Disputes(ctx, a.cus, listLimit)
	if err != nil {
		return "", false, err
	}
	for _, d := range list {
		if d == nil || (d.Charge != nil && !a.ownCustomer(d.Charge.Customer)) {
			continue
		}
		msg := fmt.Sprintf("Your bank's dispute of **%s** (opened %s) is %s.",
			money(d.Amount, string(d.Currency)), day(d.Created), disputeStatus(d.Status))
		return msg + " An agent can tell you more.", false, nil
	}
	return "I can't see any dispute on your payments. If you've contacted your bank, it can take a few days to reach us.", false, nil
}

func disputeStatus(s stripe.DisputeStatus) string {
	switch s {
	case stripe.DisputeStatusWarningNeedsResponse, stripe.DisputeStatusNeedsResponse:
		return "open and waiting for our response"
	case stripe.DisputeStatusWarningUnderReview, stripe.DisputeStatusUnderReview:
		return "under review by the bank"
	case stripe.DisputeStatusWon:
		return "closed: the bank decided in our favour"
	case stripe.DisputeStatusLost:
		return "closed: the bank decided in your favour"
	case stripe.DisputeStatusWarningClosed:
		return "closed"
	}
	return esc(words(string(s)))
}

func planName(s *stripe.Subscription) string {
	if s.Items != nil {
		for _, it := range s.Items.Data {
			if it == nil || it.Price == nil {
				continue
			}
			if it.Price.Nickname != "" {
				return "**" + esc(it.Price.Nickname) + "**"
			}
			if it.Price.Product != nil && it.Price.Product.Name != "" {
				return "**" + esc(it.Price.Product.Name) + "**"
			}
		}
	}
	return "current"
}

func (e *Engine) cmd(args string) string { return "`" + e.opts.CommandPrefix + " " + args + "`" }

// can reports whether the customer may run the self-service command.
func (e *Engine) can(command string) bool {
	return e.opts.SelfService == nil || e.opts.SelfService(command)
}

func money(amount int64, currency string) string {
	return esc(stripeapi.FormatAmount(amount, currency))
}

func day(unix int64) string { return time.Unix(unix, 0).UTC().Format("2 Jan 2006") }

func words(enum string) string { return strings.ReplaceAll(enum, "_", " ") }

// esc makes Stripe-provided text (names, nicknames, invoice numbers) safe
// in the markdown reply: no links, formatting, line breaks, bidi overrides
// or invisible characters; see usertext.Markdown.
func esc(s string) string { return usertext.Markdown(s) }

// link builds a markdown link, or "" without a URL. Only http(s) URLs are
// linked; parentheses and spaces are percent-encoded so the URL cannot
// close the link early.
func link(label, raw string) string {
	if !strings.HasPrefix(raw, "https://") && !strings.HasPrefix(raw, "http://") {
		return ""
	}
	u := strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "\\", "%5C").Replace(raw)
	return "[" + esc(label) + "](" + u + ")"
}
