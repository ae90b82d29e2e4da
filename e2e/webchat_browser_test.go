package e2e

// The web chat widget in headless Chromium against the real bridge,
// Dendrite and the fake Stripe: a merchant's billing page (an httptest
// server whose origin is the account's allowed origin) embeds the widget
// from the bridge, with a token its backend signs on every page view.

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/browsertest"
	"github.com/matrix-stripe/matrix-stripe/internal/dbtest"
	"github.com/matrix-stripe/matrix-stripe/internal/stripefake"
)

// browserWait is how long the browser tests wait for the widget: through
// the webhook, the homeserver and the assistant, more than the fake API's.
const browserWait = 30 * time.Second

// billingHost is the merchant's billing page. GET /?customer=cus_…
// signs a fresh token for that customer, as the merchant's backend does
// for its signed-in user; &token=forged signs it with another secret,
// &token=expired makes one that has expired.
type billingHost struct {
	srv *httptest.Server

	mu     sync.Mutex
	bridge string   // where the page loads the widget from
	tokens []string // every token signed, in order
}

var billingHostTemplate = template.Must(template.New("billing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Billing</title></head>
<body><h1>Your billing</h1><p>Questions? Use the chat at the bottom right.</p>
<script src="{{.Bridge}}/webchat/v1/embed.js" data-account="main" data-token="{{.Token}}" async></script>
</body></html>
`))

func newBillingHost(t *testing.T) *billingHost {
	t.Helper()
	h := &billingHost{}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *billingHost) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	secret, now, lifetime := webChatSecret, time.Now(), 10*time.Minute
	switch q.Get("token") {
	case "forged":
		secret = "not-the-merchant-secret-0123456789abcdef"
	case "expired":
		now, lifetime = now.Add(-20*time.Minute), 10*time.Minute
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": q.Get("customer"), "acct": "main", "name": "Wendy Web",
		"iat": now.Unix(), "exp": now.Add(lifetime).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	h.tokens = append(h.tokens, token)
	bridge := h.bridge
	h.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = billingHostTemplate.Execute(w, map[string]string{"Bridge": bridge, "Token": token})
}

// configure turns the web chat on with this page's origin as the only
// allowed one (the frame's CSP then lets only it embed the chat).
func (h *billingHost) configure(cfg *config.Config) {
	enableWebChat(cfg)
	cfg.WebChat.Accounts["main"].AllowedOrigins = []string{h.srv.URL}
	h.setBridge(cfg.AppService.Address)
}

func (h *billingHost) setBridge(address string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bridge = strings.TrimSuffix(address, "/")
}

func (h *billingHost) url(customerID, token string) string {
	u := h.srv.URL + "/?customer=" + customerID
	if token != "" {
		u += "&token=" + token
	}
	return u
}

func (h *billingHost) signed() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.tokens...)
}

// failedPaymentCustomer is a customer whose first subscription payment the
// bank declined (the card attaches, then fails when charged).
func failedPaymentCustomer(t *testing.T, fake *stripefake.Server, name string) string {
	t.Helper()
	sc := fake.Client()
	cus, err := sc.Customers.New(&stripe.CustomerParams{
		Name: stripe.String(name), Email: stripe.String("wendy@example.com"),
		PaymentMethod:   stripe.String("pm_card_chargeCustomerFail"),
		InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String("pm_card_chargeCustomerFail")},
	})
	if err != nil {
		t.Fatal(err)
	}
	price, err := sc.Prices.New(&stripe.PriceParams{
		Currency: stripe.String("usd"), UnitAmount: stripe.Int64(1500),
		Recurring:   &stripe.PriceRecurringParams{Interval: stripe.String("month")},
		ProductData: &stripe.PriceProductDataParams{Name: stripe.String("Pro plan")},
	})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := sc.Subscriptions.New(&stripe.SubscriptionParams{Customer: stripe.String(cus.ID),
		Items: []*stripe.SubscriptionItemsParams{{Price: stripe.String(price.ID)}}})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != stripe.SubscriptionStatusIncomplete {
		t.Fatalf("the subscription's first payment did not fail: %s", sub.Status)
	}
	return cus.ID
}

// chatAgent is the agent's Matrix client, with a display name the widget
// should show.
func chatAgent(t *testing.T, s *stack, name string) *mautrix.Client {
	t.Helper()
	agent := s.user(t, "agent")
	if err := agent.SetDisplayName(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	return agent
}

// jsQuote is s as a JavaScript string literal.
func jsQuote(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}

// widgetHas is a function body for WaitFrame: a confirmed (by id) message
// of that sender kind whose text contains want is in the log.
func widgetHas(kind, want string) string {
	return `return Array.from(document.querySelectorAll('#log .msg.k-` + kind + `[data-id]')).some(function (m) {
		return m.querySelector('.body').textContent.indexOf(` + jsQuote(want) + `) >= 0; });`
}

// widgetMessage returns the id, sender name and text of the last
// confirmed message of that kind whose text contains want, "" when none.
func widgetMessage(tab *browsertest.Tab, kind, want string) (eventID id.EventID, name, text string) {
	raw := tab.Frame(`var found = null; document.querySelectorAll('#log .msg.k-` + kind + `[data-id]').forEach(function (m) {
		if (m.querySelector('.body').textContent.indexOf(` + jsQuote(want) + `) >= 0) found = m; });
		return found ? JSON.stringify([found.dataset.id, found.querySelector('.name').textContent, found.querySelector('.body').textContent]) : '["","",""]';`)
	var out [3]string
	_ = json.Unmarshal([]byte(raw), &out)
	return id.EventID(out[0]), out[1], out[2]
}

// widgetIDs lists the ids of the log's messages, oldest first.
func widgetIDs(tab *browsertest.Tab) []string {
	raw := tab.Frame(`return JSON.stringify(Array.from(document.querySelectorAll('#log .msg[data-id]')).map(function (e) { return e.dataset.id; }));`)
	var ids []string
	_ = json.Unmarshal([]byte(raw), &ids)
	return ids
}

// openChat opens the customer's billing page in a new tab and the chat
// panel with the launcher, once the widget is signed in.
func openChat(t *testing.T, browser *browsertest.Browser, host *billingHost, bridge, customerID string) *browsertest.Tab {
	t.Helper()
	tab := browser.NewTab(t, strings.TrimSuffix(bridge, "/"))
	tab.Timeout = browserWait
	tab.Navigate(host.url(customerID, ""))
	tab.WaitFrame("the signed-in widget", `return !document.getElementById('input').disabled && document.getElementById('alert').textContent === '';`)
	tab.ClickLauncher()
	tab.WaitPage("the open panel", browsertest.Shadow+`return root.querySelector('.p').classList.contains('o');`)
	return tab
}

// sendFromWidget types text into the composer and sends it with Enter; it
// returns the id the bridge gave the message.
func sendFromWidget(t *testing.T, tab *browsertest.Tab, text string) id.EventID {
	t.Helper()
	tab.ClickInFrame("#input")
	tab.WaitFrame("the focus in the composer", `return document.activeElement.id === 'input';`)
	tab.Type(text)
	tab.Do(browsertest.Enter)
	tab.WaitFrame("the sent message", `return !document.querySelector('#log .pending') && document.getElementById('input').value === '' && `+
		`Array.from(document.querySelectorAll('#log .msg.mine[data-id]')).some(function (m) { return m.querySelector('.body').textContent === `+jsQuote(text)+`; });`)
	eventID, _, _ := widgetMessage(tab, "customer", text)
	return eventID
}

// pwned reports window.__pwned in the page and in the frame, which an XSS
// payload sets.
func pwned(tab *browsertest.Tab) string {
	return tab.Page(`return String(window.__pwned);`) + "|" + tab.Frame(`return String(window.__pwned);`)
}

// TestWebChatBrowser: the widget on a merchant's page against the real
// bridge. A customer whose payment failed reads their billing history, asks
// the assistant, and talks with an agent in Matrix, live both ways; a reload
// keeps the conversation; forged and expired tokens are refused with the
// server's message; markup from agents and from Stripe stays text.
func TestWebChatBrowser(t *testing.T) {
	fake := newFake(t)
	host := newBillingHost(t)
	s := startStack(t, stackOptions{fake: fake, configure: host.configure})
	bridge := s.cfg.AppService.Address
	agent := chatAgent(t, s, "Grace Agent")
	browser := browsertest.Start(t)
	const question = "why did my payment fail?"

	var flowCustomer string
	t.Run("conversation", func(t *testing.T) {
		customerID := failedPaymentCustomer(t, fake, "Wendy Webber")
		flowCustomer = customerID
		room := waitPortal(t, s, customerID).RoomID
		joinWhenInvited(t, agent, room)

		tab := openChat(t, browser, host, bridge, customerID)
		// The billing history: the declined payment, with a button to pay.
		tab.WaitFrame("the declined payment in the billing history", widgetHas("billing", "didn't go through"))
		tab.WaitFrame("the pay button", `return Array.from(document.querySelectorAll('#log .msg.k-billing a.act')).some(function (a) { return /^https?:/.test(a.href); });`)
		if _, name, _ := widgetMessage(tab, "billing", "didn't go through"); name == "" {
			t.Error("the billing message has no sender name")
		}

		// The customer asks with the keyboard; the assistant explains.
		asked := sendFromWidget(t, tab, question)
		tab.WaitFrame("the assistant's answer", widgetHas("bot", "declined by the bank"))
		answerID, _, answer := widgetMessage(tab, "bot", "declined by the bank")
		t.Logf("assistant in the widget: %s", answer)
		if !strings.Contains(answer, "didn't go through") {
			t.Errorf("the assistant's answer does not say the payment failed: %q", answer)
		}

		// The agent sees it in Matrix, as the same event, under the
		// customer's name (from Stripe).
		var ghost id.UserID
		waitFor(t, 20*time.Second, "the customer's message in the agent's client", func() (bool, string) {
			var seen []string
			for _, evt := range messages(t, agent, room) {
				seen = append(seen, evt.Content.AsMessage().Body)
				if evt.ID == asked && evt.Content.AsMessage().Body == question {
					ghost = evt.Sender
					return true, ""
				}
			}
			return false, strings.Join(seen, " | ")
		})
		var member event.MemberEventContent
		if err := agent.StateEvent(t.Context(), room, event.StateMember, ghost.String(), &member); err != nil {
			t.Fatal(err)
		}
		if member.Displayname != "Wendy Webber" {
			t.Errorf("the agent sees the customer as %q (%s), want their Stripe name", member.Displayname, ghost)
		}

		// The agent answers; it appears live, under the agent's name.
		const reply = "Hi Wendy, your bank declined the card. Could you try another one?"
		resp, err := agent.SendText(t.Context(), room, reply)
		if err != nil {
			t.Fatal(err)
		}
		tab.WaitFrame("the agent's reply, live", widgetHas("agent", reply))
		replyID, name, _ := widgetMessage(tab, "agent", reply)
		if replyID != resp.EventID || name != "Grace Agent" {
			t.Errorf("agent reply in the widget: %s from %q, want %s from Grace Agent", replyID, name, resp.EventID)
		}
		if got := tab.Frame(`var m = document.querySelector('#log .msg.k-agent[data-id]'); return m.querySelector('.av').textContent;`); got != "GA" {
			t.Errorf("agent avatar initials %q", got)
		}
		tab.Shot("e2e-conversation")
		tab.CheckCSP()

		// Reload: a fresh token signs in again and the conversation is there.
		before := widgetIDs(tab)
		signed := len(host.signed())
		tab.Reload()
		tab.WaitFrame("the conversation after the reload", `var ids = Array.from(document.querySelectorAll('#log .msg[data-id]')).map(function (e) { return e.dataset.id; });
			var a = ids.indexOf(`+jsQuote(string(asked))+`), b = ids.indexOf(`+jsQuote(string(answerID))+`), c = ids.indexOf(`+jsQuote(string(replyID))+`);
			return a >= 0 && a < b && b < c;`)
		if tokens := host.signed(); len(tokens) != signed+1 {
			t.Errorf("the reload did not sign a fresh token (%d tokens before, %d after)", signed, len(tokens))
		}
		// All of it, in the same order (anything newer may follow).
		if after := widgetIDs(tab); len(after) < len(before) || strings.Join(after[:len(before)], " ") != strings.Join(before, " ") {
			t.Errorf("history after the reload:\n  %v\nbefore:\n  %v", after, before)
		}
		if _, name, _ := widgetMessage(tab, "agent", reply); name != "Grace Agent" {
			t.Errorf("after the reload the agent is %q", name)
		}
		if got := tab.Frame(`return Array.from(document.querySelectorAll('#log .msg.mine[data-id] .body')).map(function (b) { return b.textContent; }).join('|');`); got != question {
			t.Errorf("the customer's own messages after the reload: %q", got)
		}
		tab.CheckCSP()
	})

	t.Run("refused tokens", func(t *testing.T) {
		customerID := flowCustomer
		if customerID == "" {
			customerID = failedPaymentCustomer(t, fake, "Wendy Webber")
		}
		for _, tc := range []struct{ mode, code, message string }{
			{"forged", "token_invalid", "This chat could not sign you in. Please reload the page."},
			{"expired", "token_expired", "Your chat sign-in has expired. Please reload the page."},
		} {
			tab := browser.NewTab(t, bridge)
			tab.Timeout = browserWait
			tab.Navigate(host.url(customerID, tc.mode))
			tab.WaitPage("the launcher", browsertest.Shadow+`return !!root.querySelector('.l');`)
			tab.ClickLauncher()
			tab.WaitFrame("the refusal of the "+tc.mode+" token", `return document.getElementById('alert').textContent !== '';`)
			alert := tab.Frame(`return document.getElementById('alert').textContent;`)
			// What the server answered that token.
			tokens := host.signed()
			status, apiErr := (&chatClient{t: t, base: bridge}).call("POST", "session", map[string]string{"account": "main", "token": tokens[len(tokens)-1]}, nil)
			if status != 401 || apiErr["error"] != tc.code || apiErr["message"] != tc.message {
				t.Errorf("%s token: the server answered %d %v", tc.mode, status, apiErr)
			}
			if alert != apiErr["message"] {
				t.Errorf("%s token: the widget says %q, the server %q", tc.mode, alert, apiErr["message"])
			}
			// Nothing of the room: no message, no greeting, no badge, no
			// composer.
			time.Sleep(500 * time.Millisecond)
			if got := tab.Frame(`return document.querySelectorAll('#log *').length + ' ' + document.getElementById('input').disabled + ' ' + document.getElementById('send').disabled;`); got != "0 true true" {
				t.Errorf("%s token: the log has %q (elements, input disabled, send disabled)", tc.mode, got)
			}
			if got := tab.Page(browsertest.Shadow + `return root.querySelector('.b').hidden;`); got != "true" {
				t.Errorf("%s token: the unread badge shows", tc.mode)
			}
			tab.Shot("e2e-refused-" + tc.mode)
			tab.CheckCSP()
		}
	})

	t.Run("markup stays text", func(t *testing.T) {
		const markupName = `<img src=x onerror=window.__pwned=1>`
		customerID := failedPaymentCustomer(t, fake, markupName)
		room := waitPortal(t, s, customerID).RoomID
		joinWhenInvited(t, agent, room)
		tab := openChat(t, browser, host, bridge, customerID)

		// The Stripe name, in the billing message, is text.
		tab.WaitFrame("the billing message with the customer's name", widgetHas("billing", "Your billing account is set up"))
		if _, _, text := widgetMessage(tab, "billing", "Your billing account is set up"); !strings.Contains(text, markupName) {
			t.Errorf("the customer's name is not shown as text: %q", text)
		}
		// The customer's own markup, sent from the widget, is text too.
		const typed = `<b onmouseover="window.__pwned=4">bold?</b>`
		sendFromWidget(t, tab, typed)

		// The agent's HTML: an image with a handler and a javascript: link;
		// and a plain message that is markup as text.
		const htmlBody = `Look <img src=x onerror="window.__pwned=1"> <a href="javascript:window.__pwned=2">here</a> <b>now</b>`
		rich, err := agent.SendMessageEvent(t.Context(), room, event.EventMessage, &event.MessageEventContent{
			MsgType: event.MsgText, Body: "Look here now", Format: event.FormatHTML, FormattedBody: htmlBody,
		})
		if err != nil {
			t.Fatal(err)
		}
		const plainMarkup = `<img src=x onerror="window.__pwned=3">`
		plain, err := agent.SendText(t.Context(), room, plainMarkup)
		if err != nil {
			t.Fatal(err)
		}
		// The agent's name with markup, in this room only.
		if _, err = agent.SendStateEvent(t.Context(), room, event.StateMember, agent.UserID.String(), &event.MemberEventContent{
			Membership: event.MembershipJoin, Displayname: `<img src=x onerror=window.__pwned=5>`,
		}); err != nil {
			t.Fatal(err)
		}
		signature, err := agent.SendText(t.Context(), room, "Signed with my new name")
		if err != nil {
			t.Fatal(err)
		}
		tab.WaitFrame("the agent's messages", `return !!document.querySelector('[data-id=`+jsQuote(string(rich.EventID))+`]') && !!document.querySelector('[data-id=`+jsQuote(string(plain.EventID))+`]') && !!document.querySelector('[data-id=`+jsQuote(string(signature.EventID))+`]');`)

		if got := tab.Frame(`var b = document.querySelector('[data-id=` + jsQuote(string(rich.EventID)) + `] .body'); return b.textContent.replace(/\s+/g, ' ').trim() + '|' + b.querySelectorAll('b').length;`); got != "Look here now|1" {
			t.Errorf("the agent's HTML shows as %q, want its text with the bold kept", got)
		}
		if got := tab.Frame(`return document.querySelector('[data-id=` + jsQuote(string(plain.EventID)) + `] .body').textContent;`); got != plainMarkup {
			t.Errorf("the agent's plain markup shows as %q", got)
		}
		if got := tab.Frame(`var m = document.querySelector('[data-id=` + jsQuote(string(signature.EventID)) + `]'); return m.querySelector('.name').textContent + '|' + m.querySelectorAll('.meta *').length;`); !strings.HasPrefix(got, `<img src=x onerror=window.__pwned=5>|`) {
			t.Errorf("the agent's name with markup shows as %q", got)
		}
		if got := tab.Frame(`var n = 0; document.querySelectorAll('#log *').forEach(function (e) { Array.from(e.attributes).forEach(function (a) { if (/^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)) n++; }); });
			return n + ' ' + document.querySelectorAll('#log img, #log script, #log iframe').length;`); got != "0 0" {
			t.Errorf("handlers, javascript: links and images in the log: %q", got)
		}
		// Click what is left of the link and the bold text, hover the
		// customer's bold: nothing runs.
		if tab.Frame(`return String(!!document.querySelector('[data-id=`+jsQuote(string(rich.EventID))+`] .body a'));`) == "true" {
			tab.ClickInFrame(`[data-id=` + jsQuote(string(rich.EventID)) + `] .body a`)
		}
		tab.ClickInFrame(`[data-id=` + jsQuote(string(rich.EventID)) + `] .body b`)
		tab.ClickInFrame(`#log .msg.mine[data-id] .body`)
		time.Sleep(300 * time.Millisecond)
		if got := pwned(tab); got != "undefined|undefined" {
			t.Errorf("an XSS payload ran (page|frame): %s", got)
		}
		tab.Shot("e2e-markup")
		tab.CheckCSP()
	})
}

