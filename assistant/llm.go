package assistant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stripe/stripe-go/v76"

	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// LLMOptions configure the optional LLM mode: an OpenAI-compatible
// chat-completions endpoint that writes the reply, calling only read-only
// tools scoped to the room's customer. The rule engine still classifies and
// is the fallback on any failure.
type LLMOptions struct {
	BaseURL string        // e.g. "https://api.openai.com/v1"; "/chat/completions" is appended
	Model   string        // e.g. "gpt-4o-mini"
	APIKey  string        // sent as a bearer token; never logged or shown
	Timeout time.Duration // for the whole exchange, tool rounds included; 0 means DefaultLLMTimeout
}

const (
	// HandoffMarker is what the model writes when a person should take over;
	// it is stripped from the reply and sets Result.Handoff.
	HandoffMarker = "[HANDOFF]"
	// DefaultLLMTimeout bounds one answer when LLMOptions.Timeout is zero.
	DefaultLLMTimeout = 20 * time.Second

	llmMaxRounds   = 4    // chat-completions requests per answer
	llmMaxReply    = 1500 // characters
	llmMaxResponse = 1 << 20
	llmToolFailed  = `{"error":"lookup failed"}`
)

var errLLM = errors.New("assistant: llm exchange failed")

// llmAnswer asks the model to write the reply. rules is the rule engine's
// result: its intent and confidence are kept, and it is returned unchanged
// whenever the model fails in any way, so no error text reaches the room.
func (e *Engine) llmAnswer(ctx context.Context, data Data, customerID, text string, rules *Result) *Result {
	// Without data nothing can be grounded, and someone asking for a person
	// gets one without a model in between.
	if data == nil || customerID == "" || rules.Intent == IntentHuman {
		return rules
	}
	reply, handoff, err := e.llmReply(ctx, data, customerID, text, rules)
	if err != nil || !e.llmKeepsPolicy(reply, rules) {
		return rules
	}
	if reply == "" {
		reply = T(rules.Lang, mHandoff)
	}
	// The model's reply offers nothing a "yes" could accept: only the rule
	// engine's offers are known to be safe.
	return &Result{Intent: rules.Intent, Intents: rules.Intents, Confidence: rules.Confidence, Lang: rules.Lang,
		Reply: reply, Handoff: handoff || rules.Handoff}
}

// llmKeepsPolicy checks the model's reply against the rules the rule
// engine keeps by construction: no command the self-service policy turns
// off, and no refund command where the rules refused one (a disputed or
// refunded payment). A reply that breaks them is dropped for the rules'.
func (e *Engine) llmKeepsPolicy(reply string, rules *Result) bool {
	prefix := e.opts.CommandPrefix + " "
	for rest := reply; ; {
		i := strings.Index(rest, prefix)
		if i < 0 {
			return true
		}
		rest = rest[i+len(prefix):]
		cmd, _, _ := strings.Cut(rest, " ")
		cmd = strings.TrimRight(cmd, "`.,;:!?)")
		if !e.can(cmd) {
			return false
		}
		if cmd == "request-refund" && !strings.Contains(rules.Reply, prefix+"request-refund") {
			return false
		}
	}
}

func (e *Engine) llmReply(ctx context.Context, data Data, customerID, text string, rules *Result) (string, bool, error) {
	o := e.opts.LLM
	if o.BaseURL == "" || o.Model == "" {
		return "", false, errLLM
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultLLMTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: timeout}
	tools := llmTools{a: answerer{e: e, d: data, cus: customerID, lang: LangEN, now: e.now()}}

	msgs := []chatMessage{
		{Role: "system", Content: strPtr(e.systemPrompt(rules))},
		{Role: "user", Content: strPtr(text)},
	}
	for round := 0; round < llmMaxRounds; round++ {
		msg, err := e.chat(ctx, client, msgs)
		if err != nil {
			return "", false, err
		}
		if len(msg.ToolCalls) == 0 {
			return finishReply(msg.Content)
		}
		msgs = append(msgs, chatMessage{Role: "assistant", Content: msg.Content, ToolCalls: msg.ToolCalls})
		for _, tc := range msg.ToolCalls {
			msgs = append(msgs, chatMessage{Role: "tool", ToolCallID: tc.ID, Content: strPtr(tools.run(ctx, tc.Function.Name))})
		}
		if ctx.Err() != nil {
			return "", false, errLLM
		}
	}
	return "", false, errLLM // still calling tools after the last round
}

