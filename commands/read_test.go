package commands

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/database"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

const (
	customerRoom id.RoomID = "!customer:example.com"
	stranger     id.UserID = "@stranger:example.com"
)

// readEnv is basic.yaml behind a real stripeapi client, plus everything
// each customer owns, to check replies for facts and for leaks.
type readEnv struct {
	*basicFake
	api      CustomerAPI
	secrets  map[string][]string // customer → its name, email, ids, invoice numbers
	invoices map[string][]*stripe.Invoice
	messages map[id.EventID]*database.Message
}

func newReadEnv(t *testing.T) *readEnv {
	t.Helper()
	env := &readEnv{basicFake: newBasicFake(t), secrets: map[string][]string{}, invoices: map[string][]*stripe.Invoice{}}
	env.api = env.basicFake.api
	ctx := context.Background()
	for _, cusID := range []string{"cus_paid", "cus_failed", "cus_trial", "cus_refund", "cus_dispute", "cus_canceled", "cus_credit"} {
		cus, err := env.basicFake.api.Customer(ctx, cusID)
		if err != nil {
			t.Fatal(err)
		}
		s := []string{cus.ID, cus.Name, cus.Email}
		invs, _ := env.basicFake.api.Invoices(ctx, cusID, "", 100)
		env.invoices[cusID] = invs
		for _, inv := range invs {
			s = append(s, inv.ID, inv.Number)
		}
		charges, _ := env.basicFake.api.Charges(ctx, cusID, 100)
		for _, ch := range charges {
			s = append(s, ch.ID, ch.PaymentIntent.ID)
			for _, re := range ch.Refunds.Data {
				s = append(s, re.ID)
			}
		}
		subs, _ := env.fake.Client().Subscriptions.List(&stripe.SubscriptionListParams{Customer: stripe.String(cusID), Status: stripe.String("all")}).SubscriptionList(), error(nil)
		for _, sub := range subs.Data {
			s = append(s, sub.ID)
		}
		disputes, _ := env.basicFake.api.Disputes(ctx, cusID, 100)
		for _, d := range disputes {
			s = append(s, d.ID)
		}
		env.secrets[cusID] = s
	}
	return env
}

// run sends one command as sender in room, which is customerID's room when
// it is customerRoom, and returns the one reply. A fresh processor per
// command keeps the per-user rate limit out of the way.
func (env *readEnv) run(t *testing.T, customerID string, room id.RoomID, sender id.UserID, body string, replyTo ...id.EventID) *event.MessageEventContent {
	t.Helper()
	proc, rec := newTestProcessor(t)
	proc.deps.Portal = func(_ context.Context, r id.RoomID) (*database.Portal, error) {
		if r != customerRoom {
			return nil, nil
		}
		return &database.Portal{AccountID: "main", CustomerID: customerID, RoomID: customerRoom}, nil
	}
	proc.deps.API = func(alias string) CustomerAPI {
		if alias != "main" {
			return nil
		}
		return env.api
	}
	proc.deps.Messages = func(_ context.Context, r id.RoomID, evt id.EventID) (*database.Message, error) {
		if msg := env.messages[evt]; msg != nil && msg.RoomID == r {
			return msg, nil
		}
		return nil, nil
	}
	evt := message(room, sender, body)
	if len(replyTo) > 0 {
		evt.Content.AsMessage().RelatesTo = (&event.RelatesTo{}).SetReplyTo(replyTo[0])
	}
	proc.Handle(context.Background(), evt)
	replies := rec.replies()
	if len(replies) != 1 {
		t.Fatalf("%q: want 1 reply, got %d", body, len(replies))
	}
	if replies[0].MsgType != event.MsgNotice {
		t.Errorf("%q: reply is %s, want m.notice", body, replies[0].MsgType)
	}
	return replies[0]
}

// unmark drops the bold and code marks that the plain-text body keeps from
// the markdown, so tests can state facts as a reader sees them.
func unmark(body string) string {
	return strings.NewReplacer("**", "", "`", "").Replace(body)
}

// noLeaks fails if a reply in customerID's room names anything of another
// customer.
func (env *readEnv) noLeaks(t *testing.T, customerID, body string, reply *event.MessageEventContent) {
	t.Helper()
	for other, secrets := range env.secrets {
		if other == customerID {
			continue
		}
		for _, s := range secrets {
			if s != "" && (strings.Contains(reply.Body, s) || strings.Contains(reply.FormattedBody, s)) {
				t.Errorf("%s: %q in %s's room shows %q of %s:\n%s", customerID, body, customerID, s, other, reply.Body)
			}
		}
	}
}

