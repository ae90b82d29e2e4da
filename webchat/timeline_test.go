package webchat

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-stripe/matrix-stripe/portal"
)

// Only text formatting and safe links survive; links open in a new tab
// without the opener; pills become names.
func TestSanitize(t *testing.T) {
	cases := map[string]string{
		`<b>bold</b> <img src=x onerror="alert(1)">`:                         `<b>bold</b>`,
		`<a href="javascript:alert(1)">x</a>`:                                `x`,
		`<script>alert(1)</script>hi`:                                        `hi`,
		`<p style="color:red" onclick="x()">p</p>`:                           `<p>p</p>`,
		`<mx-reply><blockquote>quoted</blockquote></mx-reply>answer`:         `answer`,
		`ask <a href="https://matrix.to/#/@agent:example.com">Agent A</a>`:   `ask Agent A`,
		`<a href="https://invoice.stripe.com/i/x">Pay</a>`:                   `<a href="https://invoice.stripe.com/i/x" rel="nofollow noreferrer noopener" target="_blank">Pay</a>`,
		`<svg><a xlink:href="javascript:alert(1)">y</a></svg><iframe src=x>`: `y`,
	}
	for in, want := range cases {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := stripPlainFallback("> <@a:b> hi\n\nanswer"); got != "answer" {
		t.Errorf("reply fallback kept: %q", got)
	}
	if strings.Contains(sanitize(`<a href="http://x.example">x</a>`), "_self") {
		t.Error("link does not open in a new tab")
	}
}

func TestSatisfactionQuestionHasButtons(t *testing.T) {
	msg := &Message{Sender: Sender{Kind: "bot"}}
	content := &event.MessageEventContent{MsgType: event.MsgNotice, Body: "Did we solve it?"}
	got := actionsOf(msg, map[string]any{portal.CSATKey: true}, content)
	if len(got) != 2 || got[0].Send != "👍" || got[1].Send != "👎" || got[0].Kind != "csat" {
		t.Errorf("actions of the question: %+v", got)
	}
	if got := actionsOf(msg, map[string]any{}, content); len(got) != 0 {
		t.Errorf("actions of another notice: %+v", got)
	}
}
