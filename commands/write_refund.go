package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

const refundUsage = "Usage: `refund <ch_…|pi_…|in_…> [amount] [duplicate|fraudulent|requested_by_customer]` — or reply to a payment message with `refund [amount] [reason]`."

// refundReasons are the reasons Stripe accepts, with the words agents type.
var refundReasons = map[string]string{
	"duplicate":             "duplicate",
	"fraudulent":            "fraudulent",
	"fraud":                 "fraudulent",
	"requested_by_customer": "requested_by_customer",
	"requested":             "requested_by_customer",
	"customer":              "requested_by_customer",
}

// refundParams is what the confirmation stores; amounts are minor units.
type refundParams struct {
	ChargeID        string `json:"charge_id,omitempty"`
	PaymentIntentID string `json:"payment_intent_id,omitempty"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	Reason          string `json:"reason,omitempty"`
	// Refunded is how much of the charge was refunded when the refund was
	// asked for: a confirmation that finds the charge refunded since does
	// nothing (see runRefund).
	Refunded int64 `json:"refunded"`
}

// refundKey is the idempotency key of a refund of amount asked while
// refunded of the charge was already refunded. The same refund asked in
// chat and in the panel, by two agents or on two bridge processes, reaches
// Stripe as one request: the second gets the first's answer, or Stripe's
// idempotency error, never a second refund. The amount is part of it so
// that a refund that failed can be asked again for another amount.
func refundKey(chargeID string, refunded, amount int64) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("matrix-stripe refund\x00%s\x00%d\x00%d", chargeID, refunded, amount)))
	return "mxstripe_refund_" + hex.EncodeToString(sum[:20])
}

func (p *Processor) refundCommands() []*Command {
	p.executors["refund"] = p.runRefund
	return []*Command{{
		Name: "refund", Role: config.RoleAgent, Write: true,
		Args: "<charge|payment_intent|invoice> [amount] [reason]",
		Help: "Refund a payment, fully or in part (asks for confirmation)",
		Func: p.cmdRefund,
	}}
}

// refundable is the charge behind a refund target, with what is left of it.
type refundable struct {
	charge *stripe.Charge
	piID   string
}

// resolveRefundable finds the charge to refund from a charge, payment
// intent or invoice the room's customer owns.
func resolveRefundable(ce *Event, api CustomerAPI, customerID, target string) (*refundable, error) {
	obj, err := Owned(ce.Ctx, api, customerID, target)
	if err != nil {
		return nil, err
	}
	switch o := obj.(type) {
	case *stripe.Charge:
		return &refundable{charge: o}, nil
	case *stripe.PaymentIntent:
		if o.LatestCharge == nil || o.LatestCharge.ID == "" {
			return nil, &targetError{sentence: "That payment has no successful charge to refund."}
		}
		ch, err := api.Charge(ce.Ctx, o.LatestCharge.ID)
		if err != nil {
			return nil, err
		}
		return &refundable{charge: ch, piID: o.ID}, nil
	case *stripe.Invoice:
		if o.Charge == nil || o.Charge.ID == "" {
			return nil, &targetError{sentence: "That invoice has no payment to refund."}
		}
		ch, err := api.Charge(ce.Ctx, o.Charge.ID)
		if err != nil {
			return nil, err
		}
		return &refundable{charge: ch}, nil
	default:
		return nil, &targetError{sentence: refundUsage}
	}
}

// chargeToRefund finds the charge a refund (or refund request) is about:
// the id typed first, else the billing message the command replies to. It
// answers the user itself when there is nothing refundable, and returns the
// remaining arguments.
func chargeToRefund(ce *Event, api CustomerAPI, customerID, usage string, prefixes ...string) (*stripe.Charge, []string, bool) {
	target, args := targetArg(ce, prefixes...)
	if target == "" {
		ce.Reply("%s", usage)
		return nil, nil, false
	}
	ref, err := resolveRefundable(ce, api, customerID, target)
	if err != nil {
		auditTargetRefusal(ce, target, err)
		ce.Reply("%s", errorSentence(err))
		return nil, nil, false
	}
	ch := ref.charge
	if ch.Refunded || ch.Amount-ch.AmountRefunded <= 0 {
		ce.Reply("That payment has already been fully refunded.")
		return nil, nil, false
	}
	// The bank settles a disputed payment; a refund on top would pay twice.
	if ch.Disputed {
		ce.Reply("That payment is disputed with the bank, so it can't be refunded here; the dispute decides what is returned.")
		return nil, nil, false
	}
	return ch, args, true
}

func (p *Processor) cmdRefund(ce *Event) {
	portal, api, ok := roomCustomer(ce)
	if !ok {
		return
	}
	ch, args, ok := chargeToRefund(ce, api, portal.CustomerID, refundUsage, "ch_", "pi_", "in_")
	if !ok {
		return
	}
	left := ch.Amount - ch.AmountRefunded
	if !ch.Paid || ch.Status != stripe.ChargeStatusSucceeded {
		ce.Reply("Only successful payments can be refunded; %s is %s.", code(ch.ID), ch.Status)
		return
	}
	params := refundParams{ChargeID: ch.ID, Amount: left, Currency: string(ch.Currency), Refunded: ch.AmountRefunded}
	if len(args) > 0 {
		if _, isReason := refundReasons[strings.ToLower(args[0])]; !isReason {
			amount, err := stripeapi.ParseAmount(args[0], string(ch.Currency))
			if err != nil {
				ce.Reply("%s %s", err.Error(), refundUsage)
				return
			}
			if amount > left {
				ce.Reply("At most %s of that payment is left to refund.", stripeapi.FormatAmount(left, string(ch.Currency)))
				return
			}
			params.Amount, args = amount, args[1:]
		}
	}
	if len(args) > 0 {
		reason, ok := refundReasons[strings.ToLower(strings.Join(args, "_"))]
		if !ok {
			ce.Reply("%s is not a refund reason. %s", code(strings.Join(args, " ")), refundUsage)
			return
		}
		params.Reason = reason
	}
	// The ceiling applies to what would be refunded, typed or not: a full
	// refund and an approved customer request are checked the same way.
	raw, _ := json.Marshal(params)
	if !p.withinCeiling(ce, "refund", params.Amount, params.Currency, &database.AuditEntry{
		AccountID: portal.AccountID, CustomerID: portal.CustomerID, Command: "refund", TargetObject: ch.ID, Parameters: raw,
	}) {
		return
	}
	summary := fmt.Sprintf("**Refund %s** of the %s payment %s from %s to %s%s.",
		stripeapi.FormatAmount(params.Amount, params.Currency),
		stripeapi.FormatAmount(ch.Amount, string(ch.Currency)),
		code(ch.ID), time.Unix(ch.Created, 0).UTC().Format("2 Jan 2006"), code(portal.Name), reasonSuffix(params.Reason))
	if ch.AmountRefunded > 0 {
		summary += fmt.Sprintf(" %s was already refunded.", stripeapi.FormatAmount(ch.AmountRefunded, string(ch.Currency)))
	}
	p.askKeyedConfirmation(ce, portal, "refund", ch.ID, params, summary, refundKey(ch.ID, ch.AmountRefunded, params.Amount))
}

// errRefundedSince: the charge changed between the question and the answer.
var errRefundedSince = errors.New("charge refunded since the refund was asked for")

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (reason: " + words(reason) + ")"
}

func (p *Processor) runRefund(ce *Event, portal *database.Portal, api CustomerAPI, action *database.PendingAction) (string, string, string, error) {
	var params refundParams
	if err := json.Unmarshal(action.Parameters, &params); err != nil {
		return "Could not read the confirmed refund; nothing was refunded.", "", "", err
	}
	if why := p.overCeiling("refund", params.Amount, params.Currency); why != "" {
		return why + " Nothing was refunded.", params.ChargeID, "", errOverCeiling
	}
	var reply, target, requestID string
	err := p.lockCharge(ce.Ctx, params.ChargeID, func(ctx context.Context) error {
		var err error
		reply, target, requestID, err = p.refundOnce(ce, api, action, params)
		return err
	})
	return reply, target, requestID, err
}

// lockCharge runs fn while no other refund of the charge runs, in this
// process or (on PostgreSQL) any other: the look at what is refunded and
// the refund are one step, so two refunds of other amounts asked of the
// same charge state cannot both go through.
func (p *Processor) lockCharge(ctx context.Context, chargeID string, fn func(ctx context.Context) error) error {
	p.refundMu.Lock()
	defer p.refundMu.Unlock()
	if p.deps.Lock == nil {
		return fn(ctx)
	}
	return p.deps.Lock(ctx, "refund:"+chargeID, fn)
}

func (p *Processor) refundOnce(ce *Event, api CustomerAPI, action *database.PendingAction, params refundParams) (string, string, string, error) {
	if params.ChargeID != "" {
		ch, err := api.Charge(ce.Ctx, params.ChargeID)
		if err != nil {
			return "Nothing was refunded: " + stripeapi.Describe(err), params.ChargeID, "", err
		}
		if ch.AmountRefunded != params.Refunded {
			return fmt.Sprintf("Nothing more was refunded: this payment has been refunded since you asked (%s of it is refunded now). Run %s again if more is due.",
				stripeapi.FormatAmount(ch.AmountRefunded, string(ch.Currency)), code("refund")), params.ChargeID, "", errRefundedSince
		}
	}
	refund, err := api.CreateRefund(ce.Ctx, stripeapi.RefundRequest{
		ChargeID: params.ChargeID, PaymentIntentID: params.PaymentIntentID,
		Amount: params.Amount, Reason: params.Reason, IdempotencyKey: action.IdempotencyKey,
		Metadata: map[string]string{"matrix_user_id": string(ce.Sender), "matrix_room_id": string(ce.RoomID)},
	})
	requestID := ""
	if refund != nil && refund.LastResponse != nil {
		requestID = refund.LastResponse.RequestID
	}
	var stripeErr *stripe.Error
	if errors.As(err, &stripeErr) && stripeErr.Type == stripe.ErrorTypeIdempotency {
		return "Nothing more was refunded: another refund of this payment was confirmed at the same moment.", params.ChargeID, requestID, err
	} else if err != nil {
		return "Nothing was refunded: " + stripeapi.Describe(err), params.ChargeID, requestID, err
	}
	return fmt.Sprintf("Refunded %s (%s, %s). The refund will appear in the timeline when Stripe reports it.",
		stripeapi.FormatAmount(refund.Amount, string(refund.Currency)), code(refund.ID), refund.Status), refund.ID, requestID, nil
}
