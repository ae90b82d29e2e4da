package webchat

// The widget (assets/) in headless Chromium, against a fake of the HTTP API
// of docs/webchat.md that lives in this file: the fake* names keep it apart
// from the real server (e2e/webchat_browser_test.go drives the widget
// against that). The browser is internal/browsertest's.

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/matrix-stripe/matrix-stripe/internal/browsertest"
)

// ---- the fake API -----------------------------------------------------------

type fakeSender struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	AvatarURL string `json:"avatar_url,omitempty"`
}

type fakeAction struct {
	Label string `json:"label"`
	Send  string `json:"send,omitempty"`
	URL   string `json:"url,omitempty"`
}

type fakeMessage struct {
	ID      string       `json:"id"`
	TS      int64        `json:"ts"`
	Sender  fakeSender   `json:"sender"`
	Text    string       `json:"text"`
	HTML    string       `json:"html,omitempty"`
	Edited  bool         `json:"edited,omitempty"`
	Actions []fakeAction `json:"actions,omitempty"`
}

// fakeEvent is one Server-Sent Event; data is JSON, encoded when it was
// published.
type fakeEvent struct {
	id, name string
	data     []byte
}

func fakeEv(id, name string, v any) fakeEvent {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return fakeEvent{id, name, data}
}

// fakeSend is one POST messages: what came and the id it got, if any.
type fakeSend struct{ TxnID, Body, ID string }

type fakeSessionCall struct{ Account, Token string }

var (
	fakeAgent    = fakeSender{ID: "@grace:example.com", Name: "Grace Hopper", Kind: "agent"}
	fakeBilling  = fakeSender{ID: "@stripe_main:example.com", Name: "Billing", Kind: "billing"}
	fakeBot      = fakeSender{ID: "@stripebot:example.com", Name: "Stripe bot", Kind: "bot"}
	fakeCustomer = fakeSender{ID: "@stripe_main_cus_1:example.com", Name: "Ada Lovelace", Kind: "customer"}
)

const (
	fakeExpiredMessage = "Your chat sign-in has expired. Please reload the page."
	fakeFailMessage    = "Chat is having trouble right now. Please try again in a moment."
	fakeGreeting       = "Questions about your bill? Ask here."
	fakeXSSText        = `<img src=x onerror="window.__xss='text'">`
	fakeXSSHTML        = `<p>Hi <img src=x onerror="window.__xss='html'"><a href="javascript:window.__xss='link'">there</a> <b onclick="window.__xss='click'">!</b></p>`
	// fakeJSLink is what gets past a CSP check: the CSP would report (and
	// block) fakeXSSHTML's handlers as soon as they are parsed.
	fakeJSLink = `<p>Hi <a href="javascript:window.__xss='link'">there</a></p>`
)

// fakeAPI is the bridge's web chat API as docs/webchat.md describes it, in
// memory: one account ("main"), one customer.
type fakeAPI struct {
	mu         sync.Mutex
	hostOrigin string
	noCSP      bool
	timeline   []*fakeMessage // oldest first
	readUpTo   string
	events     []fakeEvent // everything the stream has carried, oldest first
	subs       map[chan fakeEvent]bool
	sessions   map[string]bool
	calls      []fakeSessionCall
	sends      []fakeSend
	txns       map[string]string
	failOnce   map[string]bool
	reads      []string
	lastIDs    []string // the Last-Event-ID of each stream connection
	seq        int
}

func fakeNewAPI(msgs ...*fakeMessage) *fakeAPI {
	f := &fakeAPI{subs: map[chan fakeEvent]bool{}, sessions: map[string]bool{}, txns: map[string]string{}, failOnce: map[string]bool{}}
	for _, m := range msgs {
		f.timeline = append(f.timeline, m)
		f.events = append(f.events, fakeEv(m.ID, "message", m))
	}
	return f
}

func fakeTS(i int) int64 { return time.Now().Add(-time.Hour).UnixMilli() + int64(i)*1000 }

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fakeError(w http.ResponseWriter, status int, code, message string) {
	fakeJSON(w, status, map[string]string{"error": code, "message": message})
}

