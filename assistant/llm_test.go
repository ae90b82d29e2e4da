package assistant

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLLM is a local chat-completions server. respond gets the decoded
// request and the 0-based round and writes the response.
type fakeLLM struct {
	t       *testing.T
	mu      sync.Mutex
	reqs    []llmReq
	headers []http.Header
	respond func(w http.ResponseWriter, req llmReq, round int)
	url     string
}

type llmReq struct {
	Model    string `json:"model"`
	Messages []struct {
		Role       string          `json:"role"`
		Content    *string         `json:"content"`
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  json.RawMessage `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name       string         `json:"name"`
			Parameters map[string]any `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
}

func (f *fakeLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		f.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	var req llmReq
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.t.Errorf("bad request body: %v", err)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.headers = append(f.headers, r.Header.Clone())
	round := len(f.reqs) - 1
	f.mu.Unlock()
	f.respond(w, req, round)
}

func startLLM(t *testing.T, respond func(w http.ResponseWriter, req llmReq, round int)) (*fakeLLM, *Engine) {
	f := &fakeLLM{t: t, respond: respond}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/v1/"
	e := New(Options{LLM: &LLMOptions{BaseURL: srv.URL + "/v1/", Model: "test-model", APIKey: "sk-test-key", Timeout: 5 * time.Second}})
	return f, e
}

func writeText(w http.ResponseWriter, text string) {
	b, _ := json.Marshal(text)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":%s},"finish_reason":"stop"}]}`, b)
}

func writeToolCall(w http.ResponseWriter, id, name string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[`+
		`{"id":%q,"type":"function","function":{"name":%q,"arguments":"{\"customer_id\":\"cus_B\"}"}}]},"finish_reason":"tool_calls"}]}`, id, name)
}

// lastTool returns the content of the tool message answering id.
func lastTool(t *testing.T, req llmReq, id string) string {
	t.Helper()
	for _, m := range req.Messages {
		if m.Role == "tool" && m.ToolCallID == id && m.Content != nil {
			return *m.Content
		}
	}
	t.Fatalf("no tool result for %s in %+v", id, req.Messages)
	return ""
}

func llmAnswer(t *testing.T, e *Engine, d Data, q string) *Result {
	t.Helper()
	res, err := e.Answer(context.Background(), d, "cus_A", q)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	return res
}

func TestLLMToolCallThenReply(t *testing.T) {
	const final = "Your $49.00 payment on 1 Mar 2024 was declined (insufficient funds). Send `!stripe portal` to update your card."
	d := twoCustomers()
	f, e := startLLM(t, func(w http.ResponseWriter, req llmReq, round int) {
		switch round {
		case 0:
			writeToolCall(w, "call_1", "list_recent_payments")
		default:
			got := lastTool(t, req, "call_1")
			for _, want := range []string{"ch_A2", "ch_A1", "insufficient funds", "$49.00"} {
				if !strings.Contains(got, want) {
					t.Errorf("tool result lacks %q: %s", want, got)
				}
			}
			for _, leak := range []string{"ch_B", "cus_B", "123", "€", "expired"} {
				if strings.Contains(got, leak) {
					t.Errorf("tool result leaked %q: %s", leak, got)
				}
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("tool result is not JSON: %s", got)
			}
			writeText(w, final)
		}
	})
	res := llmAnswer(t, e, d, "why did my card get declined?")
	if res.Reply != final || res.Handoff {
		t.Fatalf("got %+v", res)
	}
	rules := answer(t, twoCustomers(), "cus_A", "why did my card get declined?")
	if res.Intent != rules.Intent || res.Confidence != rules.Confidence {
		t.Errorf("intent/confidence not the rules': %+v vs %+v", res, rules)
	}
	if len(f.reqs) != 2 {
		t.Errorf("want 2 requests, got %d", len(f.reqs))
	}
	for id := range d.asked {
		if id != "cus_A" {
			t.Errorf("looked up %s while answering cus_A", id)
		}
	}
}

func TestLLMRequestShape(t *testing.T) {
	f, e := startLLM(t, func(w http.ResponseWriter, req llmReq, round int) { writeText(w, "Hello!") })
	llmAnswer(t, e, twoCustomers(), "when is my next bill")
	if len(f.reqs) != 1 {
		t.Fatalf("want 1 request, got %d", len(f.reqs))
	}
	req, h := f.reqs[0], f.headers[0]
	if req.Model != "test-model" {
		t.Errorf("model %q", req.Model)
	}
	if got := h.Get("Authorization"); got != "Bearer sk-test-key" {
		t.Errorf("authorization %q", got)
	}
	if len(req.Messages) < 2 || req.Messages[0].Role != "system" || req.Messages[len(req.Messages)-1].Role != "user" ||
		*req.Messages[len(req.Messages)-1].Content != "when is my next bill" {
		t.Errorf("messages %+v", req.Messages)
	}
	sys := *req.Messages[0].Content
	for _, want := range []string{HandoffMarker, "!stripe portal", "only from the data"} {
		if !strings.Contains(sys, want) {
			t.Errorf("system prompt lacks %q", want)
		}
	}
	names := map[string]bool{}
	for _, tool := range req.Tools {
		names[tool.Function.Name] = true
		if tool.Type != "function" {
			t.Errorf("tool type %q", tool.Type)
		}
		props, _ := tool.Function.Parameters["properties"].(map[string]any)
		if tool.Function.Parameters["type"] != "object" || len(props) != 0 {
			t.Errorf("%s: tools must take no parameters (the customer is fixed): %v", tool.Function.Name, tool.Function.Parameters)
		}
		for p := range props {
			if strings.Contains(strings.ToLower(p), "customer") {
				t.Errorf("%s accepts %s", tool.Function.Name, p)
			}
		}
	}
	for _, want := range []string{"get_customer_summary", "list_recent_invoices", "get_upcoming_invoice",
		"list_recent_payments", "list_subscriptions", "list_disputes"} {
		if !names[want] {
			t.Errorf("tool %s missing", want)
		}
	}
}

func TestLLMHandoffMarker(t *testing.T) {
	_, e := startLLM(t, func(w http.ResponseWriter, req llmReq, round int) {
		writeText(w, "I'm not sure about that one. [HANDOFF] An agent will reply here.")
	})
	res := llmAnswer(t, e, twoCustomers(), "when is my next bill")
	if !res.Handoff || strings.Contains(res.Reply, "HANDOFF") || !strings.Contains(res.Reply, "An agent will reply here.") {
		t.Fatalf("got %+v", res)
	}
	// A bare marker still gives the customer a sentence.
	_, e = startLLM(t, func(w http.ResponseWriter, req llmReq, round int) { writeText(w, " [HANDOFF] ") })
	res = llmAnswer(t, e, twoCustomers(), "when is my next bill")
	if !res.Handoff || res.Reply != T(LangEN, mHandoff) {
		t.Fatalf("got %+v", res)
	}
	// The rules' handoff stands even if the model answers confidently.
	_, e = startLLM(t, func(w http.ResponseWriter, req llmReq, round int) { writeText(w, "Sure!") })
	res = llmAnswer(t, e, twoCustomers(), "tell me a joke")
	if !res.Handoff {
		t.Fatalf("rules' handoff lost: %+v", res)
	}
}

func TestLLMReplyTruncated(t *testing.T) {
	_, e := startLLM(t, func(w http.ResponseWriter, req llmReq, round int) { writeText(w, strings.Repeat("é", 5000)) })
	res := llmAnswer(t, e, twoCustomers(), "when is my next bill")
	if n := len([]rune(res.Reply)); n > 1500 || n < 1400 {
		t.Fatalf("reply has %d runes", n)
	}
}

func TestLLMFailuresFallBackToRules(t *testing.T) {
	const q = "why did my card get declined?"
	rules := answer(t, twoCustomers(), "cus_A", q)
	cases := map[string]func(w http.ResponseWriter, req llmReq, round int){
		"500": func(w http.ResponseWriter, req llmReq, round int) {
			http.Error(w, "internal error sk-test-key", http.StatusInternalServerError)
		},
		"malformed": func(w http.ResponseWriter, req llmReq, round int) {
			fmt.Fprint(w, `{"choices":[{"message":`)
		},
		"no choices": func(w http.ResponseWriter, req llmReq, round int) { fmt.Fprint(w, `{"choices":[]}`) },
		"empty":      func(w http.ResponseWriter, req llmReq, round int) { writeText(w, "  ") },
		"endless tools": func(w http.ResponseWriter, req llmReq, round int) {
			writeToolCall(w, fmt.Sprintf("call_%d", round), "list_recent_invoices")
		},
		"slow": func(w http.ResponseWriter, req llmReq, round int) {
			time.Sleep(500 * time.Millisecond) // beyond the 100ms timeout below
			writeText(w, "too late")
		},
	}
	for name, respond := range cases {
		f, e := startLLM(t, respond)
		if name == "slow" {
			e.opts.LLM.Timeout = 100 * time.Millisecond
		}
		res := llmAnswer(t, e, twoCustomers(), q)
		if res.Reply != rules.Reply || res.Handoff != rules.Handoff || res.Intent != rules.Intent {
			t.Errorf("%s: want the rule answer, got %+v", name, res)
		}
		if strings.Contains(res.Reply, "sk-test-key") || strings.Contains(res.Reply, "error") {
			t.Errorf("%s: error surfaced: %s", name, res.Reply)
		}
		// The slow case's handler may still be running: read under its lock.
		f.mu.Lock()
		asked := len(f.reqs)
		f.mu.Unlock()
		if asked == 0 {
			t.Errorf("%s: the model was never asked", name)
		}
		if name == "endless tools" && asked != llmMaxRounds {
			t.Errorf("endless tools: %d requests, want %d", asked, llmMaxRounds)
		}
	}
	// Unreachable server.
	e := New(Options{LLM: &LLMOptions{BaseURL: "http://127.0.0.1:1", Model: "m", Timeout: time.Second}})
	if res := llmAnswer(t, e, twoCustomers(), q); res.Reply != rules.Reply {
		t.Errorf("unreachable: %+v", res)
	}
}

func TestLLMUnknownTool(t *testing.T) {
	_, e := startLLM(t, func(w http.ResponseWriter, req llmReq, round int) {
		if round == 0 {
			writeToolCall(w, "call_x", "refund_payment")
			return
		}
		got := lastTool(t, req, "call_x")
		if !strings.Contains(got, "error") || !strings.Contains(got, "unknown tool") {
			t.Errorf("want an error result, got %s", got)
		}
		writeText(w, "I can't do that; send `!stripe request-refund ch_A1` to ask an agent.")
	})
	res := llmAnswer(t, e, twoCustomers(), "refund please")
	if !strings.Contains(res.Reply, "request-refund ch_A1") {
		t.Fatalf("got %+v", res)
	}
}

func TestLLMToolsScopedAndFailSafe(t *testing.T) {
	d := twoCustomers()
	tools := llmTools{a: answerer{e: New(Options{}), d: d, cus: "cus_A"}}
	for _, td := range toolDescriptions {
		got := tools.run(context.Background(), td.name)
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: not JSON: %s", td.name, got)
		}
		for _, leak := range []string{"cus_B", "in_B", "ch_B", "Enterprise", "123", "€", "9 Jun"} {
			if strings.Contains(got, leak) {
				t.Errorf("%s leaked %q: %s", td.name, leak, got)
			}
		}
	}
	// A backend wrongly returning B's objects for A: they are dropped.
	d.charges["cus_A"] = d.charges["cus_B"]
	d.invoices["cus_A"] = d.invoices["cus_B"]
	for _, name := range []string{"list_recent_payments", "list_recent_invoices"} {
		if got := tools.run(context.Background(), name); got != "[]" {
			t.Errorf("%s showed foreign objects: %s", name, got)
		}
	}
	d.err = fmt.Errorf("boom sk_live_secret")
	if got := tools.run(context.Background(), "get_customer_summary"); strings.Contains(got, "boom") || !strings.Contains(got, "error") {
		t.Errorf("stripe error leaked to the model: %s", got)
	}
	for id := range d.asked {
		if id != "cus_A" {
			t.Errorf("looked up %s", id)
		}
	}
}

func TestLLMOffByDefault(t *testing.T) {
	// No LLM options: the rule engine answers and no request is possible.
	res := answer(t, twoCustomers(), "cus_A", "when is my next bill")
	if res.Intent != IntentNextBill || !strings.Contains(res.Reply, "1 Apr 2024") {
		t.Fatalf("got %+v", res)
	}
}
