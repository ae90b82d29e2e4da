package assistant

import (
	"context"
	"fmt"
	"slices"
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
	Price(ctx context.Context, id string) (*stripe.Price, error)
}

// Question is one customer message to answer.
type Question struct {
	Customer string // the room's customer: the only one the answer may be about
	Text     string
	Hint     Lang // the language the customer's page or client uses, or ""
}

// Result is what the room gets for one message.
type Result struct {
	Intent     Intent
	Intents    []Intent // every request the message made, Intent first
	Confidence float64  // 0..1
	Lang       Lang     // the language of the message and of Reply
	Reply      string   // markdown, one short message: key facts + next step; all Stripe text escaped
	Handoff    bool     // the bridge mentions agents and sets the conversation to waiting
	// Offer is the self-service step the reply offered ("portal",
	// "request-refund ch_…", "cancel") or OfferAgent; a "yes" within a few
	// minutes accepts it. "" when nothing was offered.
	Offer string
	Topic string // the knowledge-base topic the reply quotes, or ""
}

// OfferAgent is the offer of a person: a "yes" hands off.
const OfferAgent = "agent"

// listLimit bounds every list the assistant reads.
const listLimit = 10

// refundOverdue is when a sent refund that has not arrived is worth asking
// the bank about: 10 business days.
const refundOverdue = 14 * 24 * time.Hour

// Answer answers text from customerID's room; see Respond.
func (e *Engine) Answer(ctx context.Context, data Data, customerID, text string) (*Result, error) {
	return e.Respond(ctx, data, Question{Customer: customerID, Text: text})
}

// Respond classifies a question and builds the reply from the customer's
// own data, in the question's language. Stripe failures become a handoff
// reply rather than an error, because the customer still deserves an
// answer; the returned error is only ctx's, when the caller has gone away
// and there is nobody to reply to.
func (e *Engine) Respond(ctx context.Context, data Data, q Question) (*Result, error) {
	r := e.Read(q.Text, q.Hint)
	if isClosing(q.Text) {
		res := &Result{Intent: IntentThanks, Intents: []Intent{IntentThanks}, Confidence: 1, Lang: r.Lang, Reply: T(r.Lang, mClosing)}
		if closingThanks(q.Text) {
			res.Reply = T(r.Lang, mThanks)
		}
		return res, nil
	}
	res, err := e.ruleAnswer(ctx, data, q, r)
	if err != nil || e.opts.LLM == nil {
		return res, err
	}
	return e.llmAnswer(ctx, data, q.Customer, q.Text, res), nil
}

// ruleAnswer is the rule engine's answer: the default, and the LLM mode's
// fallback.
func (e *Engine) ruleAnswer(ctx context.Context, data Data, q Question, r Reading) (*Result, error) {
	res := &Result{Intent: r.Intent, Intents: r.Intents, Confidence: r.Confidence, Lang: r.Lang}
	if len(res.Intents) == 0 {
		res.Intents = []Intent{r.Intent}
	}
	lang := r.Lang
	confident := r.Intent != IntentUnknown && r.Confidence >= e.opts.Threshold
	if topic := e.knowledge(r, confident); topic != nil {
		res.Topic = topic.Title
		res.Reply = T(lang, mKnowledge, esc(topic.Title)) + "\n\n" + topic.Answer
		return res, nil
	}
	switch {
	case r.Intent == IntentHuman && confident:
		res.Reply, res.Handoff = T(lang, mHuman), true
		return res, nil
	case !confident:
		res.Intents = []Intent{r.Intent}
		res.Reply, res.Handoff = T(lang, mHandoff), true
		return res, nil
	}
	if data == nil || q.Customer == "" {
		res.Reply, res.Handoff = T(lang, mLookupFailed), true
		return res, nil
	}
	a := &answerer{e: e, d: data, cus: q.Customer, lang: lang, words: r.text.words, now: e.now()}
	var parts, offers []string
	for _, in := range res.Intents {
		if in == IntentHuman {
			parts, res.Handoff = append(parts, T(lang, mHuman)), true
			continue
		}
		p, err := a.reply(ctx, in)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			res.Reply, res.Handoff = T(lang, mLookupFailed), true
			return res, nil
		}
		parts = append(parts, p.text)
		res.Handoff = res.Handoff || p.handoff
		if p.offer != "" {
			offers = append(offers, p.offer)
		}
	}
	// One offer, so that "yes" means one thing; none once a person is
	// coming anyway.
	if len(offers) == 1 && !(res.Handoff && offers[0] == OfferAgent) {
		res.Offer = offers[0]
	}
	if res.Handoff && res.Offer == OfferAgent {
		res.Offer = ""
	}
	reply := strings.Join(parts, "\n\n")
	if other, err := a.namesSomeoneElse(ctx, r.text); err == nil && other {
		reply = T(lang, mOtherPerson) + " " + reply
	}
	res.Reply = reply
	return res, nil
}