func (f *fakeAPI) handler() http.Handler {
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /webchat/v1/", http.StripPrefix("/webchat/v1/", http.FileServerFS(static)))
	mux.HandleFunc("GET /webchat/v1/frame", func(w http.ResponseWriter, r *http.Request) {
		data, _ := fs.ReadFile(static, "frame.html")
		f.mu.Lock()
		if !f.noCSP {
			// What the real server sends.
			w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "+
				"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors "+f.hostOrigin)
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(data)
	})
	mux.HandleFunc("POST /webchat/v1/api/session", f.session)
	mux.HandleFunc("GET /webchat/v1/api/history", f.authed(f.history))
	mux.HandleFunc("GET /webchat/v1/api/stream", f.authed(f.stream))
	mux.HandleFunc("POST /webchat/v1/api/messages", f.authed(f.send))
	mux.HandleFunc("POST /webchat/v1/api/read", f.authed(f.read))
	return mux
}

func (f *fakeAPI) session(w http.ResponseWriter, r *http.Request) {
	var req struct{ Account, Token string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fakeError(w, 400, "bad_request", "bad request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeSessionCall{req.Account, req.Token})
	switch {
	case req.Token == "expired-token":
		fakeError(w, 401, "token_expired", fakeExpiredMessage)
	case req.Account != "main":
		fakeError(w, 401, "wrong_account", "This chat could not sign you in (the sign-in token is for another account).")
	case !strings.HasPrefix(req.Token, "good-token"):
		fakeError(w, 401, "token_invalid", "This chat could not sign you in. Please reload the page.")
	default:
		f.seq++
		sess := fmt.Sprintf("wcs_fake%d", f.seq)
		f.sessions[sess] = true
		fakeJSON(w, 200, map[string]any{
			"session": sess, "expires_at": time.Now().Add(12 * time.Hour).Unix(),
			"customer": map[string]string{"name": "Ada Lovelace"}, "title": "Billing support",
			"greeting": fakeGreeting, "accent_color": "#0a7d5a",
		})
	}
}

func (f *fakeAPI) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		ok := f.sessions[tok]
		f.mu.Unlock()
		if !ok {
			fakeError(w, 401, "session_ended", "Your chat session has ended. Please reload the page.")
			return
		}
		h(w, r)
	}
}

// history pages newest first; the cursor is the index of the oldest
// message already sent.
func (f *fakeAPI) history(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 30
	}
	end := len(f.timeline)
	if b := r.URL.Query().Get("before"); b != "" {
		end, _ = strconv.Atoi(b)
	}
	start := max(0, end-limit)
	out := []*fakeMessage{}
	for i := end - 1; i >= start; i-- {
		out = append(out, f.timeline[i])
	}
	var next, read any
	if start > 0 {
		next = strconv.Itoa(start)
	}
	if f.readUpTo != "" {
		read = f.readUpTo
	}
	fakeJSON(w, 200, map[string]any{"messages": out, "next": next, "read_up_to": read})
}

func (f *fakeAPI) stream(w http.ResponseWriter, r *http.Request) {
	flusher := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(200)
	write := func(ev fakeEvent) bool {
		var b strings.Builder
		if ev.id != "" {
			fmt.Fprintf(&b, "id: %s\n", ev.id)
		}
		// Split across lines and CRLFs, as a server may.
		fmt.Fprintf(&b, "event: %s\r\ndata: %s\n\n", ev.name, ev.data)
		if _, err := w.Write([]byte(b.String())); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	last := r.Header.Get("Last-Event-ID")
	ch := make(chan fakeEvent, 64)
	f.mu.Lock()
	f.lastIDs = append(f.lastIDs, last)
	var missed []fakeEvent
	if last != "" {
		found := false
		for i, ev := range f.events {
			if ev.id == last {
				missed, found = append(missed, f.events[i+1:]...), true
				break
			}
		}
		if !found {
			missed = []fakeEvent{fakeEv("", "reset", map[string]bool{"reset": true})}
		}
	}
	f.subs[ch] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	if !write(fakeEv("", "ready", map[string]bool{"ok": true})) {
		return
	}
	for _, ev := range missed {
		if !write(ev) {
			return
		}
	}
	ping := time.NewTicker(10 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok || !write(ev) {
				return
			}
		case <-ping.C:
			_, _ = w.Write([]byte(": keep-alive\n\n"))
			flusher.Flush()
		}
	}
}

