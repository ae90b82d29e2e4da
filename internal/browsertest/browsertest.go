// Package browsertest drives headless Chromium for the web pages' tests.
//
// It is made for the web chat: a host page (the merchant's, on one origin)
// that embeds the widget (embed.js, a launcher in a shadow root) and its
// chat frame (an iframe on the bridge's origin). A [Browser] is one
// Chromium; a [Tab] is one of its tabs, which evaluates JavaScript in the
// host page or in the chat frame, clicks with real mouse events, waits for
// conditions, records what a Content-Security-Policy refused and saves
// screenshots into $WEBCHAT_SCREENSHOTS when that names a directory.
//
// Without Chromium the tests skip, loudly; with REQUIRE_BROWSER=1 (as CI
// sets it) they fail instead.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ScreenshotsEnv names the environment variable that, when set to a
// directory, makes [Tab.Shot] save screenshots there.
const ScreenshotsEnv = "WEBCHAT_SCREENSHOTS"

// DefaultTimeout is how long the waits of a new [Tab] wait.
const DefaultTimeout = 10 * time.Second

// Shadow is a prefix for the function bodies given to [Tab.Page] and
// [Tab.WaitPage]: it defines host (the widget's element) and root (its shadow
// root, where the launcher .l, its badge .b and the panel .p are).
const Shadow = `var host = document.querySelector('[data-matrix-stripe-chat]'); var root = host && host.shadowRoot; `

// Chromium returns the path of a Chromium (or Chrome) to drive. Without one
// it skips the test, or fails it when REQUIRE_BROWSER=1.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REQUIRE_BROWSER") == "1" {
		t.Fatal("REQUIRE_BROWSER=1 but no chromium on PATH: run scripts/install-tools.sh as root")
	}
	t.Skip("!!! SKIPPING the browser test: no chromium on PATH (run scripts/install-tools.sh as root; REQUIRE_BROWSER=1 makes this a failure) !!!")
	return ""
}

// Browser is one headless Chromium, closed when the test that started it
// ends. Its tabs ([Browser.NewTab]) may belong to that test's subtests.
type Browser struct {
	ctx context.Context // the browser's first tab
}

// Start starts a headless Chromium (1280×900) for the test.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return &Browser{ctx: ctx}
}

// cspRecorder runs in every document of a tab before its own scripts: it
// notes what the document's CSP refused in window.__csp.
const cspRecorder = `
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
	window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber);
});`

// Tab is a browser tab on a host page, and the chat frame in it: the frame
// is the document of frameOrigin (the bridge's origin) in the tab.
type Tab struct {
	t           testing.TB
	ctx         context.Context
	frameOrigin string
	// Timeout is how long the waits wait; DefaultTimeout unless changed.
	Timeout time.Duration
	// FrameElement is a JavaScript expression for the frame's element in
	// the host page, for ClickInFrame; empty means the web chat's frame.
	FrameElement string

	mu          sync.Mutex
	frame       runtime.ExecutionContextID
	frameUnique string
}

// NewTab opens a blank tab, closed when t ends; frameOrigin is the origin
// of the chat frame ("http://127.0.0.1:8080") that [Tab.Frame] evaluates in.
// Navigate it with [Tab.Navigate] or [Tab.Do].
func (b *Browser) NewTab(t testing.TB, frameOrigin string) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	tab := &Tab{t: t, ctx: ctx, frameOrigin: frameOrigin, Timeout: DefaultTimeout}
	// Listen before anything loads, so no context is missed; in the
	// order of the events, so a reload's "cleared" comes before the new
	// frame's context.
	err := chromedp.Listen(ctx, func(ev any) {
		tab.mu.Lock()
		defer tab.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExecutionContextCreated:
			var aux struct {
				IsDefault bool `json:"isDefault"`
			}
			_ = json.Unmarshal([]byte(ev.Context.AuxData), &aux)
			if aux.IsDefault && ev.Context.Origin == tab.frameOrigin {
				tab.frame, tab.frameUnique = ev.Context.ID, ev.Context.UniqueID
			}
		case *runtime.EventExecutionContextDestroyed:
			// The frame went (a reload, a shutdown): until a new one has a
			// context, evaluating in the frame fails rather than reaching
			// a dead one.
			if ev.ExecutionContextUniqueID == tab.frameUnique {
				tab.frame, tab.frameUnique = 0, ""
			}
		case *runtime.EventExecutionContextsCleared:
			tab.frame, tab.frameUnique = 0, ""
		}
	})
	if err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder}); err != nil {
		t.Fatalf("preparing the tab: %v", err)
	}
	return tab
}

// Context is the tab's chromedp context, for actions this package lacks.
func (tab *Tab) Context() context.Context { return tab.ctx }

// Do runs actions in the tab, failing the test on an error.
func (tab *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	if err := chromedp.Do(tab.ctx, actions...); err != nil {
		tab.t.Fatal(err)
	}
}

// Navigate loads url in the tab.
func (tab *Tab) Navigate(url string) {
	tab.t.Helper()
	tab.Do(chromedp.Navigate(url))
}

// Reload reloads the page.
func (tab *Tab) Reload() {
	tab.t.Helper()
	tab.Do(chromedp.Reload())
}

// Eval evaluates a JavaScript expression in the host page or (inFrame) in
// the chat frame and returns its value.
func Eval[T any](tab *Tab, inFrame bool, expr string) (T, error) {
	var opts []chromedp.EvaluateOption
	if inFrame {
		tab.mu.Lock()
		id := tab.frame
		tab.mu.Unlock()
		if id == 0 {
			var zero T
			return zero, fmt.Errorf("the chat frame has no execution context yet")
		}
		opts = append(opts, func(p *runtime.EvaluateParams) { p.ContextID = id })
	}
	return chromedp.Run(tab.ctx, chromedp.Evaluate[T](expr, opts...))
}