// now is the engine's clock; tests pin it.
func (e *Engine) now() time.Time {
	if e.clock != nil {
		return e.clock()
	}
	return time.Now()
}

// answerPart is the reply to one request of a message.
type answerPart struct {
	text    string
	handoff bool
	offer   string
}

type answerer struct {
	e     *Engine
	d     Data
	cus   string
	lang  Lang
	words []string // the message's canonical words
	now   time.Time
}

func (a *answerer) t(m msg, args ...any) string { return T(a.lang, m, args...) }
func (a *answerer) money(amount int64, cur stripe.Currency) string {
	return money(a.lang, amount, string(cur))
}
func (a *answerer) day(unix int64) string { return day(a.lang, unix) }

// offerYes appends the "or just reply yes" line for a step the customer
// can accept.
func (a *answerer) offerYes(text, offer string) answerPart {
	return answerPart{text: text + " " + a.t(mReplyYes), offer: offer}
}

func (a *answerer) handoff(text string) answerPart { return answerPart{text: text, handoff: true} }
func said(text string) answerPart                  { return answerPart{text: text} }

// reply dispatches to one answer per intent. handoff is set where the only
// honest next step is a person (e.g. pausing, which has no self-service
// command).
func (a *answerer) reply(ctx context.Context, in Intent) (answerPart, error) {
	switch in {
	case IntentFailedPayment:
		return a.failedPayment(ctx)
	case IntentPayments:
		return a.payments(ctx)
	case IntentUnrecognized:
		return a.unrecognized(ctx)
	case IntentDoubleCharge:
		return a.doubleCharge(ctx)
	case IntentNextBill:
		return a.nextBill(ctx)
	case IntentRefundRequest:
		return a.refundRequest(ctx)
	case IntentRefundStatus:
		return a.refundStatus(ctx)
	case IntentInvoices:
		return a.invoices(ctx)
	case IntentBalance:
		return a.balance(ctx)
	case IntentUpdatePayment:
		if !a.e.can("portal") {
			return a.handoff(a.t(mUpdateAgent)), nil
		}
		return a.offerYes(a.t(mUpdatePortal, a.e.cmd("portal")), "portal"), nil
	case IntentCancel:
		return a.cancel(ctx)
	case IntentChangePlan:
		return a.changePlan(ctx)
	case IntentPause:
		return a.pause(ctx)
	case IntentDispute:
		return a.dispute(ctx)
	case IntentBilledAfterCancel:
		return a.billedAfterCancel(ctx)
	case IntentGreeting:
		return said(a.t(mGreeting)), nil
	case IntentThanks:
		return said(a.t(mThanks)), nil
	}
	return a.handoff(a.t(mHandoff)), nil
}

// Ownership filters: the Data implementation is asked only about a.cus,
// but a room must never show another customer's object even if a backend
// returned one, so anything naming a different customer is dropped.

func (a *answerer) ownCustomer(c *stripe.Customer) bool { return c == nil || c.ID == a.cus }

func (a *answerer) invoicesOf(ctx context.Context, status string) ([]*stripe.Invoice, error) {
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
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out, nil
}