// TestWebChatBrowserAcrossProcesses: two bridge processes on one
// PostgreSQL. The page embeds the widget from process B, which the
// homeserver does not know; the agent's message reaches process A; the
// widget shows it live from B, and what the customer sends through B
// reaches the agent.
func TestWebChatBrowserAcrossProcesses(t *testing.T) {
	fake := newFake(t)
	host := newBillingHost(t)
	s := startStack(t, stackOptions{fake: fake, configure: host.configure, dbType: "postgres", dbURI: dbtest.PostgresURI(t)})
	agent := chatAgent(t, s, "Grace Agent")
	customerID := failedPaymentCustomer(t, fake, "Wendy Webber")
	room := waitPortal(t, s, customerID).RoomID
	joinWhenInvited(t, agent, room)

	// Process B: same config (web chat included) and database.
	processB := s.secondProcess(t)
	host.setBridge(processB)

	browser := browsertest.Start(t)
	tab := openChat(t, browser, host, processB, customerID)
	if src := tab.Page(browsertest.Shadow + `return root.querySelector('iframe').src;`); !strings.HasPrefix(src, processB+"/webchat/v1/frame") {
		t.Fatalf("the widget is not served by process B: %s", src)
	}
	tab.WaitFrame("the billing history from process B", widgetHas("billing", "didn't go through"))

	const reply = "Answer from the agent, through process A"
	resp, err := agent.SendText(t.Context(), room, reply)
	if err != nil {
		t.Fatal(err)
	}
	tab.WaitFrame("the agent's message, live from process B", widgetHas("agent", reply))
	if gotID, name, _ := widgetMessage(tab, "agent", reply); gotID != resp.EventID || name != "Grace Agent" {
		t.Errorf("agent message in the widget: %s from %q, want %s from Grace Agent", gotID, name, resp.EventID)
	}

	const question = "Thanks, I will update my card today."
	asked := sendFromWidget(t, tab, question)
	waitFor(t, 20*time.Second, "the widget's message, sent through process B, in the agent's client", func() (bool, string) {
		var seen []string
		for _, evt := range messages(t, agent, room) {
			seen = append(seen, evt.Content.AsMessage().Body)
			if evt.ID == asked && evt.Content.AsMessage().Body == question {
				return true, ""
			}
		}
		return false, strings.Join(seen, " | ")
	})
	tab.Shot("e2e-across-processes")
	tab.CheckCSP()
}