// publish puts an event on the live streams (and in the log they resume
// from). Call with f.mu held.
func (f *fakeAPI) publish(ev fakeEvent) {
	f.events = append(f.events, ev)
	for ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

func (f *fakeAPI) add(m *fakeMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeline = append(f.timeline, m)
	f.publish(fakeEv(m.ID, "message", m))
}

func (f *fakeAPI) edit(id, text string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	evID := fmt.Sprintf("$edit%d", f.seq)
	for _, m := range f.timeline {
		if m.ID == id {
			m.Text, m.HTML, m.Edited = text, "", true
			// As the real server does: the edit's own time.
			edited := *m
			edited.TS = time.Now().UnixMilli()
			f.publish(fakeEv(evID, "message", &edited))
		}
	}
	return evID
}

func (f *fakeAPI) redact(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	evID := fmt.Sprintf("$redaction%d", f.seq)
	for i, m := range f.timeline {
		if m.ID == id {
			f.timeline = append(f.timeline[:i], f.timeline[i+1:]...)
			break
		}
	}
	f.publish(fakeEv(evID, "redaction", map[string]string{"id": id}))
	return evID
}

// dropStreams ends every open stream, as a restart or a network cut would.
func (f *fakeAPI) dropStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		close(ch)
		delete(f.subs, ch)
	}
}

// forget loses the stream's log, as a server that no longer knows where a
// reconnecting stream was: it answers with "reset".
func (f *fakeAPI) forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = nil
}

// endSessions ends every session, as unlinking the customer does.
func (f *fakeAPI) endSessions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.sessions)
	f.publish(fakeEv("", "session_ended", map[string]string{"error": "session_ended", "message": "Your chat session has ended. Please reload the page."}))
}