func TestReadCommandsShowOnlyTheRoomsCustomer(t *testing.T) {
	env := newReadEnv(t)
	for customerID := range env.secrets {
		commands := []string{
			"summary", "invoices", "invoices all 20", "invoices paid", "invoices open 3", "upcoming",
			"subscriptions", "payments", "payments 20", "why", "refunds", "disputes",
		}
		for _, inv := range env.invoices[customerID] {
			commands = append(commands, "invoice "+inv.ID, "invoice "+inv.Number)
		}
		for _, cmd := range commands {
			reply := env.run(t, customerID, customerRoom, customer, "!stripe "+cmd)
			env.noLeaks(t, customerID, cmd, reply)
			if strings.Contains(reply.Body, "Something went wrong") || strings.Contains(reply.Body, "Usage") {
				t.Errorf("%s: %q failed: %s", customerID, cmd, reply.Body)
			}
		}
	}
}

func TestReadCommandFacts(t *testing.T) {
	env := newReadEnv(t)
	failedOpen := ""
	for _, inv := range env.invoices["cus_failed"] {
		if inv.Status == stripe.InvoiceStatusOpen {
			failedOpen = inv.ID
		}
	}
	paulaNumber := env.invoices["cus_paid"][0].Number
	tests := []struct {
		customer, cmd string
		want          []string // substrings of the plain-text body
	}{
		{"cus_paid", "summary", []string{"Paula Paid", "paula@example.com", "Visa •••• 4242, expires", "$10.00 / month, active, renews", "Open invoices: none", "Last payment: $10.00"}},
		{"cus_credit", "summary", []string{"Chris Credit", "credit (taken off the next invoice)"}},
		{"cus_failed", "summary", []string{"Fred Failed", "Open invoices: 1, $25.00 due", "past due", "failed"}},
		{"cus_failed", "invoices", []string{"Open invoices", failedOpen, "$25.00 due", "Pay"}},
		{"cus_paid", "invoices paid 2", []string{"Paid invoices", "$10.00", "paid"}},
		{"cus_paid", "invoices open", []string{"No open invoices."}},
		{"cus_refund", "invoice in_refunded", []string{"Invoice", "in_refunded", "paid", "$50.00", "Consulting", "View online", "PDF"}},
		{"cus_paid", "invoice " + strings.ToLower(paulaNumber), []string{paulaNumber, "$10.00"}},
		{"cus_failed", "invoice " + failedOpen, []string{"open", "$25.00 due", "Pay online"}},
		{"cus_paid", "upcoming", []string{"Next invoice: $10.00 on"}},
		{"cus_refund", "upcoming", []string{"No upcoming invoice"}},
		{"cus_trial", "subscriptions", []string{"sub_trial", "trialing, trial ends"}},
		{"cus_canceled", "subscriptions", []string{"No active subscriptions."}},
		{"cus_failed", "payments", []string{"failed: the card was declined by the bank", "Visa •••• 0002"}},
		{"cus_refund", "payments", []string{"$50.00", "$20.00 refunded"}},
		{"cus_dispute", "payments 1", []string{"$120.00", "disputed"}},
		{"cus_failed", "why", []string{"The payment of $25.00", "failed because the card was declined by the bank", "Try another card", "$25.00 is still due", "Pay it online"}},
		{"cus_paid", "why", []string{"No failed payments"}},
		{"cus_refund", "refunds", []string{"$20.00 on", "of the $50.00 payment", "succeeded", "requested by customer"}},
		{"cus_paid", "refunds", []string{"No refunds."}},
		{"cus_dispute", "disputes", []string{"$120.00 opened", "fraudulent", "needs response", "response due"}},
		{"cus_paid", "disputes", []string{"No disputes."}},
	}
	for _, tt := range tests {
		t.Run(tt.customer+" "+tt.cmd, func(t *testing.T) {
			reply := env.run(t, tt.customer, customerRoom, customer, "!stripe "+tt.cmd)
			for _, want := range tt.want {
				if !strings.Contains(unmark(reply.Body), want) {
					t.Errorf("reply does not contain %q:\n%s", want, reply.Body)
				}
			}
			env.noLeaks(t, tt.customer, tt.cmd, reply)
		})
	}
	// The pay link is a real link in the HTML.
	reply := env.run(t, "cus_failed", customerRoom, customer, "!stripe why")
	if !strings.Contains(reply.FormattedBody, `href="https://invoice.stripe.com/`) {
		t.Errorf("no pay link in %q", reply.FormattedBody)
	}
}

