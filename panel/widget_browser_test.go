package panel_test

// The agent side panel (assets/) in headless Chromium: framed by a
// stand-in for Element on another origin that speaks the Matrix Widget
// API, and opened alone in a tab (browser mode), against a fake of the
// panel's HTTP API that lives in this file, so the page is tested apart
// from the real server. The browser is internal/browsertest's.

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/matrix-stripe/matrix-stripe/internal/browsertest"
)

// ---- the fake API -----------------------------------------------------------

const (
	testRoom      = "!cust1:example.org"
	agentToken    = "agent-token"
	customerToken = "customer-token"
	cookieName    = "panel_session"
	// What the real server sends with the page.
	testCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors *"
	xssText = `<img src=x onerror="window.__xss='text'">`

	// The panel's own sentences the tests look for.
	notStaff  = "This panel is for support staff."
	signedOut = "Your sign-in has expired. Reopen the panel from the room in Element, or send panel in the management room for a link."
	blocked   = "Element did not share your identity with the panel, so it cannot show billing data."
	noRoom    = "Open this panel from a customer room."
	waiting   = "Waiting for Element…"
	asking    = "Element is asking you whether to share your identity with the panel…"
)

// fullSummary has something in every section but refunds; a javascript:
// dashboard link and markup in the assignee are the hostile parts.
const fullSummary = `{
 "customer": {"id": "cus_test1", "name": "Bob Chen", "email": "bob@example.com", "created": "2026-10-07T12:00:00Z",
  "balance_display": "$0.00", "delinquent": true, "dashboard_url": "https://dashboard.stripe.com/test/customers/cus_test1"},
 "payment_methods": [
  {"id": "pm_1", "brand": "Visa", "last4": "4242", "exp_month": 4, "exp_year": 2027, "default": true, "expires_soon": false},
  {"id": "pm_2", "brand": "Mastercard", "last4": "0005", "exp_month": 11, "exp_year": 2026, "default": false, "expires_soon": true}],
 "subscriptions": [
  {"id": "sub_1", "plan": "Pro", "amount_display": "$29.00 / month", "status": "active", "current_period_end": "2026-11-07T12:00:00Z",
   "trial_end": null, "cancel_at_period_end": false, "paused": false, "dashboard_url": "https://dashboard.stripe.com/test/subscriptions/sub_1"},
  {"id": "sub_2", "plan": "Add-on", "amount_display": "$5.00 / month", "status": "trialing", "current_period_end": "2026-11-20T12:00:00Z",
   "trial_end": "2026-11-20T12:00:00Z", "cancel_at_period_end": true, "paused": true}],
 "open_invoices": [{"id": "in_1", "number": "ABC-0002", "amount_display": "$29.00", "due_date": "2026-11-14T12:00:00Z",
  "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_1", "dashboard_url": "https://dashboard.stripe.com/test/invoices/in_1"}],
 "payments": [
  {"id": "ch_2", "amount_display": "$29.00", "status": "failed", "created": "2026-11-07T12:05:00Z",
   "failure_message": "Your card has insufficient funds.", "refunded": false, "dashboard_url": "https://dashboard.stripe.com/test/payments/ch_2"},
  {"id": "ch_1", "amount_display": "$10.00", "status": "succeeded", "created": "2026-10-07T12:05:00Z", "failure_message": null,
   "refunded": true, "dashboard_url": "javascript:window.__xss='link'"}],
 "refunds": [],
 "disputes": [{"id": "dp_1", "amount_display": "$29.00", "status": "needs_response", "reason": "fraudulent",
  "due_by": "2026-11-21T12:00:00Z", "dashboard_url": "https://dashboard.stripe.com/test/disputes/dp_1"}],
 "conversation": {"state": "open", "assignee": "<img src=x onerror=\"window.__xss='text'\">", "waiting_since": "2026-11-08T09:00:00Z"}
}`

