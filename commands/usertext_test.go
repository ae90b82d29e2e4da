package commands

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
)

// hiddenChars must never reach a room: U+202E (RIGHT-TO-LEFT OVERRIDE)
// reorders everything after it, U+200B (ZERO WIDTH SPACE) hides inside a
// word, U+2066 isolates, U+FEFF and U+00AD are invisible too.
const hiddenChars = "\u202E\u200B\u2066\u2069\uFEFF\u00AD"

// hostileScenario gives customers names, emails and descriptions that carry
// bidi controls and zero-width characters, the way someone can type them
// into a checkout form.
const hostileScenario = `
customers:
  - id: cus_rlo
    name: "\u202EAda\u200B Lovelace\u202C"
    email: "ada\u200B@example.com"
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_rlo, description: "Consult\u00ADing \u2066hours\u2069\uFEFF", amount: 1000, age: 2d, status: paid}
`

// checkClean fails unless the reply, in both bodies, shows each of want
// and none of the hidden characters.
func checkClean(t *testing.T, what string, reply *event.MessageEventContent, want ...string) {
	t.Helper()
	if reply == nil {
		t.Fatalf("%s: no reply", what)
	}
	if strings.ContainsAny(reply.Body, hiddenChars) || strings.ContainsAny(reply.FormattedBody, hiddenChars) {
		t.Errorf("%s keeps a bidi or zero-width character:\n%+q\n%+q", what, reply.Body, reply.FormattedBody)
	}
	for _, w := range want {
		if !strings.Contains(unmark(reply.Body), w) {
			t.Errorf("%s does not show %q: %+q", what, w, reply.Body)
		}
	}
}

func TestReadRepliesStripBidiAndZeroWidth(t *testing.T) {
	env := newReadEnv(t)
	if err := env.fake.LoadScenario(strings.NewReader(hostileScenario)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cmd  string
		want []string
	}{
		{"summary", []string{"Ada Lovelace", "ada@example.com"}},
		{"invoice in_rlo", []string{"Consulting hours"}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			checkClean(t, tt.cmd, env.run(t, "cus_rlo", customerRoom, customer, "!stripe "+tt.cmd), tt.want...)
		})
	}
}

func TestSearchStripsBidiAndZeroWidth(t *testing.T) {
	env := newRefundEnv(t)
	if err := env.fake.LoadScenario(strings.NewReader(hostileScenario)); err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{"Lovelace", "cus_rlo"} {
		env.clock = env.clock.Add(commandRefill) // stay under the rate limit
		before := len(env.rec.replies())
		env.proc.Handle(context.Background(), message(mgmtRoom, agent, "search "+query))
		replies := env.rec.replies()
		if len(replies) == before {
			t.Fatalf("search %s: no reply", query)
		}
		checkClean(t, "search "+query, replies[len(replies)-1], "cus_rlo", "Ada Lovelace", "<ada@example.com>")
	}
}

func TestRefundReasonsStripBidiAndZeroWidth(t *testing.T) {
	env := newSelfEnv(t)
	// The customer's reason, shown to the agents.
	req := env.run(t, customer, "$rq", "!stripe request-refund in_alice charged \u202Etwice\u202C\u200B for one order")
	checkClean(t, "refund request", req, "saying: charged twice for one order")
	// The agent's reason, shown to the customer.
	deny := env.run(t, agent, "$deny", "!stripe deny outside the \u202Ewindow\u2069\uFEFF")
	checkClean(t, "deny", deny, "declined", "Reason: outside the window")
}

func TestRefundReasonSuffix(t *testing.T) {
	tests := map[string]string{
		"":                       "",
		"requested_by_customer":  " (reason: requested by customer)",
		"fraud\u202Eulent\u200B": " (reason: fraudulent)",
	}
	for in, want := range tests {
		if got := reasonSuffix(in); got != want {
			t.Errorf("reasonSuffix(%+q) = %+q, want %+q", in, got, want)
		}
	}
}