func (a *answerer) charges(ctx context.Context) ([]*stripe.Charge, error) {
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

// allSubscriptions includes ended ones; subscriptions only the live ones.
func (a *answerer) allSubscriptions(ctx context.Context) ([]*stripe.Subscription, error) {
	list, err := a.d.Subscriptions(ctx, a.cus)
	if err != nil {
		return nil, err
	}
	var out []*stripe.Subscription
	for _, s := range list {
		if s != nil && a.ownCustomer(s.Customer) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (a *answerer) subscriptions(ctx context.Context) ([]*stripe.Subscription, error) {
	list, err := a.allSubscriptions(ctx)
	return slices.DeleteFunc(list, func(s *stripe.Subscription) bool {
		return s.Status == stripe.SubscriptionStatusCanceled || s.Status == stripe.SubscriptionStatusIncompleteExpired
	}), err
}

func (a *answerer) failedPayment(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
	}
	open, err := a.invoicesOf(ctx, "open")
	if err != nil {
		return answerPart{}, err
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
		b.WriteString(a.t(mNoFailed))
	} else {
		b.WriteString(a.t(mFailed, a.money(failed.Amount, failed.Currency), a.day(failed.Created), a.declineReason(failed)))
	}
	portal := a.e.can("portal")
	offer := ""
	switch inv := firstPayable(open); {
	case inv != nil && portal:
		b.WriteString(" " + a.t(mPayOrPortal, a.payLink(inv), a.e.cmd("portal")))
	case inv != nil:
		b.WriteString(" " + a.t(mPayOnly, a.payLink(inv)))
	case failed != nil && portal:
		b.WriteString(" " + a.t(mRetryPortal, a.e.cmd("portal")))
		offer = "portal"
	}
	if offer != "" {
		return a.offerYes(b.String(), offer), nil
	}
	return said(b.String()), nil
}

func (a *answerer) payLink(inv *stripe.Invoice) string {
	return link(a.t(mPayOnline, formatMoney(a.lang, inv.AmountRemaining, string(inv.Currency))), inv.HostedInvoiceURL)
}

// declineReason says why the bank refused, in the customer's language;
// English keeps stripeapi's wording, which agents see too.
func (a *answerer) declineReason(ch *stripe.Charge) string {
	code := declineCode(ch)
	if a.lang == LangEN {
		return esc(stripeapi.DeclineReason(code))
	}
	switch code {
	case "insufficient_funds":
		return a.t(mDeclineFunds)
	case "expired_card":
		return a.t(mDeclineExpire)
	case "incorrect_cvc", "invalid_cvc":
		return a.t(mDeclineCVC)
	case "incorrect_number", "invalid_number":
		return a.t(mDeclineNumber)
	case "authentication_required":
		return a.t(mDeclineAuth)
	case "lost_card", "stolen_card", "pickup_card", "restricted_card":
		return a.t(mDeclineLost)
	case "card_velocity_exceeded", "withdrawal_count_limit_exceeded":
		return a.t(mDeclineLimit)
	case "processing_error":
		return a.t(mDeclineError)
	}
	return a.t(mDeclineBank)
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

// month is the calendar month the message asks about ("in March", "last
// month", "this month"), or the zero time.
func (a *answerer) month() time.Time {
	cur := time.Date(a.now.Year(), a.now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i, w := range a.words {
		if n := slices.Index(canonicalMonths, w); n >= 0 {
			m := time.Date(cur.Year(), time.Month(n+1), 1, 0, 0, 0, 0, time.UTC)
			if m.After(cur) {
				m = m.AddDate(-1, 0, 0)
			}
			return m
		}
		if w == "month" && i > 0 {
			switch a.words[i-1] {
			case "this":
				return cur
			case "last", "previous", "past":
				return cur.AddDate(0, -1, 0)
			}
		}
	}
	return time.Time{}
}

func inMonth(unix int64, m time.Time) bool {
	t := time.Unix(unix, 0).UTC()
	return t.Year() == m.Year() && t.Month() == m.Month()
}

func (a *answerer) has(word string) bool { return slices.Contains(a.words, word) }

func (a *answerer) payments(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
	}
	if m := a.month(); !m.IsZero() {
		charges = slices.DeleteFunc(charges, func(ch *stripe.Charge) bool { return !inMonth(ch.Created, m) })
		if len(charges) == 0 {
			return said(a.t(mNoPaymentsMonth, monthYear(a.lang, m))), nil
		}
		return said(a.paymentList(a.t(mPaymentsMonth, monthYear(a.lang, m)), charges)), nil
	}
	if len(charges) == 0 {
		return said(a.t(mNoPayments)), nil
	}
	ch := charges[0]
	var b strings.Builder
	switch ch.Status {
	case stripe.ChargeStatusSucceeded:
		b.WriteString(a.t(mLatestOK, a.money(ch.Amount, ch.Currency), a.day(ch.Created)))
	case stripe.ChargeStatusFailed:
		b.WriteString(a.t(mLatestFailed, a.money(ch.Amount, ch.Currency), a.day(ch.Created), a.declineReason(ch)))
	default:
		b.WriteString(a.t(mLatestPending, a.money(ch.Amount, ch.Currency), a.day(ch.Created)))
	}
	if len(charges) > 1 {
		b.WriteString("\n\n" + a.paymentList(a.t(mRecentPayments), charges))
	}
	return said(b.String()), nil
}

func (a *answerer) paymentList(title string, charges []*stripe.Charge) string {
	if len(charges) > 5 {
		charges = charges[:5]
	}
	var b strings.Builder
	b.WriteString(title)
	for _, ch := range charges {
		b.WriteString("\n- " + a.t(mPaymentLine, a.day(ch.Created), a.money(ch.Amount, ch.Currency), a.chargeStatus(ch)))
	}
	return b.String()
}

func (a *answerer) chargeStatus(ch *stripe.Charge) string {
	switch {
	case ch.Refunded:
		return a.t(mStatusRefunded)
	case ch.AmountRefunded > 0:
		return a.t(mStatusPartRefund)
	case ch.Status == stripe.ChargeStatusSucceeded:
		return a.t(mStatusPaid)
	case ch.Status == stripe.ChargeStatusFailed:
		return a.t(mStatusFailed)
	}
	return a.t(mStatusPending)
}

// unrecognized shows what the customer's statement says for each recent
// payment, since a descriptor they do not connect with the merchant is
// the usual reason; the next step is a person, never the bank.
func (a *answerer) unrecognized(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
	}
	charges = slices.DeleteFunc(charges, func(ch *stripe.Charge) bool { return ch.Status == stripe.ChargeStatusFailed })
	if len(charges) == 0 {
		return a.handoff(a.t(mUnrecognizedNone)), nil
	}
	if len(charges) > 5 {
		charges = charges[:5]
	}
	var b strings.Builder
	b.WriteString(a.t(mStatementCharges))
	for _, ch := range charges {
		desc := ch.CalculatedStatementDescriptor
		if desc == "" {
			desc = ch.StatementDescriptor
		}
		if desc == "" {
			desc = ch.Description
		}
		line := a.t(mStatementLine, a.day(ch.Created), a.money(ch.Amount, ch.Currency), esc(desc))
		if ch.PaymentMethodDetails != nil && ch.PaymentMethodDetails.Card != nil && ch.PaymentMethodDetails.Card.Last4 != "" {
			line += " (" + a.t(mCardEnding, esc(ch.PaymentMethodDetails.Card.Last4)) + ")"
		}
		b.WriteString("\n- " + line)
	}
	b.WriteString("\n\n" + a.t(mUnrecognizedOffer))
	return answerPart{text: b.String(), offer: OfferAgent}, nil
}

// doubleCharge looks for two successful payments of the same amount
// within three days: the second is the one to give back.
func (a *answerer) doubleCharge(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
	}
	var ok []*stripe.Charge
	for _, ch := range charges {
		if ch.Status == stripe.ChargeStatusSucceeded {
			ok = append(ok, ch)
		}
	}
	for i := 0; i+1 < len(ok); i++ {
		newer, older := ok[i], ok[i+1]
		if newer.Amount != older.Amount || newer.Currency != older.Currency || newer.Created-older.Created > 3*24*3600 {
			continue
		}
		text := a.t(mDoubleFound, a.money(newer.Amount, newer.Currency), a.day(older.Created), a.day(newer.Created))
		if newer.Refunded {
			return said(text + " " + a.t(mRefundDone, a.money(newer.Amount, newer.Currency), a.day(newer.Created))), nil
		}
		if newer.Disputed || !a.e.can("request-refund") {
			return a.handoff(text + " " + a.t(mDoubleAgent)), nil
		}
		cmd := "request-refund " + newer.ID
		return a.offerYes(text+" "+a.t(mDoubleRefund, a.e.cmd(cmd)), cmd), nil
	}
	if len(ok) == 0 {
		return a.handoff(a.t(mUnrecognizedNone)), nil
	}
	return answerPart{text: a.t(mDoubleNone, a.money(ok[0].Amount, ok[0].Currency), a.day(ok[0].Created)), offer: OfferAgent}, nil
}

func (a *answerer) nextBill(ctx context.Context) (answerPart, error) {
	inv, err := a.d.UpcomingInvoice(ctx, a.cus)
	if err != nil {
		return answerPart{}, err
	}
	open, err := a.invoicesOf(ctx, "open")
	if err != nil {
		return answerPart{}, err
	}
	var b strings.Builder
	if inv == nil || !a.ownCustomer(inv.Customer) {
		b.WriteString(a.t(mNoUpcoming))
	} else {
		when := inv.NextPaymentAttempt
		if when == 0 {
			when = inv.PeriodEnd
		}
		if when == 0 {
			when = inv.Created
		}
		b.WriteString(a.t(mNextBill, a.money(inv.AmountDue, inv.Currency), a.day(when)))
	}
	// What is already overdue is due before the next bill.
	for _, o := range open {
		if o.AmountRemaining <= 0 || (o.DueDate > 0 && o.DueDate > a.now.Unix()) {
			continue
		}
		since := o.DueDate
		if since == 0 {
			since = o.Created
		}
		b.WriteString(" " + a.t(mPastDue, a.money(o.AmountRemaining, o.Currency), a.day(since)))
		if l := link(a.t(mLinkPay), o.HostedInvoiceURL); l != "" {
			b.WriteString(" " + a.t(mPayOverdue, l))
		}
		break
	}
	if inv != nil && a.e.can("portal") {
		b.WriteString(" " + a.t(mChangeWhat, a.e.cmd("portal")))
	}
	return said(b.String()), nil
}

// refundRequest looks at the latest successful payment only: offering an
// older one instead would refund what the customer did not ask about.
func (a *answerer) refundRequest(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
	}
	for _, ch := range charges {
		if ch.Status != stripe.ChargeStatusSucceeded {
			continue
		}
		amount, when := a.money(ch.Amount, ch.Currency), a.day(ch.Created)
		switch {
		// A disputed payment is the bank's to settle: a refund on top
		// would pay the customer twice. Never offered; a person explains.
		case ch.Disputed:
			return a.handoff(a.t(mRefundDisputed, amount, when)), nil
		case ch.Refunded || ch.Amount-ch.AmountRefunded <= 0:
			return said(a.t(mRefundDone, amount, when)), nil
		case !a.e.can("request-refund"):
			return a.handoff(a.t(mRefundNoSelf, amount, when)), nil
		}
		cmd := "request-refund " + ch.ID
		return a.offerYes(a.t(mRefundOffer, amount, when, a.e.cmd(cmd)), cmd), nil
	}
	return a.handoff(a.t(mRefundNone)), nil
}

