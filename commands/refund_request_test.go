package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
)

// twoPaymentsScenario gives cus_alice two paid invoices of different amounts,
// so two refund requests can be told apart by what they are for.
const twoPaymentsScenario = `
customers:
  - id: cus_alice
    name: Alice Example
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_first, description: Consulting, amount: 5000, age: 3d, status: paid}
      - {id: in_second, description: Hosting, amount: 1200, age: 2d, status: paid}
`

// sentEvents is a homeserver that gives every sent message its own event id
// ($sent1, $sent2, …), so a reply can point at one notice among several.
type sentEvents struct {
	rec *recorder
	mu  sync.Mutex
	ids []id.EventID
}

func (s *sentEvents) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/send/m.room.message/") {
		http.Error(w, `{"errcode":"M_UNRECOGNIZED"}`, http.StatusNotFound)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var content event.MessageEventContent
	if err := json.Unmarshal(body, &content); err != nil {
		http.Error(w, `{"errcode":"M_BAD_JSON"}`, http.StatusBadRequest)
		return
	}
	s.rec.mu.Lock()
	s.rec.sent = append(s.rec.sent, &content)
	s.rec.mu.Unlock()
	s.mu.Lock()
	evtID := id.EventID(fmt.Sprintf("$sent%d", len(s.ids)+1))
	s.ids = append(s.ids, evtID)
	s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]string{"event_id": string(evtID)})
}

// last is the event id of the newest message sent.
func (s *sentEvents) last() id.EventID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[len(s.ids)-1]
}

type requestEnv struct {
	*refundEnv
	hs      *sentEvents
	charges map[string]string // invoice id → charge id
}

func newRequestEnv(t *testing.T) *requestEnv {
	t.Helper()
	proc, rec := newTestProcessor(t)
	hs := &sentEvents{rec: rec}
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	hsURL, _ := url.Parse(srv.URL)
	proc.proc.Client.HomeserverURL = hsURL
	env := &requestEnv{refundEnv: newStripeEnv(t, proc, rec, twoPaymentsScenario), hs: hs, charges: map[string]string{}}
	for _, invoice := range []string{"in_first", "in_second"} {
		inv, err := env.fake.Client().Invoices.Get(invoice, nil)
		if err != nil || inv.Charge == nil {
			t.Fatalf("%s: %v", invoice, err)
		}
		env.charges[invoice] = inv.Charge.ID
	}
	return env
}

// ask files a customer's refund request and returns its notice's event id.
func (env *requestEnv) ask(t *testing.T, evt id.EventID, invoice string) id.EventID {
	t.Helper()
	got := env.run(t, customer, evt, "!stripe request-refund "+invoice)
	if got == nil || !strings.Contains(got.Body, "Refund request") {
		t.Fatalf("request %s: %+v", invoice, got)
	}
	// Requests are a second apart, as people send them.
	env.clock = env.clock.Add(time.Second)
	return env.hs.last()
}

// reply is a command event that replies (Matrix reply) to another event.
func (env *requestEnv) reply(t *testing.T, sender id.UserID, evt, to id.EventID, body string) *event.MessageEventContent {
	t.Helper()
	before := len(env.rec.replies())
	msg := message(otherRoom, sender, body)
	msg.ID = evt
	msg.Content.AsMessage().RelatesTo = (&event.RelatesTo{}).SetReplyTo(to)
	env.proc.Handle(context.Background(), msg)
	replies := env.rec.replies()
	if len(replies) == before {
		return nil
	}
	return replies[len(replies)-1]
}

func (env *requestEnv) state(t *testing.T, requestEvt id.EventID) database.PendingActionState {
	t.Helper()
	action, err := env.db.PendingAction.Get(context.Background(), mustActionID(requestEvt))
	if err != nil || action == nil {
		t.Fatalf("request %s: %v %v", requestEvt, action, err)
	}
	return action.State
}

func TestBareApproveWithOneRequest(t *testing.T) {
	for _, verb := range []string{"approve", "deny"} {
		t.Run(verb, func(t *testing.T) {
			env := newRequestEnv(t)
			env.ask(t, "$rq", "in_first")
			got := env.run(t, agent, "$a", "!stripe "+verb)
			want := map[string]string{"approve": "Refund $50.00", "deny": "was declined"}[verb]
			if got == nil || !strings.Contains(got.Body, want) {
				t.Fatalf("bare %s: %+v, want %q", verb, got, want)
			}
			if env.state(t, "$rq") == database.ActionPending {
				t.Error("the only request was not resolved")
			}
		})
	}
}

func TestBareApproveWithSeveralRequestsAsks(t *testing.T) {
	for _, verb := range []string{"approve", "deny", "deny too late"} {
		t.Run(verb, func(t *testing.T) {
			env := newRequestEnv(t)
			env.ask(t, "$rq1", "in_first")
			env.ask(t, "$rq2", "in_second")
			got := env.run(t, agent, "$a", "!stripe "+verb)
			if got == nil {
				t.Fatal("no reply")
			}
			for _, want := range []string{
				"2 refund requests are waiting here",
				mustActionID("$rq1"), "$50.00", env.charges["in_first"],
				mustActionID("$rq2"), "$12.00", env.charges["in_second"],
				"!stripe approve act_…", "!stripe deny act_… [reason]",
			} {
				if !strings.Contains(got.Body, want) {
					t.Errorf("list lacks %q: %q", want, got.Body)
				}
			}
			for _, evt := range []id.EventID{"$rq1", "$rq2"} {
				if state := env.state(t, evt); state != database.ActionPending {
					t.Errorf("bare %s resolved %s: %s", verb, evt, state)
				}
			}
			if n := len(env.refunds(t)); n != 0 || env.stored(t, "$a") {
				t.Errorf("bare %s prepared a refund", verb)
			}
		})
	}
}

