package commands

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/database"
)

const selfServiceScenario = `
products:
  - {id: prod_basic, name: Basic}
prices:
  - {id: price_basic, product: prod_basic, unit_amount: 1000, currency: usd, interval: month}
customers:
  - id: cus_alice
    name: Alice Example
    card: {brand: visa, last4: "4242"}
    subscriptions:
      - {id: sub_alice, price: price_basic, age: 10d}
    invoices:
      - {id: in_alice, description: Consulting, amount: 5000, age: 3d, status: paid}
      - {id: in_alice_open, description: Hours, amount: 2000, age: 1d, status: open}
  - id: cus_other
    name: Oscar Other
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_other, description: Secret, amount: 9900, age: 2d, status: paid}
      - {id: in_other_open, description: Secret too, amount: 9900, age: 2d, status: open}
`

// redactions wraps the recording homeserver so redactions are seen too.
type redactions struct {
	*recorder
	mu    sync.Mutex
	paths []string
}

func (r *redactions) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/redact/") {
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.Path)
		r.mu.Unlock()
		_, _ = w.Write([]byte(`{"event_id":"$redaction"}`))
		return
	}
	r.recorder.ServeHTTP(w, req)
}

func (r *redactions) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

type selfEnv struct {
	*refundEnv
	redacted *redactions
	portal   database.Portal
}

func newSelfEnv(t *testing.T) *selfEnv {
	t.Helper()
	proc, rec := newTestProcessor(t)
	red := &redactions{recorder: rec}
	srv := httptest.NewServer(red)
	t.Cleanup(srv.Close)
	hs, _ := url.Parse(srv.URL)
	proc.proc.Client.HomeserverURL = hs
	env := &selfEnv{refundEnv: newStripeEnv(t, proc, rec, selfServiceScenario), redacted: red}
	db := env.db
	if err := db.Account.Upsert(context.Background(), &database.Account{ID: "main", DisplayName: "Main"}); err != nil {
		t.Fatal(err)
	}
	env.portal = *database.NewPortal("main", "cus_alice")
	env.portal.Name, env.portal.RoomID, env.portal.MatrixUserID = "Alice Example", otherRoom, customer
	if err := db.Portal.Upsert(context.Background(), &env.portal); err != nil {
		t.Fatal(err)
	}
	proc.deps.Portal = func(ctx context.Context, room id.RoomID) (*database.Portal, error) {
		return db.Portal.GetByRoom(ctx, room)
	}
	proc.deps.Conversations = db.Portal
	env.chargeIDs(t)
	return env
}

func (env *selfEnv) want(t *testing.T, sender id.UserID, eventID id.EventID, body, want string) string {
	t.Helper()
	got := env.run(t, sender, eventID, body)
	if got == nil || !strings.Contains(got.Body, want) {
		t.Fatalf("%s: reply %+v, want %q", body, got, want)
	}
	return got.Body
}

func TestSelfServicePolicyOff(t *testing.T) {
	env := newSelfEnv(t)
	env.proc.deps.Config.Bridge.SelfService = config.SelfServicePolicy{}
	for i, body := range []string{"!stripe portal", "!stripe pay in_alice_open", "!stripe request-refund " + env.charge, "!stripe unsubscribe"} {
		env.want(t, customer, id.EventID("$off"+string(rune('a'+i))), body, "switched off")
	}
	// Agents are not bound by the customer policy.
	env.want(t, agent, "$agentpay", "!stripe pay in_alice_open", "Pay $20.00 online")
	denied := 0
	for _, e := range env.audit(t) {
		if e.Outcome == database.AuditDenied {
			denied++
		}
	}
	if denied != 2 { // request-refund and unsubscribe are writes
		t.Errorf("%d denied audit entries, want 2", denied)
	}
	if n := len(env.refunds(t)); n != 0 {
		t.Errorf("%d refunds", n)
	}
}

func TestPayOwnershipAndStatus(t *testing.T) {
	env := newSelfEnv(t)
	body := env.want(t, customer, "$p1", "!stripe pay in_alice_open", "Pay $20.00 online")
	if !strings.Contains(env.rec.replies()[len(env.rec.replies())-1].FormattedBody, "https://") {
		t.Errorf("no link in %q", body)
	}
	other := env.want(t, customer, "$p2", "!stripe pay in_other_open", "No such invoice")
	missing := env.want(t, customer, "$p3", "!stripe pay in_doesnotexist", "No such invoice")
	if other != missing {
		t.Errorf("another customer's invoice %q differs from a missing one %q", other, missing)
	}
	env.want(t, customer, "$p4", "!stripe pay in_alice", "nothing to pay")
	env.want(t, customer, "$p5", "!stripe pay "+env.charge, "Usage")
}