func (a *answerer) refundStatus(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
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
			return a.handoff(a.t(mNoRefundAgent)), nil
		}
		return said(a.t(mNoRefundAsk, a.e.cmd("request-refund <payment id>"))), nil
	}
	sort.SliceStable(refunds, func(i, j int) bool { return refunds[i].Created > refunds[j].Created })
	r := refunds[0]
	amount, when := a.money(r.Amount, r.Currency), a.day(r.Created)
	switch r.Status {
	case stripe.RefundStatusSucceeded:
		if a.now.Sub(time.Unix(r.Created, 0)) < refundOverdue {
			return said(a.t(mRefundSent, amount, when)), nil
		}
		if r.DestinationDetails != nil && r.DestinationDetails.Card != nil && r.DestinationDetails.Card.Reference != "" {
			return said(a.t(mRefundOverdueRef, amount, when, esc(r.DestinationDetails.Card.Reference))), nil
		}
		return said(a.t(mRefundOverdue, amount, when)), nil
	case stripe.RefundStatusPending, stripe.RefundStatusRequiresAction:
		return said(a.t(mRefundPending, amount, when)), nil
	default:
		return a.handoff(a.t(mRefundFailed, amount, when)), nil
	}
}

func (a *answerer) invoices(ctx context.Context) (answerPart, error) {
	if a.has("receipt") {
		return a.receipt(ctx)
	}
	invs, err := a.invoicesOf(ctx, "")
	if err != nil {
		return answerPart{}, err
	}
	invs = slices.DeleteFunc(invs, func(inv *stripe.Invoice) bool { return inv.Status == stripe.InvoiceStatusDraft })
	title := a.t(mLatestInvoices)
	if m := a.month(); !m.IsZero() {
		invs = slices.DeleteFunc(invs, func(inv *stripe.Invoice) bool { return !inMonth(inv.Created, m) })
		if len(invs) == 0 {
			return said(a.t(mNoInvoicesMonth, monthYear(a.lang, m))), nil
		}
		title = a.t(mInvoicesMonth, monthYear(a.lang, m))
	}
	if len(invs) == 0 {
		return said(a.t(mNoInvoices)), nil
	}
	if len(invs) > 5 {
		invs = invs[:5]
	}
	var b strings.Builder
	b.WriteString(title)
	for _, inv := range invs {
		label := inv.Number
		if label == "" {
			label = inv.ID
		}
		b.WriteString("\n- " + a.t(mInvoiceLine, esc(label), a.money(inv.Total, inv.Currency), a.invoiceStatus(inv), a.day(inv.Created)))
		var links []string
		for _, l := range []string{link(a.t(mLinkView), inv.HostedInvoiceURL), link(a.t(mLinkPDF), inv.InvoicePDF)} {
			if l != "" {
				links = append(links, l)
			}
		}
		if len(links) > 0 {
			b.WriteString(" (" + strings.Join(links, ", ") + ")")
		}
	}
	if a.has("vat") || a.has("tax") {
		b.WriteString("\n\n" + a.t(mTaxInvoice))
		if a.e.can("portal") {
			b.WriteString(" " + a.t(mTaxID, a.e.cmd("portal")))
		}
	}
	return said(b.String()), nil
}