// TestForeignInvoiceLooksMissing: an invoice id of another customer gets
// exactly the answer an id that does not exist gets, in every form a
// customer can ask.
func TestForeignInvoiceLooksMissing(t *testing.T) {
	env := newReadEnv(t)
	env.messages = map[id.EventID]*database.Message{
		"$foreign": {RoomID: customerRoom, MatrixEventID: "$foreign", StripeObjectID: "in_disputed"},
		"$missing": {RoomID: customerRoom, MatrixEventID: "$missing", StripeObjectID: "in_doesnotexist"},
		"$own":     {RoomID: customerRoom, MatrixEventID: "$own", StripeObjectID: "in_refunded"},
	}
	foreignNumber := env.invoices["cus_dispute"][0].Number
	missing := env.run(t, "cus_refund", customerRoom, customer, "!stripe invoice in_doesnotexist")
	if missing.Body != "No such invoice for this customer." {
		t.Errorf("missing invoice: %q", missing.Body)
	}
	for _, tt := range []struct {
		body    string
		replyTo id.EventID
	}{
		{"!stripe invoice in_disputed", ""},
		{"!stripe invoice " + foreignNumber, ""},
		{"!stripe invoice NOPE-0001", ""},
		{"!stripe invoice", "$foreign"},
		{"!stripe invoice", "$missing"},
	} {
		var reply *event.MessageEventContent
		if tt.replyTo != "" {
			reply = env.run(t, "cus_refund", customerRoom, customer, tt.body, tt.replyTo)
		} else {
			reply = env.run(t, "cus_refund", customerRoom, customer, tt.body)
		}
		if reply.Body != missing.Body || reply.FormattedBody != missing.FormattedBody {
			t.Errorf("%q (reply to %q) = %q, want exactly %q", tt.body, tt.replyTo, reply.Body, missing.Body)
		}
	}
	own := env.run(t, "cus_refund", customerRoom, customer, "!stripe invoice", "$own")
	if !strings.Contains(own.Body, "in_refunded") || !strings.Contains(own.Body, "$50.00") {
		t.Errorf("reply to own invoice message: %q", own.Body)
	}
}

func TestReadCommandRefusals(t *testing.T) {
	env := newReadEnv(t)
	tests := []struct {
		name   string
		room   id.RoomID
		sender id.UserID
		body   string
		want   string // the reply's plain-text body, or its start
	}{
		{"no role", customerRoom, stranger, "!stripe summary", "You don't have permission to use summary."},
		{"no role, with an id", customerRoom, stranger, "!stripe invoice in_refunded", "You don't have permission to use invoice."},
		{"agent may read", customerRoom, agent, "!stripe summary", "Rita Refund"},
		{"outside a customer room", otherRoom, customer, "!stripe summary", notCustomerRoom},
		{"management room", mgmtRoom, agent, "invoices", notCustomerRoom},
		{"bad status", customerRoom, customer, "!stripe invoices unpaid", "Usage: !stripe invoices [open|paid|all] [n]."},
		{"too many", customerRoom, customer, "!stripe invoices 50", "Usage: !stripe invoices [open|paid|all] [n]. n is a number from 1 to 20."},
		{"payments zero", customerRoom, customer, "!stripe payments 0", "Usage: !stripe payments [n]."},
		{"extra argument", customerRoom, customer, "!stripe summary please", "Usage: !stripe summary. It takes no arguments."},
		{"invoice without id", customerRoom, customer, "!stripe invoice", "Usage: !stripe invoice <id|number>."},
		{"invoice with a charge id", customerRoom, customer, "!stripe invoice ch_123", "Usage: !stripe invoice <id|number>."},
		{"invoice with junk", customerRoom, customer, "!stripe invoice <b>x</b>", "Usage: !stripe invoice <id|number>."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := env.run(t, "cus_refund", tt.room, tt.sender, tt.body)
			if !strings.HasPrefix(unmark(reply.Body), tt.want) {
				t.Errorf("reply %q, want it to start with %q", reply.Body, tt.want)
			}
			if strings.Contains(reply.FormattedBody, "<b>") {
				t.Errorf("user input reached the HTML: %q", reply.FormattedBody)
			}
		})
	}
}