// finishReply strips the handoff marker and bounds the length. The model's
// markdown is passed through as written, minus bidi controls and invisible
// characters (usertext.Strip): the model copies names from Stripe data, and
// those may carry them.
func finishReply(content *string) (string, bool, error) {
	if content == nil {
		return "", false, errLLM
	}
	reply := usertext.Strip(*content)
	handoff := strings.Contains(reply, HandoffMarker)
	reply = strings.TrimSpace(strings.ReplaceAll(reply, HandoffMarker, ""))
	if reply == "" {
		if !handoff {
			return "", false, errLLM
		}
		return "", true, nil
	}
	if utf8.RuneCountInString(reply) > llmMaxReply {
		r := []rune(reply)
		reply = strings.TrimSpace(string(r[:llmMaxReply-1])) + "…"
	}
	return reply, handoff, nil
}

func (e *Engine) systemPrompt(rules *Result) string {
	return "You are a billing support assistant in a chat room with one customer. " +
		"Answer only from the data returned by your tools; they show this customer's own Stripe data and nothing else. " +
		"If the tools do not contain the answer, say so rather than guessing. " +
		"You cannot change anything: never promise or claim to refund, cancel, pause, change a plan or update a card. " +
		e.offerableCommands() +
		"Reply in one short message (under 800 characters) with the key facts and the next step. " +
		"If you are unsure, the request needs a person, or the customer asks for one, include " + HandoffMarker +
		" in your reply and say an agent will reply here. " +
		"Write in the customer's language (" + languageNames[rules.Lang] + " unless the customer wrote in another one). " +
		"A rule-based classifier guessed the topic is \"" + string(rules.Intent) + "\"."
}

// offerableCommands tells the model which self-service commands it may
// offer: only the ones the policy allows.
func (e *Engine) offerableCommands() string {
	p := e.opts.CommandPrefix
	var cmds []string
	for _, c := range []struct{ name, usage, what string }{
		{"portal", "portal", "update card or billing details"},
		{"request-refund", "request-refund <payment id>", "ask an agent for a refund"},
		{"cancel", "cancel", "cancel at period end, with confirmation"},
		{"change-plan", "change-plan <price>", "switch plan, with confirmation"},
	} {
		if e.can(c.name) {
			cmds = append(cmds, "`"+p+" "+c.usage+"` ("+c.what+")")
		}
	}
	if len(cmds) == 0 {
		return "There are no self-service commands: for any change, include " + HandoffMarker + " and say an agent will help. "
	}
	return "Instead offer only these self-service commands: " + strings.Join(cmds, ", ") +
		"; for anything else include " + HandoffMarker + " and say an agent will help. "
}

// languageNames name the languages for the model.
var languageNames = map[Lang]string{LangEN: "English", LangDE: "German", LangES: "Spanish", LangFR: "French",
	LangPT: "Portuguese", LangIT: "Italian", LangNL: "Dutch", "": "English"}

// --- wire format (OpenAI chat completions) ---