func (a *answerer) invoiceStatus(inv *stripe.Invoice) string {
	switch inv.Status {
	case stripe.InvoiceStatusPaid:
		return a.t(mStatusPaid)
	case stripe.InvoiceStatusOpen:
		return a.t(mStatusOpen)
	case stripe.InvoiceStatusVoid:
		return a.t(mStatusVoid)
	case stripe.InvoiceStatusUncollectible:
		return a.t(mStatusUncollect)
	}
	return a.t(mStatusDraft)
}

func (a *answerer) receipt(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
	}
	m := a.month()
	for _, ch := range charges {
		if ch.Status == stripe.ChargeStatusSucceeded && ch.ReceiptURL != "" && (m.IsZero() || inMonth(ch.Created, m)) {
			return said(a.t(mReceipt, a.money(ch.Amount, ch.Currency), a.day(ch.Created), link(a.t(mLinkReceipt), ch.ReceiptURL))), nil
		}
	}
	return a.handoff(a.t(mNoReceipt)), nil
}

func (a *answerer) balance(ctx context.Context) (answerPart, error) {
	open, err := a.invoicesOf(ctx, "open")
	if err != nil {
		return answerPart{}, err
	}
	cus, err := a.d.Customer(ctx, a.cus)
	if err != nil {
		return answerPart{}, err
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
	var amounts []string
	for _, c := range currencies {
		amounts = append(amounts, "**"+money(a.lang, due[c], c)+"**")
	}
	var b strings.Builder
	if len(amounts) == 0 {
		b.WriteString(a.t(mOweNothing))
	} else {
		b.WriteString(a.t(mOwe, strings.Join(amounts, " + "), fmt.Sprint(len(open))))
		if inv := firstPayable(open); inv != nil {
			b.WriteString(" " + link(a.t(mPayOnlineShort), inv.HostedInvoiceURL) + ".")
		}
	}
	// Stripe's customer balance is negative for credit the customer holds.
	if cus != nil && cus.ID == a.cus && cus.Balance != 0 {
		if cus.Balance < 0 {
			b.WriteString(" " + a.t(mCredit, a.money(-cus.Balance, cus.Currency)))
		} else {
			b.WriteString(" " + a.t(mDebitNext, a.money(cus.Balance, cus.Currency)))
		}
	}
	return said(b.String()), nil
}

func (a *answerer) cancel(ctx context.Context) (answerPart, error) {
	subs, err := a.subscriptions(ctx)
	if err != nil {
		return answerPart{}, err
	}
	if len(subs) == 0 {
		return said(a.t(mNoSubCancel)), nil
	}
	s := subs[0]
	if s.CancelAtPeriodEnd {
		return said(a.t(mAlreadyEnding, a.planName(s), a.day(s.CurrentPeriodEnd))), nil
	}
	if !a.e.can("cancel") {
		return a.handoff(a.t(mCancelAgent, a.planName(s), a.day(s.CurrentPeriodEnd))), nil
	}
	return a.offerYes(a.t(mCancelSelf, a.planName(s), a.day(s.CurrentPeriodEnd), a.e.cmd("cancel")), "cancel"), nil
}

func (a *answerer) changePlan(ctx context.Context) (answerPart, error) {
	subs, err := a.subscriptions(ctx)
	if err != nil {
		return answerPart{}, err
	}
	var b strings.Builder
	if len(subs) > 0 {
		b.WriteString(a.t(mCurrentPlan, a.planName(subs[0])) + " ")
	}
	if !a.e.can("change-plan") {
		b.WriteString(a.t(mChangeAgent))
		return a.handoff(b.String()), nil
	}
	var lines []string
	for _, id := range a.e.opts.Plans {
		if len(lines) == 5 {
			break
		}
		p, err := a.d.Price(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return answerPart{}, ctx.Err()
			}
			continue // a price that cannot be read is left out, not guessed
		}
		if p == nil || !p.Active {
			continue
		}
		lines = append(lines, a.t(mPlanLine, priceName(p), a.money(p.UnitAmount, p.Currency), a.interval(p))+" (`"+esc(p.ID)+"`)")
	}
	if len(lines) > 0 {
		b.WriteString(a.t(mPlansList) + "\n- " + strings.Join(lines, "\n- ") + "\n\n")
	}
	b.WriteString(a.t(mChangeSelf, a.e.cmd("change-plan <price>")))
	return said(b.String()), nil
}