// Page and Frame run a function body in the host page or the chat frame and
// return what it returns, as a string.
func (tab *Tab) Page(body string) string  { tab.t.Helper(); return tab.must(false, body) }
func (tab *Tab) Frame(body string) string { tab.t.Helper(); return tab.must(true, body) }

func (tab *Tab) must(inFrame bool, body string) string {
	tab.t.Helper()
	v, err := Eval[string](tab, inFrame, `String((function () { `+body+` })())`)
	if err != nil {
		tab.t.Fatalf("evaluating %q: %v", body, err)
	}
	return v
}

// FrameState is evaluated in the chat frame when a wait times out, to say
// what the widget showed.
const FrameState = `(function () { var t = function (id) { var e = document.getElementById(id); return e ? e.textContent : '(none)'; };
	var log = document.getElementById('log');
	return 'alert: ' + t('alert') + '; status: ' + t('status') + '; log: ' + (log ? log.innerHTML : '(none)'); })()`

// WaitPage and WaitFrame poll a function body in the host page or the chat
// frame until it returns something true (a throw counts as false), failing
// the test after tab.Timeout.
func (tab *Tab) WaitPage(what, body string)  { tab.t.Helper(); tab.wait(false, what, body) }
func (tab *Tab) WaitFrame(what, body string) { tab.t.Helper(); tab.wait(true, what, body) }

func (tab *Tab) wait(inFrame bool, what, body string) {
	tab.t.Helper()
	deadline := time.Now().Add(tab.Timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := Eval[bool](tab, inFrame, `(function () { try { return !!(function () { `+body+` })(); } catch (e) { return false; } })()`)
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	where, state := "page", ""
	if inFrame {
		where = "frame"
		state, _ = Eval[string](tab, true, FrameState)
	}
	tab.Shot(strings.NewReplacer("/", "_", " ", "_").Replace(tab.t.Name()) + "-timeout")
	tab.t.Fatalf("timed out after %s waiting for %s (in the %s; last error %v) %s", tab.Timeout, what, where, last, state)
}

// WaitFor polls a Go condition until it holds, failing the test after
// tab.Timeout.
func (tab *Tab) WaitFor(what string, cond func() bool) {
	tab.t.Helper()
	for deadline := time.Now().Add(tab.Timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	tab.t.Fatalf("timed out after %s waiting for %s", tab.Timeout, what)
}

// Enter is the Enter key with no char event after it: chromedp's KeyEvent
// sends one, which types a line break even when the keydown was cancelled
// (a real keyboard's does not), see chromedp's docs/API.md.
var Enter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

// Type types text with the keyboard into whatever has the focus.
func (tab *Tab) Type(text string) {
	tab.t.Helper()
	tab.Do(chromedp.KeyEvent(text))
}

// ClickLauncher clicks the widget's launcher with the mouse, where it is
// drawn.
func (tab *Tab) ClickLauncher() {
	tab.t.Helper()
	var xy []float64
	raw := tab.Page(Shadow + `var r = root.querySelector('.l').getBoundingClientRect(); return JSON.stringify([r.left + r.width / 2, r.top + r.height / 2]);`)
	if err := json.Unmarshal([]byte(raw), &xy); err != nil {
		tab.t.Fatal(err)
	}
	tab.Do(chromedp.MouseClickXY(xy[0], xy[1]))
}

// ClickInFrame clicks the first element of the chat frame that matches a
// selector with the mouse (scrolled into view first).
func (tab *Tab) ClickInFrame(selector string) {
	tab.t.Helper()
	var outer, inner []float64
	frame := Shadow + `var f = root.querySelector('iframe');`
	if tab.FrameElement != "" {
		frame = `var f = ` + tab.FrameElement + `;`
	}
	if err := json.Unmarshal([]byte(tab.Page(frame+` var r = f.getBoundingClientRect(); return JSON.stringify([r.left, r.top]);`)), &outer); err != nil {
		tab.t.Fatal(err)
	}
	sel, _ := json.Marshal(selector)
	raw := tab.Frame(`var e = document.querySelector(` + string(sel) + `); e.scrollIntoView({block: 'nearest'}); var r = e.getBoundingClientRect(); return JSON.stringify([r.left + r.width / 2, r.top + r.height / 2]);`)
	if err := json.Unmarshal([]byte(raw), &inner); err != nil {
		tab.t.Fatal(err)
	}
	tab.Do(chromedp.MouseClickXY(outer[0]+inner[0], outer[1]+inner[1]))
}

// Shot saves a screenshot as $WEBCHAT_SCREENSHOTS/name.png, when that is
// set.
func (tab *Tab) Shot(name string) {
	tab.t.Helper()
	dir := os.Getenv(ScreenshotsEnv)
	if dir == "" {
		return
	}
	time.Sleep(300 * time.Millisecond) // the panel's transition
	png, err := chromedp.Run(tab.ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		tab.t.Errorf("screenshot %s: %v", name, err)
	}
}

// CSPViolations returns what the CSP of the host page or (inFrame) the chat
// frame refused, "; "-separated; empty when nothing was.
func (tab *Tab) CSPViolations(inFrame bool) string {
	tab.t.Helper()
	return tab.must(inFrame, `return window.__csp.join('; ');`)
}

// CheckCSP fails the test when the chat frame's CSP refused anything.
func (tab *Tab) CheckCSP() {
	tab.t.Helper()
	if v := tab.CSPViolations(true); v != "" {
		tab.t.Errorf("the chat frame broke its CSP: %s", v)
	}
}
