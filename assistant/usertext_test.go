package assistant

import (
	"net/http"
	"strings"
	"testing"

	"maunium.net/go/mautrix/format"
)

// hidden are the characters that must never reach a room: a right-to-left
// override reorders what follows it, a zero-width space hides inside a word.
const hidden = "\u202E\u200B"

// rendered is what the bridge sends for a reply (bridge/assistant.go).
func rendered(reply string) (body, html string) {
	c := format.RenderMarkdown(reply, true, false)
	return c.Body, c.FormattedBody
}

func TestRuleAnswersStripBidiAndZeroWidth(t *testing.T) {
	d := twoCustomers()
	d.subs["cus_A"][0].Items.Data[0].Price.Nickname = "Pro\u202E \u200B[monthly]\u2066"
	d.invoices["cus_A"][0].Number = "A\u202E-00\u200B01"
	cases := map[string]string{
		"upgrade my plan":        "Pro [monthly]",
		"cancel my subscription": "Pro [monthly]",
		"show my invoices":       "A-0001",
	}
	for q, want := range cases {
		t.Run(q, func(t *testing.T) {
			res := answer(t, d, "cus_A", q)
			if strings.ContainsAny(res.Reply, hidden+"\u2066") {
				t.Errorf("reply keeps a bidi or zero-width character: %+q", res.Reply)
			}
			body, html := rendered(res.Reply)
			if !strings.Contains(body, want) || strings.ContainsAny(body+html, hidden) {
				t.Errorf("rendered body %+q / %+q, want %q and nothing hidden", body, html, want)
			}
		})
	}
}

// TestLLMAnswerStripsBidiAndZeroWidth: the model repeats a customer's name
// with the override the customer put in it; the room gets the name without
// it, and the markdown's layout survives.
func TestLLMAnswerStripsBidiAndZeroWidth(t *testing.T) {
	_, e := startLLM(t, func(w http.ResponseWriter, req llmReq, round int) {
		writeText(w, "Hi \u202EAda\u200B Lovelace\u202C,\n\n- next bill: **$49.00**\u2066 on 1 Apr 2024\uFEFF")
	})
	res := llmAnswer(t, e, twoCustomers(), "when is my next bill")
	want := "Hi Ada Lovelace,\n\n- next bill: **$49.00** on 1 Apr 2024"
	if res.Reply != want {
		t.Fatalf("reply %+q, want %+q", res.Reply, want)
	}
}

// TestEscIsUsertext pins the assistant to the shared helper: whatever it
// escapes comes out of rendering as the cleaned text.
func TestEscIsUsertext(t *testing.T) {
	in := "<b>\u202E*Ada*\u200B</b>\n[x](https://evil.example)"
	body, html := rendered("Plan " + esc(in))
	if body != "Plan <b>*Ada*</b> [x](https://evil.example)" || strings.ContainsAny(html, hidden) || strings.Contains(html, "<a ") {
		t.Errorf("esc renders as %+q / %+q", body, html)
	}
}