func (a *answerer) interval(p *stripe.Price) string {
	if p.Recurring == nil {
		return ""
	}
	switch p.Recurring.Interval {
	case stripe.PriceRecurringIntervalYear:
		return a.t(mPerYear)
	case stripe.PriceRecurringIntervalWeek:
		return a.t(mPerWeek)
	case stripe.PriceRecurringIntervalDay:
		return a.t(mPerDay)
	}
	return a.t(mPerMonth)
}

func priceName(p *stripe.Price) string {
	if p.Nickname != "" {
		return esc(p.Nickname)
	}
	if p.Product != nil && p.Product.Name != "" {
		return esc(p.Product.Name)
	}
	return esc(p.ID)
}

func (a *answerer) pause(ctx context.Context) (answerPart, error) {
	subs, err := a.subscriptions(ctx)
	if err != nil {
		return answerPart{}, err
	}
	for _, s := range subs {
		if s.PauseCollection != nil {
			text := a.t(mPaused, a.planName(s))
			if s.PauseCollection.ResumesAt > 0 {
				text = a.t(mPausedUntil, a.planName(s), a.day(s.PauseCollection.ResumesAt))
			}
			return a.handoff(text + " " + a.t(mPausedAgent)), nil
		}
	}
	if len(subs) == 0 {
		return said(a.t(mNoSubPause)), nil
	}
	// No self-service command pauses a subscription, so a person decides.
	return a.handoff(a.t(mPauseAgent)), nil
}