func TestPortalLinkIsRedacted(t *testing.T) {
	env := newSelfEnv(t)
	env.proc.deps.Config.Bridge.PortalLinkTTL = "50ms"
	env.want(t, customer, "$portal", "!stripe portal", "remove it from this room")
	last := env.rec.replies()[len(env.rec.replies())-1]
	if !strings.Contains(last.FormattedBody, "https://billing.stripe.com/") {
		t.Fatalf("no portal link in %q", last.FormattedBody)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(env.redacted.list()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := env.redacted.list()
	if len(got) != 1 || !strings.Contains(got[0], "/rooms/"+string(otherRoom)+"/redact/$reply/") {
		t.Fatalf("redactions %v", got)
	}
}

func TestRefundRequestApproveConfirm(t *testing.T) {
	env := newSelfEnv(t)
	other := env.want(t, customer, "$rq0", "!stripe request-refund "+env.other, "No such charge")
	if missing := env.want(t, customer, "$rq00", "!stripe request-refund ch_nothere", "No such"); missing != other {
		t.Errorf("other customer's charge %q vs missing %q", other, missing)
	}
	req := env.want(t, customer, "$rq1", "!stripe request-refund in_alice it broke *twice*", "Refund request")
	if !strings.Contains(req, "@agent:example.com") || !strings.Contains(req, "approve act_") {
		t.Errorf("request does not address the agents: %q", req)
	}
	if env.run(t, customer, "$rq1", "!stripe request-refund in_alice it broke") != nil {
		t.Error("redelivered request was answered again")
	}
	// The customer can neither confirm nor approve their own request.
	env.want(t, customer, "$self", "!stripe confirm "+mustActionID("$rq1"), "waiting for an agent")
	env.want(t, customer, "$self2", "!stripe approve", "permission")
	env.want(t, agent, "$ap1", "!stripe approve", "Refund $50.00")
	env.want(t, agent, "$ap2", "!stripe approve "+mustActionID("$rq1"), "already approved")
	if n := len(env.refunds(t)); n != 0 {
		t.Fatalf("%d refunds before confirmation", n)
	}
	env.want(t, agent, "$cf1", "!stripe confirm", "Refunded $50.00")
	env.want(t, agent, "$cf2", "!stripe confirm "+mustActionID("$ap1"), "nothing more")
	if refunds := env.refunds(t); len(refunds) != 1 || refunds[0].Reason != stripe.RefundReasonRequestedByCustomer {
		t.Fatalf("refunds %+v", refunds)
	}
	var outcomes []string
	for _, e := range env.audit(t) {
		outcomes = append(outcomes, e.Command+":"+string(e.Outcome))
	}
	if !strings.Contains(strings.Join(outcomes, ","), "request-refund:confirm_requested") {
		t.Errorf("request not audited: %v", outcomes)
	}
}

func TestRefundRequestDeny(t *testing.T) {
	env := newSelfEnv(t)
	env.want(t, customer, "$rq", "!stripe request-refund "+env.charge, "Refund request")
	env.want(t, agent, "$d0", "!stripe deny act_000000000000", "no refund request")
	body := env.want(t, agent, "$d1", "!stripe deny outside the refund window", "declined")
	if !strings.Contains(body, string(customer)) || !strings.Contains(body, "outside the refund window") {
		t.Errorf("deny reply %q", body)
	}
	env.want(t, agent, "$d2", "!stripe approve "+mustActionID("$rq"), "already approved or denied")
	if n := len(env.refunds(t)); n != 0 {
		t.Fatalf("denied request refunded %d times", n)
	}
}

func TestUnsubscribeAtPeriodEnd(t *testing.T) {
	env := newSelfEnv(t)
	env.want(t, customer, "$u0", "!stripe unsubscribe", "switched off")
	env.proc.deps.Config.Bridge.SelfService.Cancel = true
	env.want(t, customer, "$u1", "!stripe unsubscribe sub_other", "Usage")
	env.want(t, customer, "$u2", "!stripe unsubscribe", "Cancel subscription")
	env.want(t, customer, "$u3", "!stripe confirm", "will not renew")
	env.want(t, customer, "$u3", "!stripe confirm "+mustActionID("$u2"), "nothing more")
	sub, err := env.fake.Client().Subscriptions.Get("sub_alice", nil)
	if err != nil || !sub.CancelAtPeriodEnd || sub.Status != stripe.SubscriptionStatusActive {
		t.Fatalf("subscription %+v, %v", sub, err)
	}
	env.want(t, customer, "$u4", "!stripe unsubscribe", "already ends")
}

func TestConversationCommands(t *testing.T) {
	env := newSelfEnv(t)
	env.proc.deps.Facts = env.db.Fact
	ctx := context.Background()
	env.want(t, customer, "$a0", "!stripe assign", "permission")
	env.want(t, agent, "$a1", "!stripe assign "+string(customer), "not an agent")
	env.want(t, agent, "$a2", "!stripe assign not-an-mxid", "not a Matrix user ID")
	env.want(t, agent, "$a3", "!stripe assign", "Assigned")
	// Resolved, then the customer is asked the one question.
	env.want(t, agent, "$a4", "!stripe resolve", "Did we solve it?")
	if replies := env.rec.replies(); len(replies) < 2 || !strings.Contains(replies[len(replies)-2].Body, "Marked this conversation resolved") {
		t.Errorf("resolve replies %+v", replies)
	}
	env.want(t, agent, "$a5", "!stripe resolve", "already resolved")
	got, err := env.db.Portal.GetByRoom(ctx, otherRoom)
	if err != nil || got.AssignedAgent != agent || got.ConversationState != database.ConversationResolved || got.MatrixUserID != customer {
		t.Fatalf("portal %+v, %v", got, err)
	}
	env.want(t, agent, "$a6", "!stripe reopen", "Reopened")
	if got, _ = env.db.Portal.GetByRoom(ctx, otherRoom); got.ConversationState != database.ConversationOpen {
		t.Errorf("state %s after reopen", got.ConversationState)
	}
	// The dashboard's facts: the assignment, both state changes and the question.
	facts, err := env.db.Fact.Room(ctx, otherRoom, 10)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range facts {
		kinds = append(kinds, string(f.Kind)+":"+f.Detail)
		if f.Actor != agent || f.CustomerID != "cus_alice" {
			t.Errorf("fact %+v", f)
		}
	}
	if got, want := strings.Join(kinds, " "), "assign:"+string(agent)+" state:resolved csat_asked: state:open"; got != want {
		t.Errorf("facts %q, want %q", got, want)
	}
}

func TestLinkWritesMetadataOnce(t *testing.T) {
	env := newSelfEnv(t)
	env.want(t, customer, "$l0", "!stripe link @bob:example.com", "permission")
	env.want(t, agent, "$l1", "!stripe link bob", "not a valid Matrix user ID")
	env.want(t, agent, "$l2", "!stripe link @bob:example.com", "will be removed")
	if md := env.metadata(t); md["matrix_user_id"] != "" {
		t.Fatalf("metadata written before confirmation: %v", md)
	}
	env.want(t, agent, "$l3", "!stripe confirm", "Linked")
	env.want(t, agent, "$l3", "!stripe confirm "+mustActionID("$l2"), "nothing more")
	env.want(t, agent, "$l4", "!stripe confirm "+mustActionID("$l2"), "nothing more")
	if md := env.metadata(t); md["matrix_user_id"] != "@bob:example.com" {
		t.Fatalf("metadata %v", md)
	}
	if n := env.customerUpdates(t); n != 1 {
		t.Errorf("%d customer updates, want 1", n)
	}
	env.want(t, agent, "$ul1", "!stripe unlink", "Unlink")
	env.want(t, agent, "$ul2", "!stripe confirm", "Unlinked")
	if md := env.metadata(t); md["matrix_user_id"] != "" {
		t.Errorf("metadata after unlink %v", md)
	}
}

func (env *selfEnv) metadata(t *testing.T) map[string]string {
	t.Helper()
	cus, err := env.fake.Client().Customers.Get("cus_alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	return cus.Metadata
}

func (env *selfEnv) customerUpdates(t *testing.T) int {
	t.Helper()
	n := 0
	iter := env.fake.Client().Events.List(&stripe.EventListParams{Type: stripe.String("customer.updated")})
	for iter.Next() {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
