package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
)

const logSecretsScenario = `
account: {id: acct_1LogSecrets, name: Demo Shop}
customers:
  - id: cus_alice
    name: Alice Example
    email: alice@example.com
    metadata: {matrix_user_id: "@alice:localhost"}
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_alice_paid, description: Consulting, amount: 5000, age: 3d, status: paid}
`

// lockedBuffer is the captured log: the bridge writes it from many
// goroutines while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNoSecretInTraceLog runs a flow that puts every kind of secret on the
// wire — signed webhooks, appservice transactions with the hs_token, Matrix
// requests with the as_token, Stripe calls with the API key, a billing-portal
// link posted into the room, a confirmed refund — with the bridge logging at
// trace level through the production logger, then scans the whole log.
func TestNoSecretInTraceLog(t *testing.T) {
	fake := scenarioFake(t, logSecretsScenario)
	logs := &lockedBuffer{}
	// With an encryption device too (rooms stay plain): its login, key
	// uploads and /sync are in the scan, and its stop in the shutdown's.
	s := startStack(t, stackOptions{fake: fake, dbType: "postgres", dbURI: dbtest.PostgresURI(t), logOut: logs, configure: func(cfg *config.Config) {
		cfg.Encryption = config.EncryptionConfig{Allow: true, PickleKey: "the pickle key of the log scan"}
	}})
	bot, ghost := s.cfg.BotMXID(), s.cfg.GhostMXID("main")
	agent := s.user(t, "agent")
	alice := s.user(t, "alice")

	// A signed webhook makes the room.
	room := openCustomerRoom(t, s, fake, "cus_alice", agent, alice)

	// The linked customer asks for a billing-portal link.
	if reply := send(t, alice, room, bot, "!stripe portal"); !strings.Contains(reply, "billing portal") {
		t.Fatalf("portal reply %q", reply)
	}
	portalURLPattern := regexp.MustCompile(`https://billing\.stripe\.com/p/session/[0-9A-Za-z_]+`)
	var portalURL string
	for _, evt := range botReplies(t, alice, room, bot) {
		msg := evt.Content.AsMessage()
		if u := portalURLPattern.FindString(msg.Body + " " + msg.FormattedBody); u != "" {
			portalURL = u
		}
	}
	if portalURL == "" {
		t.Fatal("no billing-portal URL in the bot's reply")
	}

	// An agent refunds with confirmation; the refund's webhook comes back.
	inv, err := fake.Client().Invoices.Get("in_alice_paid", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice charge: %v", err)
	}
	if prompt := send(t, agent, room, bot, "!stripe refund "+inv.Charge.ID+" 20.00"); !strings.Contains(prompt, "confirm") {
		t.Fatalf("refund prompt %q", prompt)
	}
	if done := send(t, agent, room, bot, "!stripe confirm"); !strings.Contains(done, "Refunded $20.00") {
		t.Fatalf("confirm reply %q", done)
	}
	waitForReply(t, agent, room, ghost, "refunded")

	log := logs.String()
	secrets := map[string]string{
		"API key":             s.cfg.Stripe.Accounts[0].APIKey,
		"webhook secret":      webhookSecret,
		"as_token":            s.cfg.AppService.ASToken,
		"hs_token":            s.cfg.AppService.HSToken,
		"billing-portal URL":  portalURL,
		"portal session path": strings.TrimPrefix(portalURL, "https://billing.stripe.com/p/session/"),
	}
	for i, secret := range s.cfg.Secrets() {
		secrets[fmt.Sprintf("config secret %d", i)] = secret
	}
	for name, secret := range secrets {
		if secret == "" {
			t.Errorf("%s is empty: the test would prove nothing", name)
			continue
		}
		if i := strings.Index(log, secret); i >= 0 {
			t.Errorf("the %s reached the log: …%s…", name, log[max(0, i-300):min(len(log), i+len(secret)+100)])
		}
	}

	// The log must really hold the request and transaction lines that carry
	// bodies, or the scan above could pass by logging nothing.
	lines := strings.Split(strings.TrimSpace(log), "\n")
	counts := map[string]int{}
	for _, line := range lines {
		var entry struct {
			Level   string          `json:"level"`
			Message string          `json:"message"`
			ReqBody json.RawMessage `json:"req_body"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("log line is not valid JSON (%v): %s", err, line)
			continue
		}
		if dup := repeatedKeys([]byte(line)); len(dup) > 0 {
			t.Errorf("log line repeats %v: %s", dup, line)
		}
		counts["level "+entry.Level]++
		switch {
		case entry.Message == "Request completed" && len(entry.ReqBody) > 0:
			counts["request with body"]++
		case entry.Message == "Starting handling of transaction" && len(entry.Content) > 0:
			counts["transaction with content"]++
		}
	}
	for _, want := range []string{"level debug", "request with body", "transaction with content"} {
		if counts[want] == 0 {
			t.Errorf("no %s in the log (%v): the scan proves nothing", want, counts)
		}
	}
	// The link was logged, in the bot's request body, and scrubbed there.
	if !strings.Contains(log, "billing.stripe.com/p/session/[redacted]") {
		t.Errorf("the posted billing-portal link does not appear scrubbed in the log")
	}

	// A clean shutdown is not an incident: nothing at warn or above.
	before := len(logs.String())
	s.bridge.Stop()
	shutdown := logs.String()[before:]
	if !strings.Contains(shutdown, "Stopping bridge") {
		t.Fatalf("no shutdown in the log:\n%s", shutdown)
	}
	for _, line := range strings.Split(strings.TrimSpace(shutdown), "\n") {
		var entry struct {
			Level string `json:"level"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err == nil && entry.Level != "trace" && entry.Level != "debug" && entry.Level != "info" {
			t.Errorf("clean shutdown logged at %s: %s", entry.Level, line)
		}
	}
}

// repeatedKeys are the top-level keys a JSON log line holds more than once:
// zerolog appends a field again when a child logger and a call both add it,
// and most log tools then keep only one of the values.
func repeatedKeys(line []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	seen := map[string]bool{}
	var dup []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return dup
		}
		key, _ := tok.(string)
		if seen[key] {
			dup = append(dup, key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return dup
		}
	}
	return dup
}