func (a *answerer) dispute(ctx context.Context) (answerPart, error) {
	list, err := a.d.Disputes(ctx, a.cus, listLimit)
	if err != nil {
		return answerPart{}, err
	}
	for _, d := range list {
		if d == nil || (d.Charge != nil && !a.ownCustomer(d.Charge.Customer)) {
			continue
		}
		return said(a.t(mDispute, a.money(d.Amount, d.Currency), a.day(d.Created), a.disputeStatus(d.Status))), nil
	}
	return said(a.t(mNoDispute)), nil
}

func (a *answerer) disputeStatus(s stripe.DisputeStatus) string {
	switch s {
	case stripe.DisputeStatusWarningNeedsResponse, stripe.DisputeStatusNeedsResponse:
		return a.t(mDisputeOpen)
	case stripe.DisputeStatusWarningUnderReview, stripe.DisputeStatusUnderReview:
		return a.t(mDisputeReview)
	case stripe.DisputeStatusWon:
		return a.t(mDisputeWon)
	case stripe.DisputeStatusLost:
		return a.t(mDisputeLost)
	}
	return a.t(mDisputeClosed)
}

// billedAfterCancel apologises and hands off: whether the charge was
// right is a person's call, and the handoff note carries the context.
func (a *answerer) billedAfterCancel(ctx context.Context) (answerPart, error) {
	charges, err := a.charges(ctx)
	if err != nil {
		return answerPart{}, err
	}
	for _, ch := range charges {
		if ch.Status == stripe.ChargeStatusSucceeded {
			return a.handoff(a.t(mBilledAfterCancel, a.money(ch.Amount, ch.Currency), a.day(ch.Created))), nil
		}
	}
	return a.handoff(a.t(mBilledAfterCancelNo)), nil
}