func TestApproveByReplyToRequestNotice(t *testing.T) {
	env := newRequestEnv(t)
	first := env.ask(t, "$rq1", "in_first")
	env.ask(t, "$rq2", "in_second")
	// Replying to the older notice means that request, not the newest one.
	got := env.reply(t, agent, "$a1", first, "!stripe approve")
	if got == nil || !strings.Contains(got.Body, "Refund $50.00") || !strings.Contains(got.Body, env.charges["in_first"]) {
		t.Fatalf("approve by reply: %+v", got)
	}
	if env.state(t, "$rq1") != database.ActionConfirmed || env.state(t, "$rq2") != database.ActionPending {
		t.Errorf("states %s / %s", env.state(t, "$rq1"), env.state(t, "$rq2"))
	}
	// Replying to it again finds the same, now handled, request.
	if got = env.reply(t, agent, "$a2", first, "!stripe deny"); got == nil || !strings.Contains(got.Body, "already approved or denied") {
		t.Errorf("second reply: %+v", got)
	}
	// A reply to something that is no request notice does not pick one: with
	// one request left, that one is meant.
	if got = env.reply(t, agent, "$d1", "$someothermessage", "!stripe deny not eligible"); got == nil || !strings.Contains(got.Body, "declined") ||
		!strings.Contains(got.Body, "$12.00") || !strings.Contains(got.Body, "not eligible") {
		t.Errorf("deny with a reply to another message: %+v", got)
	}
}

func TestApproveByReplyToOtherMessageWithSeveralAsks(t *testing.T) {
	env := newRequestEnv(t)
	env.ask(t, "$rq1", "in_first")
	env.ask(t, "$rq2", "in_second")
	got := env.reply(t, agent, "$a", "$billingmessage", "!stripe approve")
	if got == nil || !strings.Contains(got.Body, "2 refund requests are waiting here") {
		t.Fatalf("reply to a non-request: %+v", got)
	}
	if env.state(t, "$rq1") != database.ActionPending || env.state(t, "$rq2") != database.ActionPending {
		t.Error("a request was resolved by guessing")
	}
}

func TestRefundRequestNoticeMentionsAgents(t *testing.T) {
	env := newRequestEnv(t)
	env.ask(t, "$rq", "in_first")
	notice := env.rec.replies()[len(env.rec.replies())-1]
	const pill = `<a href="https://matrix.to/#/@agent:example.com">@agent:example.com</a>`
	if notice.MsgType != event.MsgText {
		t.Errorf("notice is %s; m.notice is silenced by .m.rule.suppress_notices", notice.MsgType)
	}
	if notice.Mentions == nil || len(notice.Mentions.UserIDs) != 1 || notice.Mentions.UserIDs[0] != agent {
		t.Errorf("m.mentions %+v", notice.Mentions)
	}
	if !strings.Contains(notice.FormattedBody, pill) {
		t.Errorf("formatted body has no pill for the agent: %q", notice.FormattedBody)
	}
	if !strings.Contains(notice.Body, string(agent)) {
		t.Errorf("body does not name the agent: %q", notice.Body)
	}
	if strings.Contains(notice.Body, string(refundRequestQueue)) {
		t.Errorf("notice shows the internal queue id: %q", notice.Body)
	}

	got := env.run(t, agent, "$d", "!stripe deny")
	const customerPill = `<a href="https://matrix.to/#/@customer:example.com">@customer:example.com</a>`
	if got == nil || got.MsgType != event.MsgText || !strings.Contains(got.FormattedBody, customerPill) ||
		got.Mentions == nil || len(got.Mentions.UserIDs) != 1 || got.Mentions.UserIDs[0] != customer {
		t.Errorf("denial does not notify the customer: %+v", got)
	}
}

func TestRefundRequestConfirmReply(t *testing.T) {
	env := newRequestEnv(t)
	env.ask(t, "$rq", "in_first")
	action, err := env.db.PendingAction.Get(context.Background(), mustActionID("$rq"))
	if err != nil || action == nil {
		t.Fatal(action, err)
	}
	cases := []struct {
		sender id.UserID
		want   string
	}{
		{agent, "That is a customer's refund request, not a confirmation: send `!stripe approve " + action.ID +
			"` to start the refund, or `!stripe deny " + action.ID + " [reason]` to turn it down."},
		{customer, "Your refund request is waiting for an agent, who will approve or decline it here; there is nothing for you to confirm."},
	}
	for _, c := range cases {
		ce := &Event{Event: message(otherRoom, c.sender, "!stripe confirm "+action.ID), Ctx: context.Background()}
		if got := env.proc.refundRequestConfirmReply(ce, action); got != c.want {
			t.Errorf("%s: %q, want %q", c.sender, got, c.want)
		}
	}
}

func TestDurationWords(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{time.Minute, "1 minute"},
		{5 * time.Minute, "5 minutes"},
		{10 * time.Minute, "10 minutes"},
		{90 * time.Minute, "90 minutes"},
		{time.Hour, "1 hour"},
		{24 * time.Hour, "24 hours"},
		{time.Second, "1 second"},
		{90 * time.Second, "90 seconds"},
		{50 * time.Millisecond, "1 second"},
	}
	for _, c := range cases {
		if got := durationWords(c.d); got != c.want {
			t.Errorf("durationWords(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestPortalLinkSaysWhenItGoes(t *testing.T) {
	env := newSelfEnv(t)
	env.proc.deps.Config.Bridge.PortalLinkTTL = "1m"
	body := env.want(t, customer, "$portal", "!stripe portal", "remove it from this room")
	if !strings.Contains(body, "I'll remove it from this room in 1 minute.") {
		t.Errorf("portal link reply %q", body)
	}
}