// sparseSummary is a room whose customer and lists are null or missing.
const sparseSummary = `{"customer": null, "payment_methods": null, "subscriptions": [], "conversation": {"state": "open"}}`

type sessionCall struct {
	Method, ContentType, AccessToken, ServerName, TokenType string
	ExpiresIn                                               int
}

// fakePanel is the panel's HTTP API as the page's contract has it, in
// memory. POST session answers with a bearer token as well as the cookie,
// as the real server does for Element's frame (where a SameSite cookie is
// not sent); the summary takes either and notes which it got.
type fakePanel struct {
	mu        sync.Mutex
	summary   string
	sessions  map[string]bool // cookie values and bearer tokens
	calls     []sessionCall
	summaryBy []string // "bearer" or "cookie", one per summary served
	linkUsed  bool
}

const (
	testLinkToken = "one-time-link-token"
	linkUsed      = "This sign-in link was used already or has expired."
)

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]string{"error": code, "message": message})
	writeJSON(w, status, string(body))
}

func (f *fakePanel) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /panel/v1/assets/", http.StripPrefix("/panel/v1/assets/", http.FileServer(http.Dir("assets"))))
	mux.HandleFunc("GET /panel/v1/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", testCSP)
		http.ServeFile(w, r, "assets/index.html")
	})
	mux.HandleFunc("POST /panel/v1/session", f.signIn)
	mux.HandleFunc("GET /panel/v1/session", func(w http.ResponseWriter, r *http.Request) {
		f.record(sessionCall{Method: r.Method})
		if f.auth(r) == "" {
			writeError(w, 401, "signed_out", "Signed out.")
			return
		}
		writeJSON(w, 200, `{"user_id": "@alice:example.org", "role": "agent", "csrf_token": "csrf-1"}`)
	})
	// The one-time link `panel` sends in the management room: its token,
	// in the fragment, is posted once.
	mux.HandleFunc("POST /panel/v1/link", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Token string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		fresh := req.Token == testLinkToken && !f.linkUsed
		f.linkUsed = f.linkUsed || fresh
		f.mu.Unlock()
		if !fresh {
			writeError(w, 401, "link_used", linkUsed)
			return
		}
		token := f.newSession(w)
		writeJSON(w, 200, `{"user_id": "@alice:example.org", "role": "agent", "csrf_token": "csrf-1", "token": "`+token+`"}`)
	})
	// The one-time sign-in link of browser mode.
	mux.HandleFunc("GET /panel/v1/signin", func(w http.ResponseWriter, r *http.Request) {
		f.newSession(w)
		http.Redirect(w, r, "./?room="+url.QueryEscape(testRoom), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /panel/v1/rooms/{room}/summary", func(w http.ResponseWriter, r *http.Request) {
		by := f.auth(r)
		switch {
		case by == "":
			writeError(w, 401, "signed_out", "Signed out.")
		case r.PathValue("room") != testRoom:
			writeError(w, 404, "not_a_customer_room", "This room is not a customer room of this bridge.")
		default:
			f.mu.Lock()
			f.summaryBy = append(f.summaryBy, by)
			body := f.summary
			f.mu.Unlock()
			writeJSON(w, 200, body)
		}
	})
	return mux
}

func (f *fakePanel) record(c sessionCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

// newSession sets a session cookie and returns a bearer token, both known
// to this fake only: a cookie a test before left in the browser is none.
func (f *fakePanel) newSession(w http.ResponseWriter) string {
	cookie, token := rand.Text(), rand.Text()
	f.mu.Lock()
	f.sessions[cookie], f.sessions[token] = true, true
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: cookie, Path: "/panel/v1/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return token
}

// auth says how the request is signed in: "bearer", "cookie" or "".
func (f *fakePanel) auth(r *http.Request) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		if f.sessions[tok] {
			return "bearer"
		}
		return ""
	}
	if c, err := r.Cookie(cookieName); err == nil && f.sessions[c.Value] {
		return "cookie"
	}
	return ""
}

