package commands

import (
	"context"
	"strings"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/database"
)

func panelRun(t *testing.T, env *refundEnv, req PanelRequest) *PanelResult {
	t.Helper()
	if req.RoomID == "" {
		req.RoomID = otherRoom
	}
	if req.Sender == "" {
		req.Sender = agent
	}
	res, err := env.proc.Panel(context.Background(), &req)
	if err != nil {
		t.Fatalf("%s: %v", req.Command, err)
	}
	return res
}

func TestPanelRefundIsConfirmedInThePanelAndPostedInTheRoom(t *testing.T) {
	env := newRefundEnv(t)
	before := len(env.rec.replies())
	res := panelRun(t, env, PanelRequest{RequestID: "r1", Command: "refund", Args: []string{env.charge, "5"}})
	if res.Status != PanelConfirm || !strings.Contains(res.Summary, "Refund $5.00") || strings.Contains(res.Summary, "**") || res.ExpiresAt == nil {
		t.Fatalf("prepare: %+v", res)
	}
	if n := len(env.rec.replies()) - before; n != 0 {
		t.Fatalf("preparing in the panel posted %d messages in the room", n)
	}
	// The same click retried is the same prepared refund.
	if again := panelRun(t, env, PanelRequest{RequestID: "r1", Command: "refund", Args: []string{env.charge, "5"}}); again.ActionID != res.ActionID || again.Status != PanelConfirm {
		t.Fatalf("retried prepare: %+v, first %+v", again, res)
	}
	done := panelRun(t, env, PanelRequest{RequestID: "r2", Command: "confirm", Args: []string{res.ActionID}})
	if done.Status != PanelDone || len(done.Messages) != 1 || !strings.Contains(done.Messages[0], "Refunded $5.00") {
		t.Fatalf("confirm: %+v", done)
	}
	replies := env.rec.replies()[before:]
	if len(replies) != 1 || !strings.HasPrefix(replies[0].Body, string(agent)+" (agent panel): Refunded $5.00") || replies[0].RelatesTo != nil {
		t.Fatalf("room got %+v", replies)
	}
	if replies[0].Mentions == nil || len(replies[0].Mentions.UserIDs) != 0 {
		t.Errorf("the result should mention no one: %+v", replies[0].Mentions)
	}
	if n := len(env.refunds(t)); n != 1 {
		t.Fatalf("%d refunds", n)
	}
	var ok int
	for _, entry := range env.audit(t) {
		if entry.Command == "refund" && entry.Outcome == database.AuditOK && entry.Actor == agent {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d audited refunds by the agent, want 1", ok)
	}
	if again := panelRun(t, env, PanelRequest{RequestID: "r3", Command: "confirm", Args: []string{res.ActionID}}); again.Status != PanelRefused {
		t.Errorf("second confirmation: %+v", again)
	}
	if n := len(env.refunds(t)); n != 1 {
		t.Fatalf("%d refunds after a second confirmation", n)
	}
}

func TestPanelAndChatRefundOfOneChargeAreOneRefund(t *testing.T) {
	env := newRefundEnv(t)
	if prompt := env.run(t, agent, "$chat", "!stripe refund "+env.charge); prompt == nil || !strings.Contains(prompt.Body, "Refund $50.00") {
		t.Fatalf("chat prompt %+v", prompt)
	}
	res := panelRun(t, env, PanelRequest{RequestID: "p1", Command: "refund", Args: []string{env.charge}})
	if res.Status != PanelConfirm {
		t.Fatalf("panel prepare: %+v", res)
	}
	chatID, _ := actionKeys("$chat")
	chatAction, _ := env.db.PendingAction.Get(context.Background(), chatID)
	panelAction, _ := env.db.PendingAction.Get(context.Background(), res.ActionID)
	if chatAction == nil || panelAction == nil || chatAction.IdempotencyKey != panelAction.IdempotencyKey {
		t.Fatalf("refunds asked of one charge state must share Stripe's idempotency key: %+v / %+v", chatAction, panelAction)
	}
	if got := env.run(t, agent, "$ok", "!stripe confirm "+chatID); got == nil || !strings.Contains(got.Body, "Refunded $50.00") {
		t.Fatalf("chat confirm %+v", got)
	}
	done := panelRun(t, env, PanelRequest{RequestID: "p2", Command: "confirm", Args: []string{res.ActionID}})
	if done.Status != PanelRefused || len(done.Messages) != 1 || !strings.Contains(done.Messages[0], "Nothing more was refunded") {
		t.Fatalf("panel confirm after the chat refund: %+v", done)
	}
	if n := len(env.refunds(t)); n != 1 {
		t.Fatalf("%d refunds of one charge, want 1", n)
	}
}

func TestPanelRefusesWhatChatWouldRefuse(t *testing.T) {
	env := newRefundEnv(t)
	before := len(env.rec.replies())
	cust := panelRun(t, env, PanelRequest{Sender: customer, RequestID: "c1", Command: "refund", Args: []string{env.charge}})
	if cust.Status != PanelRefused || len(cust.Messages) != 1 || !strings.Contains(cust.Messages[0], "permission") {
		t.Errorf("customer: %+v", cust)
	}
	other := panelRun(t, env, PanelRequest{RequestID: "o1", Command: "refund", Args: []string{env.other}})
	if other.Status != PanelRefused || len(other.Messages) != 1 {
		t.Errorf("another customer's charge: %+v", other)
	}
	for _, req := range []PanelRequest{
		{RequestID: "x1", Command: "retry", Args: []string{"evt_1"}},
		{RequestID: "x2", Command: "credit", Args: []string{"5", "a\nb"}},
		{RequestID: "x3", Command: "refund", Args: []string{env.charge + " 5"}},
	} {
		if res := panelRun(t, env, req); res.Status != PanelRefused {
			t.Errorf("%+v: %+v", req, res)
		}
	}
	if n := len(env.rec.replies()) - before; n != 0 {
		t.Errorf("refusals in the panel posted %d messages in the room", n)
	}
	if cancel := panelRun(t, env, PanelRequest{Sender: customer, RequestID: "c2", Command: "cancel-action", Args: []string{"act_nothing"}}); cancel.Status != PanelRefused {
		t.Errorf("cancel of nothing: %+v", cancel)
	}
	if n := len(env.refunds(t)); n != 0 {
		t.Fatalf("refusals refunded %d times", n)
	}
}

func TestPanelCancelWithdrawsThePreparedWrite(t *testing.T) {
	env := newRefundEnv(t)
	res := panelRun(t, env, PanelRequest{RequestID: "r1", Command: "refund", Args: []string{env.charge}})
	if res.Status != PanelConfirm {
		t.Fatalf("prepare: %+v", res)
	}
	if got := panelRun(t, env, PanelRequest{Sender: customer, RequestID: "c", Command: "cancel-action", Args: []string{res.ActionID}}); got.Status != PanelRefused {
		t.Errorf("someone else cancelled: %+v", got)
	}
	if got := panelRun(t, env, PanelRequest{RequestID: "c", Command: "cancel-action", Args: []string{res.ActionID}}); got.Status != PanelDone {
		t.Fatalf("cancel: %+v", got)
	}
	if got := panelRun(t, env, PanelRequest{RequestID: "r2", Command: "confirm", Args: []string{res.ActionID}}); got.Status != PanelRefused {
		t.Errorf("confirm after cancel: %+v", got)
	}
	if n := len(env.refunds(t)); n != 0 {
		t.Fatalf("a cancelled refund refunded %d times", n)
	}
	var cancelled int
	for _, entry := range env.audit(t) {
		if entry.Outcome == database.AuditCancelled && entry.Actor == agent {
			cancelled++
		}
	}
	if cancelled != 1 {
		t.Errorf("%d cancellations audited", cancelled)
	}
}