func TestReadCommandsEscapeStripeText(t *testing.T) {
	env := newReadEnv(t)
	const scenario = `
customers:
  - id: cus_evil
    name: "<script>alert(1)</script> *bold* [x](https://evil.example)"
    email: "<img src=x>@example.com"
    card: {brand: visa, last4: "4242"}
    invoices:
      - {id: in_evil, description: "**Hardware** <b>now</b>", amount: 1000, age: 2d, status: paid}
`
	if err := env.fake.LoadScenario(strings.NewReader(scenario)); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"summary", "invoice in_evil"} {
		reply := env.run(t, "cus_evil", customerRoom, customer, "!stripe "+cmd)
		for _, bad := range []string{"<script", "<img", "<b>", "<em>", "<strong>bold", "<strong>Hardware", "evil.example\""} {
			if strings.Contains(reply.FormattedBody, bad) {
				t.Errorf("%s: HTML contains %q: %s", cmd, bad, reply.FormattedBody)
			}
		}
		env.noLeaks(t, "cus_evil", cmd, reply)
	}
	summary := env.run(t, "cus_evil", customerRoom, customer, "!stripe summary")
	if !strings.Contains(summary.Body, "<script>alert(1)</script> *bold* [x](https://evil.example)") {
		t.Errorf("the name should read as typed in plain text: %q", summary.Body)
	}
}

func TestReadCommandStripeFailures(t *testing.T) {
	env := newReadEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"boom at sk_test_secret"}}`))
	}))
	defer srv.Close()
	zero := int64(0)
	env.api = stripeapi.New(stripeapi.Options{Alias: "main", Key: "sk_test_secret", URL: srv.URL, MaxNetworkRetries: &zero, Log: zerolog.Nop()})
	for _, cmd := range []string{"summary", "invoices", "invoice in_1", "invoice ABC-0001", "upcoming", "subscriptions", "payments", "why", "refunds", "disputes"} {
		reply := env.run(t, "cus_refund", customerRoom, customer, "!stripe "+cmd)
		if reply.Body != "Stripe had a temporary problem; try again in a moment." {
			t.Errorf("%s: %q", cmd, reply.Body)
		}
	}
	// A room whose account is no longer configured.
	env.api = nil
	proc, rec := newTestProcessor(t)
	proc.deps.Portal = func(context.Context, id.RoomID) (*database.Portal, error) {
		return &database.Portal{AccountID: "gone", CustomerID: "cus_refund"}, nil
	}
	proc.deps.API = func(string) CustomerAPI { return nil }
	proc.Handle(context.Background(), message(customerRoom, customer, "!stripe summary"))
	if r := rec.replies(); len(r) != 1 || !strings.Contains(r[0].Body, "not configured") {
		t.Errorf("unconfigured account: %+v", r)
	}
}

func TestHelpListsReadCommandsForCustomers(t *testing.T) {
	env := newReadEnv(t)
	reply := env.run(t, "cus_paid", customerRoom, customer, "!stripe help")
	for _, name := range []string{"summary", "invoices [open|paid|all] [n]", "invoice <id|number>", "upcoming", "subscriptions", "payments [n]", "why", "refunds", "disputes"} {
		if !strings.Contains(reply.Body, "!stripe "+name) {
			t.Errorf("help does not list %q:\n%s", name, reply.Body)
		}
	}
}

// leakyAPI lists another customer's objects whatever customer it is asked
// about, as an ignored filter parameter would.
type leakyAPI struct {
	CustomerAPI
	victim string
}

func (l leakyAPI) Invoices(ctx context.Context, _, status string, limit int) ([]*stripe.Invoice, error) {
	return l.CustomerAPI.Invoices(ctx, l.victim, status, limit)
}
func (l leakyAPI) Charges(ctx context.Context, _ string, limit int) ([]*stripe.Charge, error) {
	return l.CustomerAPI.Charges(ctx, l.victim, limit)
}
func (l leakyAPI) Subscriptions(ctx context.Context, _ string) ([]*stripe.Subscription, error) {
	return l.CustomerAPI.Subscriptions(ctx, l.victim)
}
func (l leakyAPI) Disputes(ctx context.Context, _ string, limit int) ([]*stripe.Dispute, error) {
	return l.CustomerAPI.Disputes(ctx, l.victim, limit)
}
func (l leakyAPI) UpcomingInvoice(ctx context.Context, _ string) (*stripe.Invoice, error) {
	return l.CustomerAPI.UpcomingInvoice(ctx, l.victim)
}

func TestListsFailClosed(t *testing.T) {
	env := newReadEnv(t)
	for _, victim := range []string{"cus_dispute", "cus_failed", "cus_refund"} {
		env.api = leakyAPI{CustomerAPI: env.basicFake.api, victim: victim}
		for _, cmd := range []string{"summary", "invoices", "invoices all 20", "upcoming", "subscriptions", "payments 20", "why", "refunds", "disputes", "invoice " + env.invoices[victim][0].Number} {
			reply := env.run(t, "cus_trial", customerRoom, customer, "!stripe "+cmd)
			env.noLeaks(t, "cus_trial", cmd, reply)
		}
	}
}