func (f *fakePanel) signIn(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AccessToken      string `json:"access_token"`
		MatrixServerName string `json:"matrix_server_name"`
		ExpiresIn        int    `json:"expires_in"`
		TokenType        string `json:"token_type"`
	}
	err := json.NewDecoder(r.Body).Decode(&req)
	f.record(sessionCall{Method: r.Method, ContentType: r.Header.Get("Content-Type"), AccessToken: req.AccessToken,
		ServerName: req.MatrixServerName, TokenType: req.TokenType, ExpiresIn: req.ExpiresIn})
	switch {
	case err != nil || r.Header.Get("Content-Type") != "application/json":
		writeError(w, 400, "bad_request", "Send the token as JSON.")
	case strings.HasPrefix(req.AccessToken, agentToken):
		token := f.newSession(w)
		writeJSON(w, 200, `{"user_id": "@alice:example.org", "role": "agent", "csrf_token": "csrf-1", "token": "`+token+`"}`)
	case req.AccessToken == customerToken:
		// Not the panel's sentence: the page must say its own.
		writeError(w, 403, "for_support_staff", "Refused.")
	default:
		writeError(w, 401, "signed_out", "The homeserver did not accept the sign-in; reopen the panel.")
	}
}

func (f *fakePanel) snapshot() (calls []sessionCall, summaryBy []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(calls, f.calls...), append(summaryBy, f.summaryBy...)
}

func (f *fakePanel) setSummary(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.summary = s
}

// ---- Element's stand-in -----------------------------------------------------

// errorRecorder notes the uncaught errors of every document in the tab.
const errorRecorder = `window.__errors = [];
addEventListener('error', (e) => window.__errors.push(String(e.message)));
addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));`

type env struct {
	f             *fakePanel
	panel, parent *httptest.Server
	tab           *browsertest.Tab
}

// start serves the panel and its fake API on one origin and Element's
// stand-in on another, and opens a tab (on nothing yet) whose frame is
// the panel's origin.
func start(t *testing.T, browser *browsertest.Browser) *env {
	f := &fakePanel{summary: fullSummary, sessions: map[string]bool{}}
	panel := httptest.NewServer(f.handler())
	t.Cleanup(panel.Close)
	parent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		browsertest.ServeElement(w, r)
	}))
	t.Cleanup(parent.Close)
	tab := browser.NewTab(t, panel.URL)
	if _, err := chromedp.Call(tab.Context(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: errorRecorder}); err != nil {
		t.Fatal(err)
	}
	return &env{f: f, panel: panel, parent: parent, tab: tab}
}

// openInElement loads Element's stand-in with the panel of testRoom in it.
func (e *env) openInElement(query url.Values) {
	query.Set("panel", e.panel.URL+"/panel/v1/?room="+url.QueryEscape(testRoom))
	e.tab.Navigate(e.parent.URL + "/parent.html?" + query.Encode())
}

// checkClean fails the test when the panel broke its CSP or threw.
func (e *env) checkClean(t *testing.T) {
	t.Helper()
	e.tab.CheckCSP()
	if got := e.tab.Frame(`return window.__errors.join('; ');`); got != "" {
		t.Errorf("the panel threw: %s", got)
	}
}

func (e *env) status() string {
	return e.tab.Frame(`return document.getElementById('status').textContent;`)
}

// dateOf is an ISO date as the panel shows it: in the browser's locale and
// time zone.
func (e *env) dateOf(iso string) string {
	return e.tab.Frame(`return new Intl.DateTimeFormat(undefined, {dateStyle: 'medium'}).format(new Date(` + strconv.Quote(iso) + `));`)
}

