package e2e

// The agent panel in headless Chromium against the real bridge, Dendrite
// and the fake Stripe: a stand-in for Element (another origin) frames the
// panel and hands it the OpenID token Dendrite issued to the signed-in
// user, as Element does for get_openid.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/matrix-stripe/matrix-stripe/config"
	"github.com/matrix-stripe/matrix-stripe/internal/browsertest"
)

// An agent in Element sees the customer's billing in the panel and
// refunds a payment with the confirmation shown there: one Stripe refund,
// its result posted in the room. A customer who opens it sees "for
// support staff" and nothing of the billing.
func TestPanelInBrowser(t *testing.T) {
	browser := browsertest.Start(t)
	fake := scenarioFake(t, commandsScenario)
	s := startStack(t, stackOptions{fake: fake, configure: func(cfg *config.Config) {
		enablePanel(cfg)
		cfg.Panel.PublicURL = cfg.AppService.Address
	}})
	base, bot := s.cfg.AppService.Address, s.cfg.BotMXID()
	agent, alice := s.user(t, "agent"), s.user(t, "alice")
	room := aliceRoom(t, s, fake, agent, alice)
	inv, err := fake.Client().Invoices.Get("in_alice_paid", nil)
	if err != nil || inv.Charge == nil {
		t.Fatalf("invoice charge: %v", err)
	}
	charge := inv.Charge.ID
	element := httptest.NewServer(http.HandlerFunc(browsertest.ServeElement))
	t.Cleanup(element.Close)
	open := func(cli *mautrix.Client) *browsertest.Tab {
		tok, err := cli.RequestOpenIDToken(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tab := browser.NewTab(t, base)
		tab.Timeout = browserWait
		tab.FrameElement = `document.getElementById('panel')`
		q := url.Values{"panel": {base + "/panel/v1/?room=" + url.QueryEscape(room.String())}, "token": {tok.AccessToken}, "server": {tok.MatrixServerName}}
		tab.Navigate(element.URL + "/parent.html?" + q.Encode())
		return tab
	}

	t.Run("agent refunds with the confirmation in the panel", func(t *testing.T) {
		tab := open(agent)
		tab.WaitFrame("the customer's billing", `return document.body.innerText.includes('Alice Example') && document.body.innerText.includes('alice@example.com');`)
		tab.WaitFrame("the refund button", `return document.querySelector('button.act-refund[data-id="`+charge+`"]');`)
		tab.ClickInFrame(`button.act-refund[data-id="` + charge + `"]`)
		tab.Frame(`var i = document.querySelector('button.act-submit[data-command="refund"][data-id="` + charge + `"]').closest('.inline-form').querySelector('input[name="amount"]');
			i.value = '12.50'; i.dispatchEvent(new Event('input')); return '';`)
		tab.ClickInFrame(`button.act-submit[data-command="refund"][data-id="` + charge + `"]`)
		tab.WaitFrame("the confirmation", `var b = document.getElementById('confirm-box'); return b && !b.hidden && document.getElementById('confirm-summary').textContent.includes('Refund $12.50');`)
		if n := len(listRefunds(t, fake.Client(), charge)); n != 0 {
			t.Fatalf("refunded before confirmation: %d", n)
		}
		tab.ClickInFrame(`#confirm-go`)
		tab.WaitFrame("the result", `return document.getElementById('action-result').textContent.includes('Refunded $12.50');`)
		if refunds := listRefunds(t, fake.Client(), charge); len(refunds) != 1 || refunds[0].Amount != 1250 {
			t.Fatalf("want one $12.50 refund, got %+v", refunds)
		}
		waitForReply(t, agent, room, bot, "(agent panel): Refunded $12.50")
		if v := tab.CSPViolations(true); v != "" {
			t.Errorf("CSP violations: %s", v)
		}
	})

	t.Run("a customer is refused", func(t *testing.T) {
		tab := open(alice)
		tab.WaitFrame("the refusal", `return document.body.innerText.includes('This panel is for support staff.');`)
		if got := tab.Frame(`return document.body.innerText;`); strings.Contains(got, "alice@example.com") || strings.Contains(got, "$50.00") {
			t.Errorf("the customer saw billing: %q", got)
		}
	})
}