func (f *fakeAPI) send(w http.ResponseWriter, r *http.Request) {
	var req struct {
		TxnID string `json:"txn_id"`
		Body  string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`).MatchString(req.TxnID) {
		fakeError(w, 400, "bad_request", "bad request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sends = append(f.sends, fakeSend{TxnID: req.TxnID, Body: req.Body})
	if id, ok := f.txns[req.TxnID]; ok {
		f.sends[len(f.sends)-1].ID = id
		fakeJSON(w, 200, map[string]string{"id": id})
		return
	}
	if f.failOnce[req.Body] {
		delete(f.failOnce, req.Body)
		fakeError(w, 503, "unavailable", fakeFailMessage)
		return
	}
	f.seq++
	m := &fakeMessage{ID: fmt.Sprintf("$sent%d", f.seq), TS: time.Now().UnixMilli(), Sender: fakeCustomer, Text: req.Body}
	f.txns[req.TxnID] = m.ID
	f.sends[len(f.sends)-1].ID = m.ID
	f.timeline = append(f.timeline, m)
	if len(f.txns)%2 == 1 {
		// The real server's order: the stream has it before the answer.
		f.publish(fakeEv(m.ID, "message", m))
	} else {
		// The other order: the answer first, the stream a little later.
		go func() {
			time.Sleep(150 * time.Millisecond)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.publish(fakeEv(m.ID, "message", m))
		}()
	}
	fakeJSON(w, 200, map[string]string{"id": m.ID})
}

func (f *fakeAPI) read(w http.ResponseWriter, r *http.Request) {
	var req struct{ ID string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !strings.HasPrefix(req.ID, "$") {
		fakeError(w, 400, "bad_request", "bad request")
		return
	}
	f.mu.Lock()
	f.reads = append(f.reads, req.ID)
	f.readUpTo = req.ID
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeAPI) snapshot() (calls []fakeSessionCall, sends []fakeSend, reads, lastIDs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(calls, f.calls...), append(sends, f.sends...), append(reads, f.reads...), append(lastIDs, f.lastIDs...)
}

// fakeServe starts the bridge (assets and fake API) and, on another origin,
// the merchant's page, with host pages "/" (the script tag with data-token)
// and "/spa" (boot() with a token that has expired and onTokenExpired).
func fakeServe(t *testing.T, f *fakeAPI) (bridge, host *httptest.Server) {
	bridge = httptest.NewServer(f.handler())
	t.Cleanup(func() {
		// The browser may still hold a stream open: end it, or Close waits.
		f.dropStreams()
		bridge.CloseClientConnections()
		bridge.Close()
	})
	host = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// A hostile page style: the widget must not depend on the host's CSS.
		const head = `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
			`<title>Billing</title><style>div{display:none!important}button{background:red;width:10px}*{font-size:40px}</style></head>` +
			`<body><h1>Your billing</h1><p><button id="pagebutton">Page</button></p>`
		switch r.URL.Path {
		case "/":
			fmt.Fprintf(w, `%s<script src="%s/webchat/v1/embed.js" data-account="main" data-token="good-token" async></script></body></html>`, head, bridge.URL)
		case "/spa":
			fmt.Fprintf(w, `%s<script>
window.__expired = 0;
function start() {
	MatrixStripeChat.boot({account: "main", token: "expired-token", locale: "de-DE", onTokenExpired: function () {
		window.__expired++;
		return new Promise(function (resolve) { window.__resolve = resolve; });
	}});
}
</script><script src="%s/webchat/v1/embed.js" async onload="start()"></script></body></html>`, head, bridge.URL)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(host.Close)
	f.mu.Lock()
	f.hostOrigin = host.URL
	f.mu.Unlock()
	return bridge, host
}

// ---- the tests --------------------------------------------------------------

// TestWidgetBrowser is the merchant's page with the script tag: launcher,
// history, live updates, sending, retrying, actions, edits, redactions,
// resuming, unread badge, keyboard; the frame under the real server's CSP.
func TestWidgetBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	f := fakeNewAPI(
		&fakeMessage{ID: "$m1", TS: fakeTS(1), Sender: fakeBilling, Text: "Invoice INV-1 is open: 20.00 EUR.\nManage billing: https://billing.example.com/portal."},
		&fakeMessage{ID: "$m2", TS: fakeTS(2), Sender: fakeCustomer, Text: "Hi, I have a question."},
		&fakeMessage{ID: "$m3", TS: fakeTS(3), Sender: fakeAgent, Text: "See help", HTML: `<p>See <a href="https://example.com/help">help</a></p>` + fakeJSLink},
		&fakeMessage{ID: "$m4", TS: fakeTS(4), Sender: fakeBot, Text: "Cancel? " + fakeXSSText, Actions: []fakeAction{
			{Label: "Confirm", Send: "!stripe confirm inv_1"}, {Label: "Pay now", URL: "https://pay.example.com/inv_1"},
		}},
	)
	f.readUpTo = "$m2"
	bridge, host := fakeServe(t, f)
	tab := browser.NewTab(t, bridge.URL)
	tab.Do(chromedp.Navigate(host.URL + "/"))

	// The launcher, bottom right, named, closed.
	tab.WaitPage("the launcher", browsertest.Shadow+`var l = root.querySelector('.l'), r = l.getBoundingClientRect();
		return r.width >= 40 && innerWidth - r.right < 40 && innerHeight - r.bottom < 40 && getComputedStyle(l).visibility === 'visible';`)
	if got := tab.Page(browsertest.Shadow + `return root.querySelector('.l').getAttribute('aria-label');`); !strings.HasPrefix(got, "Open support chat") {
		t.Errorf("launcher is named %q", got)
	}
	if src := tab.Page(browsertest.Shadow + `return root.querySelector('iframe').src;`); strings.Contains(src, "good-token") || !strings.HasSuffix(src, "/webchat/v1/frame?account=main") {
		t.Errorf("iframe address %q", src)
	}

	// The history, oldest at the top, loaded while the panel is closed.
	tab.WaitFrame("the history", `return document.querySelectorAll('#log .msg[data-id]').length === 4;`)
	if got := tab.Frame(`return Array.from(document.querySelectorAll('#log .msg')).map(function (e) { return e.dataset.id; }).join(' ');`); got != "$m1 $m2 $m3 $m4" {
		t.Errorf("history order %q", got)
	}
	if calls, _, _, _ := f.snapshot(); len(calls) != 1 || calls[0] != (fakeSessionCall{"main", "good-token"}) {
		t.Errorf("session calls %+v", calls)
	}
	if got := tab.Frame(`return document.getElementById('title').textContent + ' ' + getComputedStyle(document.documentElement).getPropertyValue('--accent').trim();`); got != "Billing support #0a7d5a" {
		t.Errorf("header %q", got)
	}
	if got := tab.Frame(`return document.getElementById('log').getAttribute('role') + ' ' + document.getElementById('log').getAttribute('aria-live');`); got != "log polite" {
		t.Errorf("log role %q", got)
	}
	// Who and when.
	if got := tab.Frame(`var m = document.querySelector('[data-id="$m3"]'); return m.querySelector('.av').textContent + '|' + m.querySelector('.name').textContent + '|' + !!m.querySelector('time[datetime]');`); got != "GH|Grace Hopper|true" {
		t.Errorf("agent message meta %q", got)
	}
	// Links open in a new tab without the opener; markup in text is text.
	if got := tab.Frame(`var a = document.querySelector('[data-id="$m3"] a[href="https://example.com/help"]'); return a.target + ' ' + a.rel;`); got != "_blank noopener noreferrer" {
		t.Errorf("html link %q", got)
	}
	if got := tab.Frame(`var a = document.querySelector('[data-id="$m1"] .body a'); return a.href + ' ' + a.target + ' ' + a.rel;`); got != "https://billing.example.com/portal _blank noopener noreferrer" {
		t.Errorf("text link %q", got)
	}
	if got := tab.Frame(`var b = document.querySelector('[data-id="$m4"] .body'); return b.children.length + '|' + b.textContent;`); got != "0|Cancel? "+fakeXSSText {
		t.Errorf("text with markup rendered as %q", got)
	}
	if got := tab.Frame(`var n = 0; document.querySelectorAll('#log *').forEach(function (e) { Array.from(e.attributes).forEach(function (a) { if (/^on/i.test(a.name) || /javascript:/i.test(a.value)) n++; }); }); return n + ' ' + document.querySelectorAll('#log .body img').length;`); got != "0 0" {
		t.Errorf("handlers, javascript: links and images in the log: %q", got)
	}
	if got := tab.Frame(`var a = document.querySelector('[data-id="$m4"] a.act'); return a.textContent + ' ' + a.href + ' ' + a.target + ' ' + a.rel;`); got != "Pay now https://pay.example.com/inv_1 _blank noopener noreferrer" {
		t.Errorf("url action %q", got)
	}
	if got := tab.Frame(`return document.querySelectorAll('.greeting').length;`); got != "0" {
		t.Errorf("greeting shown in a room with a conversation")
	}

	// Unread while closed: two from the history, one live.
	tab.WaitPage("the unread badge at 2", browsertest.Shadow+`var b = root.querySelector('.b'); return !b.hidden && b.textContent === '2';`)
	f.add(&fakeMessage{ID: "$m5", TS: fakeTS(5), Sender: fakeAgent, Text: "Let me check that for you."})
	tab.WaitFrame("the live message", `return document.querySelector('#log .msg:last-child').dataset.id === '$m5';`)
	tab.WaitPage("the unread badge at 3", browsertest.Shadow+`var b = root.querySelector('.b'); return !b.hidden && b.textContent === '3' && /3 unread messages/.test(root.querySelector('.l').getAttribute('aria-label'));`)
	if _, _, reads, _ := f.snapshot(); len(reads) != 0 {
		t.Errorf("marked read while closed: %v", reads)
	}

	// Open: the newest is read, the badge goes, the composer has the focus.
	tab.ClickLauncher()
	tab.WaitPage("the open panel", browsertest.Shadow+`return root.querySelector('.p').classList.contains('o') && root.querySelector('.l').getAttribute('aria-expanded') === 'true' && getComputedStyle(root.querySelector('.p')).visibility === 'visible';`)
	tab.WaitFor("the read marker", func() bool { _, _, reads, _ := f.snapshot(); return len(reads) > 0 && reads[len(reads)-1] == "$m5" })
	tab.WaitPage("the badge to go", browsertest.Shadow+`return root.querySelector('.b').hidden;`)
	tab.WaitFrame("the focus in the composer", `return document.hasFocus() && document.activeElement.id === 'input';`)

	// Send with the keyboard: Shift+Enter is a new line, Enter sends.
	tab.Do(chromedp.KeyEvent("line one"), chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierShift)), chromedp.KeyEvent("line two"), browsertest.Enter)
	tab.WaitFor("the send", func() bool { _, sends, _, _ := f.snapshot(); return len(sends) == 1 })
	_, sends, _, _ := f.snapshot()
	if sends[0].Body != "line one\nline two" || !regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`).MatchString(sends[0].TxnID) {
		t.Errorf("sent %+v", sends[0])
	}
	tab.WaitFrame("the sent message", `var m = document.querySelector('[data-id="`+sends[0].ID+`"]'); return m && m.classList.contains('mine') && m.querySelector('.body').textContent === 'line one\nline two' && !document.querySelector('.pending') && document.getElementById('input').value === '';`)

	// A failed send is retried with the same transaction id.
	tab.Frame(`document.getElementById('input').focus(); return '';`)
	f.mu.Lock()
	f.failOnce["please fail once"] = true
	f.mu.Unlock()
	tab.Do(chromedp.KeyEvent("please fail once"), browsertest.Enter)
	tab.WaitFrame("the failed send", `return document.querySelector('.pending.failed .st button') && document.getElementById('alert').textContent === `+strconv.Quote(fakeFailMessage)+`;`)
	tab.ClickInFrame(".pending.failed .st button")
	tab.WaitFor("the retry", func() bool { _, sends, _, _ := f.snapshot(); return len(sends) == 3 })
	_, sends, _, _ = f.snapshot()
	tab.WaitFrame("the retried message", `var m = document.querySelector('[data-id="`+sends[len(sends)-1].ID+`"]'); return m && m.querySelector('.body').textContent === 'please fail once' && !document.querySelector('.pending') && document.getElementById('alert').textContent === '';`)
	_, sends, _, _ = f.snapshot()
	if len(sends) != 3 || sends[1].TxnID != sends[2].TxnID || sends[1].TxnID == sends[0].TxnID || sends[1].ID != "" || sends[2].ID == "" {
		t.Errorf("retry sends %+v", sends)
	}

	tab.Shot("desktop-open")

	// An action button sends its text.
	tab.ClickInFrame(`[data-id="$m4"] button.act`)
	tab.WaitFor("the action's send", func() bool {
		_, sends, _, _ := f.snapshot()
		return len(sends) == 4 && sends[3].Body == "!stripe confirm inv_1"
	})
	_, sends, _, _ = f.snapshot()
	tab.WaitFrame("the action's message", `return !!document.querySelector('[data-id="`+sends[3].ID+`"]') && document.querySelector('[data-id="$m4"] button.act').disabled;`)

	// An edit replaces in place; a redaction removes.
	f.edit("$m5", "We fixed it: your card was declined.")
	tab.WaitFrame("the edit", `var m = document.querySelector('[data-id="$m5"]'); return m.querySelector('.body').textContent === 'We fixed it: your card was declined.' && !!m.querySelector('.edited');`)
	redaction := f.redact("$m3")
	tab.WaitFrame("the redaction", `return !document.querySelector('[data-id="$m3"]');`)
	if got, want := tab.Frame(`return Array.from(document.querySelectorAll('#log .msg')).map(function (e) { return e.dataset.id; }).join(' ');`), "$m1 $m2 $m4 $m5 "+sends[0].ID+" "+sends[2].ID+" "+sends[3].ID; got != want {
		t.Errorf("order after edit and redaction %q, want %q", got, want)
	}

	// The stream breaks; what came meanwhile arrives on reconnection,
	// which resumes after the last event seen.
	f.dropStreams()
	f.add(&fakeMessage{ID: "$m6", TS: time.Now().UnixMilli(), Sender: fakeAgent, Text: "Anything else?"})
	tab.WaitFrame("the message sent while disconnected", `return !!document.querySelector('[data-id="$m6"]');`)
	if _, _, _, lastIDs := f.snapshot(); lastIDs[0] != "$m4" || lastIDs[len(lastIDs)-1] != redaction {
		t.Errorf("Last-Event-ID of the streams %q, want first $m4 (the newest of the history) and last %q", lastIDs, redaction)
	}

	// A server that lost the stream's place says "reset": the history is
	// loaded again, with what came meanwhile.
	f.forget()
	f.dropStreams()
	f.mu.Lock()
	f.timeline = append(f.timeline, &fakeMessage{ID: "$m6b", TS: time.Now().UnixMilli(), Sender: fakeAgent, Text: "Found it."})
	f.mu.Unlock()
	tab.WaitFrame("the history after a reset", `return !!document.querySelector('[data-id="$m6b"]') && document.querySelectorAll('#log .msg[data-id="$m6"]').length === 1 && document.getElementById('status').textContent === '';`)

	// Escape closes and gives the focus back to the launcher.
	tab.ClickInFrame("#input")
	tab.Do(chromedp.KeyEvent(kb.Escape))
	tab.WaitPage("the closed panel", browsertest.Shadow+`return !root.querySelector('.p').classList.contains('o') && document.activeElement === host && root.activeElement === root.querySelector('.l') && root.querySelector('.l').getAttribute('aria-expanded') === 'false';`)

	// Closed again: a new message counts.
	f.add(&fakeMessage{ID: "$m7", TS: time.Now().UnixMilli(), Sender: fakeAgent, Text: "I'll be here."})
	tab.WaitPage("the unread badge at 1", browsertest.Shadow+`var b = root.querySelector('.b'); return !b.hidden && b.textContent === '1';`)
	tab.Shot("desktop-closed-badge")

	// The keyboard opens it from the launcher, Escape closes it again.
	tab.Do(chromedp.KeyEvent(kb.Enter))
	tab.WaitPage("the panel opened by keyboard", browsertest.Shadow+`return root.querySelector('.p').classList.contains('o');`)
	tab.WaitFor("the read marker of $m7", func() bool { _, _, reads, _ := f.snapshot(); return reads[len(reads)-1] == "$m7" })
	tab.WaitFrame("the focus in the composer", `return document.activeElement.id === 'input';`)
	tab.Do(chromedp.KeyEvent(kb.Escape))
	tab.WaitPage("the closed panel", browsertest.Shadow+`return !root.querySelector('.p').classList.contains('o');`)

	if got := tab.Frame(`return String(window.__xss);`); got != "undefined" {
		t.Errorf("an XSS payload ran: %s", got)
	}
	if got := tab.Page(browsertest.Shadow + `return getComputedStyle(root.querySelector('.l')).backgroundColor;`); got != "rgb(10, 125, 90)" {
		t.Errorf("launcher colour %q, want the account's accent", got)
	}

	// The session ends (the customer was unlinked): the widget says so and
	// stops; this page has no onTokenExpired to ask for another.
	f.endSessions()
	tab.WaitFrame("the ended session", `return document.getElementById('alert').textContent === 'Your chat session has ended. Please reload the page.' && document.getElementById('input').disabled;`)
	tab.CheckCSP()
}

// TestWidgetBrowserSPA is a single-page app: boot() with a token that has
// expired, the server's message shown, onTokenExpired's fresh token used;
// German from the locale; a phone-sized screen; a long billing history
// paged in when scrolled to the top; the greeting; no CSP, so that only the
// widget stands between XSS payloads and the page; boot() again and
// shutdown().
func TestWidgetBrowserSPA(t *testing.T) {
	browser := browsertest.Start(t)
	var msgs []*fakeMessage
	for i := 1; i <= 35; i++ {
		m := &fakeMessage{ID: fmt.Sprintf("$b%d", i), TS: fakeTS(i), Sender: fakeBilling, Text: fmt.Sprintf("Invoice %d paid.", i)}
		switch i {
		case 34:
			m.Text = fakeXSSText
		case 35:
			m.Text, m.HTML = "Hi there!", fakeXSSHTML
		}
		msgs = append(msgs, m)
	}
	f := fakeNewAPI(msgs...)
	f.noCSP = true
	bridge, host := fakeServe(t, f)
	tab := browser.NewTab(t, bridge.URL)
	tab.Do(chromedp.EmulateViewport(360, 640), chromedp.Navigate(host.URL+"/spa"))

	tab.WaitPage("the German launcher", browsertest.Shadow+`return root.querySelector('.l').getAttribute('aria-label') === 'Support-Chat öffnen';`)
	tab.WaitFrame("the refusal of the expired token", `return document.getElementById('alert').textContent === `+strconv.Quote(fakeExpiredMessage)+` && document.getElementById('input').disabled;`)
	tab.WaitPage("onTokenExpired", `return window.__expired === 1 && typeof window.__resolve === 'function';`)
	if got := tab.Frame(`return document.documentElement.lang + '|' + document.getElementById('input').placeholder;`); got != "de|Nachricht schreiben…" {
		t.Errorf("frame language %q", got)
	}
	tab.Page(`window.__resolve('good-token-2'); return '';`)
	tab.WaitFrame("the history after the fresh token", `return document.querySelectorAll('#log .msg[data-id]').length === 30 && document.getElementById('alert').textContent === '' && !document.getElementById('input').disabled;`)
	if calls, _, _, _ := f.snapshot(); len(calls) != 2 || calls[0].Token != "expired-token" || calls[1].Token != "good-token-2" {
		t.Errorf("session calls %+v", calls)
	}
	// The greeting: after the billing messages, as the conversation's start.
	if got := tab.Frame(`var g = document.querySelector('#log .greeting'); return g ? g.querySelector('.body').textContent + '|' + (g === document.getElementById('log').lastElementChild) : 'none';`); got != fakeGreeting+"|true" {
		t.Errorf("greeting %q", got)
	}

	// A phone: the panel is the whole screen and nothing scrolls sideways.
	tab.ClickLauncher()
	tab.WaitPage("the full-screen panel", browsertest.Shadow+`var r = root.querySelector('.p').getBoundingClientRect(); return root.querySelector('.p').classList.contains('o') && r.left === 0 && r.top === 0 && r.width === 360 && r.height === 640;`)
	if got := tab.Frame(`return document.documentElement.scrollWidth + ' ' + innerWidth;`); got != "360 360" {
		t.Errorf("frame width at 360 px: %q", got)
	}
	tab.WaitFor("the read marker", func() bool { _, _, reads, _ := f.snapshot(); return len(reads) == 1 && reads[0] == "$b35" })
	tab.Shot("phone-open")
	if os.Getenv(browsertest.ScreenshotsEnv) != "" {
		_, err := chromedp.Call(tab.Context(), emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		if err != nil {
			t.Fatal(err)
		}
		tab.Shot("phone-open-dark")
	}

	// Scrolled to the top, the earlier messages come in above.
	tab.Frame(`document.getElementById('scroll').scrollTop = 0; return '';`)
	tab.WaitFrame("the earlier page", `return document.querySelectorAll('#log .msg[data-id]').length === 35 && document.getElementById('earlier').hidden;`)
	if got := tab.Frame(`return Array.from(document.querySelectorAll('#log .msg[data-id]')).map(function (e) { return e.dataset.id; }).slice(0, 7).join(' ');`); got != "$b1 $b2 $b3 $b4 $b5 $b6 $b7" {
		t.Errorf("order after the earlier page: %q", got)
	}

	// No CSP here: the widget itself keeps the payloads inert.
	time.Sleep(300 * time.Millisecond)
	if got := tab.Frame(`return String(window.__xss) + '|' + document.querySelector('[data-id="$b34"] .body').textContent + '|' + document.querySelectorAll('#log img').length;`); got != "undefined|"+fakeXSSText+"|0" {
		t.Errorf("XSS: %q", got)
	}
	tab.ClickInFrame(`[data-id="$b35"] .body b`)
	tab.ClickInFrame(`[data-id="$b35"] .body a`)
	time.Sleep(200 * time.Millisecond)
	if got := tab.Frame(`return String(window.__xss);`); got != "undefined" {
		t.Errorf("an XSS payload ran: %s", got)
	}

	// boot() replaces the instance; shutdown() removes it.
	tab.Page(`MatrixStripeChat.boot({account: 'main', token: 'good-token-3'}); return '';`)
	tab.WaitPage("one instance", `return document.querySelectorAll('[data-matrix-stripe-chat]').length === 1 && !document.querySelector('[data-matrix-stripe-chat]').shadowRoot.querySelector('.p').classList.contains('o');`)
	tab.WaitFor("the new instance's session", func() bool {
		calls, _, _, _ := f.snapshot()
		return len(calls) == 3 && calls[2].Token == "good-token-3"
	})
	tab.Page(`MatrixStripeChat.shutdown(); return '';`)
	if got := tab.Page(`return document.querySelectorAll('[data-matrix-stripe-chat]').length;`); got != "0" {
		t.Errorf("%s instances after shutdown", got)
	}
}