// dump is a section's list items, one "class: part | part" line each: the
// title, badges, what is to the right, the lines under it and the links.
func (e *env) dump(id string) string {
	return e.tab.Frame(`return Array.from(document.querySelectorAll('#` + id + ` li')).map((li) =>
		li.className + ': ' + Array.from(li.querySelectorAll('.title, .badge, .aside, .sub, a')).map((x) => x.textContent).join(' | ')).join('\n');`)
}

// facts is a section's label/value list, "label=value; …".
func (e *env) facts(id string) string {
	return e.tab.Frame(`return Array.from(document.querySelectorAll('#` + id + ` dt')).map((dt) => dt.textContent + '=' + dt.nextElementSibling.textContent).join('; ');`)
}

// ---- the tests --------------------------------------------------------------

func TestPanelBrowser(t *testing.T) {
	browser := browsertest.Start(t)

	// An agent in Element: the widget handshake, the sign-in with the
	// token Element gave, every section of the summary, Refresh.
	t.Run("agent", func(t *testing.T) {
		e := start(t, browser)
		tab := e.tab
		e.openInElement(url.Values{"token": {agentToken}, "openid": {"allowed"}})
		tab.WaitFrame("the summary", `return !document.getElementById('summary').hidden && document.getElementById('customer').textContent.includes('Bob Chen');`)

		calls, by := e.f.snapshot()
		want := sessionCall{Method: "POST", ContentType: "application/json", AccessToken: agentToken, ServerName: "example.org", TokenType: "Bearer", ExpiresIn: 3600}
		if len(calls) != 1 || calls[0] != want {
			t.Errorf("session calls %+v, want only %+v", calls, want)
		}
		if len(by) != 1 || by[0] != "bearer" {
			t.Errorf("summaries served %v, want one to the bearer token", by)
		}

		// What Element saw: the two requests, each with the widget id and
		// an id of its own, and the answer to capabilities.
		if got := tab.Page(`return window.__got.filter((m) => m.data.api === 'fromWidget' && !('response' in m.data)).map((m) => m.data.action + '/' + m.data.widgetId).join(' ');`); got != "content_loaded/panel-widget get_openid/panel-widget" {
			t.Errorf("the panel's requests to Element: %q", got)
		}
		if got := tab.Page(`const ids = window.__got.filter((m) => m.data.api === 'fromWidget').map((m) => m.data.requestId); return ids.every((id) => typeof id === 'string' && id) && new Set(ids).size === ids.length;`); got != "true" {
			t.Errorf("the panel's request ids are not unique strings")
		}
		if got := tab.Page(`return JSON.stringify(window.__replies.capabilities);`); got != `{"capabilities":[]}` {
			t.Errorf("the answer to capabilities: %s", got)
		}
		if got := tab.Page(`return window.__got.filter((m) => m.origin !== ` + strconv.Quote(e.panel.URL) + `).length;`); got != "0" {
			t.Errorf("%s messages from an origin other than the panel's", got)
		}

		// The sections, in order.
		if got := tab.Frame(`return Array.from(document.querySelectorAll('#summary section > h2 + div')).map((d) => d.id + ':' + d.previousElementSibling.textContent).join(', ');`); got !=
			"customer:Customer, payment-methods:Payment methods, subscriptions:Subscriptions, invoices:Open invoices, payments:Recent payments, refunds:Refunds, disputes:Disputes, conversation:Conversation" {
			t.Errorf("sections %q", got)
		}
		if got := tab.Frame(`return document.querySelector('#customer .name').textContent;`); got != "Bob ChenDelinquent" {
			t.Errorf("customer name and badges %q", got)
		}
		if got, want := e.facts("customer"), "Email=bob@example.com; ID=cus_test1; Customer since="+e.dateOf("2026-10-07T12:00:00Z")+"; Balance=$0.00"; got != want {
			t.Errorf("customer facts %q, want %q", got, want)
		}
		checks := []struct{ id, want string }{
			{"payment-methods", "item: Visa •••• 4242 | Default | Exp 04/27\n" +
				"item expiring: Mastercard •••• 0005 | Exp 11/26 | Expires before the next renewal"},
			{"subscriptions", "item: Pro | active | $29.00 / month | Renews " + e.dateOf("2026-11-07T12:00:00Z") + " | Open in Stripe\n" +
				"item: Add-on | trialing | Paused | $5.00 / month | Ends " + e.dateOf("2026-11-20T12:00:00Z") + " | Trial until " + e.dateOf("2026-11-20T12:00:00Z")},
			{"invoices", "item: ABC-0002 | $29.00 | Due " + e.dateOf("2026-11-14T12:00:00Z") + " | Pay link | Open in Stripe"},
			// The javascript: link of the second payment is no link.
			{"payments", "item failed: $29.00 | failed | " + e.dateOf("2026-11-07T12:05:00Z") + " | Your card has insufficient funds. | Open in Stripe\n" +
				"item: $10.00 | succeeded | Refunded | " + e.dateOf("2026-10-07T12:05:00Z")},
			{"disputes", "item: $29.00 | needs response | fraudulent | Evidence due " + e.dateOf("2026-11-21T12:00:00Z") + " | Open in Stripe"},
		}
		for _, c := range checks {
			if got := e.dump(c.id); got != c.want {
				t.Errorf("#%s:\n%s\nwant:\n%s", c.id, got, c.want)
			}
		}
		if got := tab.Frame(`return document.querySelector('#refunds .empty').textContent;`); got != "No refunds." {
			t.Errorf("empty refunds %q", got)
		}
		if got, want := e.facts("conversation"), "State=open; Assignee="+xssText+"; Waiting since="+e.dateOf("2026-11-08T09:00:00Z"); got != want {
			t.Errorf("conversation facts %q, want %q", got, want)
		}

		// The highlight and the failure message are on screen, not just in
		// the document.
		if got := tab.Frame(`const x = document.querySelector('#payment-methods .expiring'); return getComputedStyle(x).backgroundColor !== getComputedStyle(x.previousElementSibling).backgroundColor;`); got != "true" {
			t.Errorf("the expiring card is not highlighted")
		}
		if got := tab.Frame(`const f = document.querySelector('#payments .failure'); const r = f.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(f).visibility === 'visible';`); got != "true" {
			t.Errorf("the failure message is not visible")
		}
		if got := tab.Frame(`const a = Array.from(document.querySelectorAll('#invoices a')).find((a) => a.textContent === 'Pay link'); return a.href;`); got != "https://invoice.stripe.com/i/acct_1/test_1" {
			t.Errorf("pay link %q", got)
		}
		if got := tab.Frame(`return Array.from(document.querySelectorAll('a')).filter((a) => !/^https:\/\//.test(a.href) || a.target !== '_blank' || a.rel !== 'noopener noreferrer').length + ' of ' + document.querySelectorAll('a').length;`); got != "0 of 6" {
			t.Errorf("links not https in a new tab without opener or referrer: %s", got)
		}
		if got := tab.Frame(`return String(window.__xss) + ' ' + document.querySelectorAll('img').length;`); got != "undefined 0" {
			t.Errorf("markup from the data ran or rendered: %s", got)
		}
		tab.Shot("panel-widget")

		// Refresh fetches the summary again and shows what changed.
		e.f.setSummary(strings.NewReplacer(`"$0.00"`, `"$5.00"`, `"refunds": []`,
			`"refunds": [{"id": "re_1", "amount_display": "$10.00", "status": "succeeded", "created": "2026-10-08T12:00:00Z"}]`).Replace(fullSummary))
		tab.Frame(`document.getElementById('refresh').click(); return '';`)
		tab.WaitFrame("the refreshed summary", `return document.getElementById('customer').textContent.includes('$5.00') && !document.getElementById('refresh').disabled;`)
		if got, want := e.dump("refunds"), "item: $10.00 | succeeded | "+e.dateOf("2026-10-08T12:00:00Z"); got != want {
			t.Errorf("refunds after Refresh %q, want %q", got, want)
		}
		if calls, by := e.f.snapshot(); len(calls) != 1 || len(by) != 2 {
			t.Errorf("after Refresh: %d session calls, %d summaries; want 1 and 2", len(calls), len(by))
		}
		if got := e.status(); !strings.HasPrefix(got, "Updated ") {
			t.Errorf("status %q", got)
		}
		e.checkClean(t)
	})

	// Element asks the user first (state "request"); meanwhile forged
	// credentials, posted by the panel's own window, change nothing.
	t.Run("consent, and a forgery ignored", func(t *testing.T) {
		e := start(t, browser)
		tab := e.tab
		e.openInElement(url.Values{"openid": {"request"}})
		tab.WaitFrame("the question", `return document.getElementById('status').textContent === `+strconv.Quote(asking)+`;`)
		tab.Frame(`window.postMessage({api: 'toWidget', widgetId: 'panel-widget', requestId: 'forged-1', action: 'openid_credentials',
			data: {state: 'allowed', access_token: 'agent-token-forged', matrix_server_name: 'example.org', expires_in: 3600, token_type: 'Bearer'}}, '*'); return '';`)
		time.Sleep(500 * time.Millisecond)
		if calls, _ := e.f.snapshot(); len(calls) != 0 {
			t.Errorf("forged credentials were used: %+v", calls)
		}
		if got := e.status(); got != asking {
			t.Errorf("status after the forgery %q", got)
		}

		tab.Page(`window.grant('agent-token-2'); return '';`)
		tab.WaitFrame("the summary", `return document.getElementById('customer').textContent.includes('Bob Chen');`)
		if calls, _ := e.f.snapshot(); len(calls) != 1 || calls[0].AccessToken != "agent-token-2" {
			t.Errorf("session calls %+v, want one with Element's late credentials", calls)
		}
		if got := tab.Page(`return JSON.stringify(window.__replies.openid_credentials);`); got != "{}" {
			t.Errorf("the answer to openid_credentials: %s", got)
		}
		e.checkClean(t)
	})

	// The parentUrl names an origin that is not the framing page's: the
	// panel posts nothing the page can receive (it never uses '*') and
	// takes nothing the page sends.
	t.Run("parentUrl of another origin", func(t *testing.T) {
		e := start(t, browser)
		tab := e.tab
		e.openInElement(url.Values{"token": {agentToken}, "openid": {"allowed"}, "claim": {"https://element.example/#/room/" + testRoom}})
		tab.WaitFrame("the panel waiting for Element", `return document.getElementById('status').textContent === `+strconv.Quote(waiting)+`;`)
		tab.Page(`window.grant('agent-token'); return '';`)
		time.Sleep(500 * time.Millisecond)
		if got := tab.Page(`return JSON.stringify(window.__got);`); got != "[]" {
			t.Errorf("the page received from the panel: %s", got)
		}
		if calls, _ := e.f.snapshot(); len(calls) != 0 {
			t.Errorf("the panel signed in with another origin's credentials: %+v", calls)
		}
		if got := e.status(); got != waiting {
			t.Errorf("status %q", got)
		}
		e.checkClean(t)
	})

	// A customer's token: the refusal, and nothing else on the page.
	t.Run("customer", func(t *testing.T) {
		e := start(t, browser)
		tab := e.tab
		e.openInElement(url.Values{"token": {customerToken}, "openid": {"allowed"}})
		tab.WaitFrame("the refusal", `return document.getElementById('status').textContent === `+strconv.Quote(notStaff)+`;`)
		if got := tab.Frame(`return document.getElementById('customer').childNodes.length + ' ' + document.getElementById('summary').hidden + ' ' + document.body.innerText.trim();`); got != "0 true "+notStaff {
			t.Errorf("customer count, summary hidden, page text: %q", got)
		}
		if calls, by := e.f.snapshot(); len(calls) != 1 || calls[0].AccessToken != customerToken || len(by) != 0 {
			t.Errorf("session calls %+v, summaries %v", calls, by)
		}
		e.checkClean(t)
	})

	t.Run("blocked", func(t *testing.T) {
		e := start(t, browser)
		e.openInElement(url.Values{"openid": {"blocked"}})
		e.tab.WaitFrame("the blocked sentence", `return document.getElementById('status').textContent === `+strconv.Quote(blocked)+`;`)
		if calls, _ := e.f.snapshot(); len(calls) != 0 {
			t.Errorf("session calls %+v", calls)
		}
		e.checkClean(t)
	})

	// A browser tab without widgetId: first signed out, then signed in by
	// the one-time link, on a summary of nulls and missing fields.
	t.Run("browser mode", func(t *testing.T) {
		e := start(t, browser)
		tab := e.tab
		tab.Navigate(e.panel.URL + "/panel/v1/?room=" + url.QueryEscape(testRoom))
		tab.WaitFrame("the expired sign-in", `return document.getElementById('status').textContent === `+strconv.Quote(signedOut)+`;`)
		if calls, _ := e.f.snapshot(); len(calls) != 1 || calls[0].Method != "GET" {
			t.Errorf("session calls %+v, want one GET", calls)
		}

		e.f.setSummary(sparseSummary)
		tab.Navigate(e.panel.URL + "/panel/v1/signin")
		tab.WaitFrame("the summary", `return !document.getElementById('summary').hidden;`)
		got := tab.Frame(`return ['customer', 'payment-methods', 'subscriptions', 'invoices', 'payments', 'refunds', 'disputes'].map((id) => document.getElementById(id).textContent).join(' ');`)
		if want := "No Stripe customer is linked to this room. No payment methods. No subscriptions. No open invoices. No recent payments. No refunds. No disputes."; got != want {
			t.Errorf("sparse summary %q", got)
		}
		if got := e.facts("conversation"); got != "State=open; Assignee=Unassigned" {
			t.Errorf("conversation %q", got)
		}
		if _, by := e.f.snapshot(); len(by) != 1 || by[0] != "cookie" {
			t.Errorf("summaries served %v, want one to the cookie", by)
		}
		tab.Shot("panel-browser")
		e.checkClean(t)
	})

	// A tab opened from the management room's link: the token is posted
	// once and dropped from the address; the same link again is refused.
	t.Run("sign-in link", func(t *testing.T) {
		e := start(t, browser)
		tab := e.tab
		linkURL := e.panel.URL + "/panel/v1/?room=" + url.QueryEscape(testRoom) + "#link=" + testLinkToken
		tab.Navigate(linkURL)
		tab.WaitFrame("the summary", `return !document.getElementById('summary').hidden;`)
		if hash := tab.Frame(`return location.hash;`); hash != "" {
			t.Errorf("the token stays in the address: %q", hash)
		}
		if _, by := e.f.snapshot(); len(by) != 1 || by[0] != "bearer" {
			t.Errorf("summaries served %v, want one to the link's session", by)
		}
		// Another query: a new fragment alone would not load the page again.
		tab.Navigate(e.panel.URL + "/panel/v1/?again=1&room=" + url.QueryEscape(testRoom) + "#link=" + testLinkToken)
		tab.WaitFrame("the refusal", `return document.getElementById('status').textContent === `+strconv.Quote(linkUsed)+`;`)
		e.checkClean(t)
	})

	t.Run("no room", func(t *testing.T) {
		e := start(t, browser)
		e.tab.Navigate(e.panel.URL + "/panel/v1/")
		e.tab.WaitFrame("the sentence", `return document.getElementById('status').textContent === `+strconv.Quote(noRoom)+`;`)
		if calls, _ := e.f.snapshot(); len(calls) != 0 {
			t.Errorf("session calls %+v", calls)
		}
		e.checkClean(t)
	})
}