func (a *answerer) planName(s *stripe.Subscription) string {
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
	return a.t(mPlanCurrent)
}

// namesSomeoneElse reports whether the message asks about another person:
// an email or customer id that is not the asker's, or a relative's account
// ("my husband's invoice"). The answer is still only about the asker.
func (a *answerer) namesSomeoneElse(ctx context.Context, t *text) (bool, error) {
	for _, c := range t.customers {
		if c != a.cus {
			return true, nil
		}
	}
	if slices.Contains(t.words, "relative") {
		return true, nil
	}
	for i, w := range t.words {
		if (w == "other" || w == "another") && i+1 < len(t.words) && (t.words[i+1] == "customer" || t.words[i+1] == "person") {
			return true, nil
		}
	}
	if len(t.emails) == 0 {
		return false, nil
	}
	cus, err := a.d.Customer(ctx, a.cus)
	if err != nil || cus == nil {
		return false, err
	}
	for _, e := range t.emails {
		if !strings.EqualFold(e, cus.Email) {
			return true, nil
		}
	}
	return false, nil
}

func (e *Engine) cmd(args string) string { return "`" + e.opts.CommandPrefix + " " + args + "`" }

// can reports whether the customer may run the self-service command.
func (e *Engine) can(command string) bool {
	return e.opts.SelfService == nil || e.opts.SelfService(command)
}

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