type chatMessage struct {
	Role       string     `json:"role"`
	Content    *string    `json:"content"`
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type toolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatRequest struct {
	Model    string        `json:"model"`
	Messages []chatMessage `json:"messages"`
	Tools    []toolSpec    `json:"tools"`
}

type chatResponse struct {
	Choices []struct {
		Message chatMessage `json:"message"`
	} `json:"choices"`
}

type toolSpec struct {
	Type     string       `json:"type"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Parameters  map[string]any `json:"parameters"`
}

func strPtr(s string) *string { return &s }

// chat sends one request. Errors carry no response body or key, only a
// sentinel: they are never shown anyway.
func (e *Engine) chat(ctx context.Context, client *http.Client, msgs []chatMessage) (*chatMessage, error) {
	o := e.opts.LLM
	body, err := json.Marshal(chatRequest{Model: o.Model, Messages: msgs, Tools: toolSpecs()})
	if err != nil {
		return nil, errLLM
	}
	url := strings.TrimRight(o.BaseURL, "/") + "/chat/completions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, errLLM
	}
	req.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, errLLM
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, llmMaxResponse))
		return nil, fmt.Errorf("%w: status %d", errLLM, resp.StatusCode)
	}
	var cr chatResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, llmMaxResponse)).Decode(&cr); err != nil {
		return nil, errLLM
	}
	if len(cr.Choices) == 0 {
		return nil, errLLM
	}
	return &cr.Choices[0].Message, nil
}

// --- read-only tools ---

// The tools take no parameters at all: the customer is fixed by the engine,
// so nothing the model writes can point a lookup at another customer.
var toolDescriptions = []struct{ name, desc string }{
	{"get_customer_summary", "The customer's currency and account balance (negative = credit)."},
	{"list_recent_invoices", "The customer's recent invoices: number, status, total, amount remaining, dates, pay link."},
	{"get_upcoming_invoice", "The customer's next bill: amount and date, if any subscription renews."},
	{"list_recent_payments", "The customer's recent payments (charges): amount, status, decline reason, refunds, receipt link."},
	{"list_subscriptions", "The customer's active subscriptions: plan, status, renewal date, cancel/pause state."},
	{"list_disputes", "Bank disputes on the customer's payments: amount, status, date."},
}

func toolSpecs() []toolSpec {
	out := make([]toolSpec, 0, len(toolDescriptions))
	for _, t := range toolDescriptions {
		out = append(out, toolSpec{Type: "function", Function: toolFunction{
			Name: t.name, Description: t.desc,
			Parameters: map[string]any{"type": "object", "properties": map[string]any{}, "additionalProperties": false},
		}})
	}
	return out
}

type llmTools struct{ a answerer }

// run executes one tool and returns its JSON result; unknown names and
// lookup failures become an error object (without Stripe's message).
func (t llmTools) run(ctx context.Context, name string) string {
	var v any
	var err error
	switch name {
	case "get_customer_summary":
		v, err = t.customer(ctx)
	case "list_recent_invoices":
		v, err = t.invoices(ctx)
	case "get_upcoming_invoice":
		v, err = t.upcoming(ctx)
	case "list_recent_payments":
		v, err = t.payments(ctx)
	case "list_subscriptions":
		v, err = t.subscriptions(ctx)
	case "list_disputes":
		v, err = t.disputes(ctx)
	default:
		b, _ := json.Marshal(map[string]string{"error": "unknown tool " + name})
		return string(b)
	}
	if err != nil {
		return llmToolFailed
	}
	b, err := json.Marshal(v)
	if err != nil {
		return llmToolFailed
	}
	return string(b)
}

func amt(amount int64, currency string) string {
	return stripeapi.FormatAmount(amount, currency)
}

func date(unix int64) string {
	if unix == 0 {
		return ""
	}
	return day(LangEN, unix)
}

func (t llmTools) customer(ctx context.Context) (any, error) {
	c, err := t.a.d.Customer(ctx, t.a.cus)
	if err != nil {
		return nil, err
	}
	if c == nil || c.ID != t.a.cus {
		return map[string]any{"found": false}, nil
	}
	out := map[string]any{"currency": string(c.Currency)}
	switch {
	case c.Balance < 0:
		out["credit"] = amt(-c.Balance, string(c.Currency))
	case c.Balance > 0:
		out["added_to_next_invoice"] = amt(c.Balance, string(c.Currency))
	}
	return out, nil
}

type invoiceJSON struct {
	Number          string `json:"number"`
	Status          string `json:"status"`
	Total           string `json:"total"`
	AmountRemaining string `json:"amount_remaining,omitempty"`
	Created         string `json:"created"`
	DueDate         string `json:"due_date,omitempty"`
	PayURL          string `json:"pay_url,omitempty"`
}

func (t llmTools) invoices(ctx context.Context) (any, error) {
	invs, err := t.a.invoicesOf(ctx, "")
	if err != nil {
		return nil, err
	}
	out := []invoiceJSON{}
	for _, inv := range invs {
		label := inv.Number
		if label == "" {
			label = inv.ID
		}
		j := invoiceJSON{Number: label, Status: string(inv.Status), Total: amt(inv.Total, string(inv.Currency)),
			Created: date(inv.Created), DueDate: date(inv.DueDate)}
		if inv.AmountRemaining > 0 {
			j.AmountRemaining = amt(inv.AmountRemaining, string(inv.Currency))
			j.PayURL = inv.HostedInvoiceURL
		}
		out = append(out, j)
	}
	return out, nil
}

func (t llmTools) upcoming(ctx context.Context) (any, error) {
	inv, err := t.a.d.UpcomingInvoice(ctx, t.a.cus)
	if err != nil {
		return nil, err
	}
	if inv == nil || !t.a.ownCustomer(inv.Customer) {
		return map[string]any{"upcoming": false}, nil
	}
	when := inv.NextPaymentAttempt
	if when == 0 {
		when = inv.PeriodEnd
	}
	if when == 0 {
		when = inv.Created
	}
	return map[string]any{"upcoming": true, "amount_due": amt(inv.AmountDue, string(inv.Currency)), "date": date(when)}, nil
}

type paymentJSON struct {
	ID            string       `json:"id"`
	Amount        string       `json:"amount"`
	Status        string       `json:"status"`
	Created       string       `json:"created"`
	DeclineReason string       `json:"decline_reason,omitempty"`
	ReceiptURL    string       `json:"receipt_url,omitempty"`
	Refunds       []refundJSON `json:"refunds,omitempty"`
}

type refundJSON struct {
	Amount  string `json:"amount"`
	Status  string `json:"status"`
	Created string `json:"created"`
}

func (t llmTools) payments(ctx context.Context) (any, error) {
	charges, err := t.a.charges(ctx)
	if err != nil {
		return nil, err
	}
	out := []paymentJSON{}
	for _, ch := range charges {
		j := paymentJSON{ID: ch.ID, Amount: amt(ch.Amount, string(ch.Currency)), Status: string(ch.Status), Created: date(ch.Created)}
		if ch.Status == stripe.ChargeStatusFailed {
			j.DeclineReason = stripeapi.DeclineReason(declineCode(ch))
		} else {
			j.ReceiptURL = ch.ReceiptURL
		}
		if ch.Refunds != nil {
			for _, r := range ch.Refunds.Data {
				if r != nil {
					j.Refunds = append(j.Refunds, refundJSON{Amount: amt(r.Amount, string(r.Currency)), Status: string(r.Status), Created: date(r.Created)})
				}
			}
		}
		out = append(out, j)
	}
	return out, nil
}

type subscriptionJSON struct {
	Plan              string `json:"plan"`
	Status            string `json:"status"`
	CurrentPeriodEnd  string `json:"current_period_end"`
	CancelAtPeriodEnd bool   `json:"cancel_at_period_end,omitempty"`
	Paused            bool   `json:"payments_paused,omitempty"`
	ResumesAt         string `json:"resumes_at,omitempty"`
}

func (t llmTools) subscriptions(ctx context.Context) (any, error) {
	subs, err := t.a.subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	out := []subscriptionJSON{}
	for _, s := range subs {
		j := subscriptionJSON{Plan: rawPlanName(s), Status: string(s.Status), CurrentPeriodEnd: date(s.CurrentPeriodEnd),
			CancelAtPeriodEnd: s.CancelAtPeriodEnd}
		if s.PauseCollection != nil {
			j.Paused, j.ResumesAt = true, date(s.PauseCollection.ResumesAt)
		}
		out = append(out, j)
	}
	return out, nil
}

type disputeJSON struct {
	Amount  string `json:"amount"`
	Status  string `json:"status"`
	Created string `json:"created"`
}

func (t llmTools) disputes(ctx context.Context) (any, error) {
	list, err := t.a.d.Disputes(ctx, t.a.cus, listLimit)
	if err != nil {
		return nil, err
	}
	out := []disputeJSON{}
	for _, d := range list {
		if d == nil || (d.Charge != nil && !t.a.ownCustomer(d.Charge.Customer)) {
			continue
		}
		out = append(out, disputeJSON{Amount: amt(d.Amount, string(d.Currency)), Status: string(d.Status), Created: date(d.Created)})
	}
	return out, nil
}

// rawPlanName is planName without markdown: the tool result is data for
// the model, not text for the room.
func rawPlanName(s *stripe.Subscription) string {
	if s.Items != nil {
		for _, it := range s.Items.Data {
			if it == nil || it.Price == nil {
				continue
			}
			if it.Price.Nickname != "" {
				return it.Price.Nickname
			}
			if it.Price.Product != nil && it.Price.Product.Name != "" {
				return it.Price.Product.Name
			}
		}
	}
	return ""
}
