package usertext

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/format"
)

// everything mixes one of each kind of hostile character into a name.
const everything = "\u202EAda\u202C \u2066Love\u2069lace\u200B\u200C\u200D\u2060\u2061\u2062\u2063\u2064\uFEFF\u180E\u00AD" +
	"\u202A\u202B\u202D\u2067\u2068\u200E\u200F\u061C\x00\x07\x1b[31m\u0085\u009b\n\r\t\u2028\u2029 \u00a0 \U000E0041\u3164"

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"plain text stays", "Zoë Ærø 日本 Ünal", "Zoë Ærø 日本 Ünal"},
		{"right-to-left override", "Invoice \u202Efdp.exe", "Invoice fdp.exe"},
		{"every bidi embedding, override and isolate", "a\u202Ab\u202Bc\u202Cd\u202De\u202Ef", "abcdef"},
		{"isolates and marks", "a\u2066b\u2067c\u2068d\u2069e\u200Ef\u200Fg\u061Ch", "abcdefgh"},
		{"zero-width characters", "ad\u200Bmin\u200C\u200D\u2060\u2061\u2062\u2063\u2064\uFEFF\u180E", "admin"},
		{"soft hyphen", "Ex\u00ADample", "Example"},
		{"tag characters", "hi\U000E0049\U000E0047\U000E004E\U000E004F\U000E0052\U000E0045", "hi"},
		{"Hangul filler as a blank name", "\u3164\u115F\uFFA0", ""},
		{"line breaks and tabs become one space", "  Ada \n\t Lovelace  ", "Ada Lovelace"},
		{"unicode line and paragraph separators", "a\u2028b\u2029c\u0085d", "a b c d"},
		{"C0 and C1 controls", "tab\tand\rreturn\x00 \x1b[31mred\u009b", "tab and return [31mred"},
		{"other spaces collapse", "a\u00A0\u2003\u3000b", "a b"},
		{"invalid UTF-8", "bad \xff utf8", "bad \uFFFD utf8"},
		{"ZWJ emoji stays", "emoji 👩‍💻 stays intact", "emoji 👩‍💻 stays intact"},
		{"skin tone and ZWJ", "👨🏽‍🦰", "👨🏽‍🦰"},
		{"emoji presentation stays", "I ❤️ it 🏳️‍🌈", "I ❤️ it 🏳️‍🌈"},
		{"ZWJ between letters goes", "pay\u200Dpal", "paypal"},
		{"ZWJ after a space goes", "a \u200D💻", "a 💻"},
		{"a chain of selectors keeps one", "x\uFE0F\uFE0F\uFE0E\U000E0100\U000E0101y", "x\uFE0Fy"},
		{"selector with nothing to select", "\uFE0Fa \uFE0Fb", "a b"},
		{"only invisible", "\u202E\u200B\u2066\uFEFF", ""},
		{"everything at once", everything, "Ada Lovelace [31m"},
		{"markup is not Clean's business", "<b>*x*</b>", "<b>*x*</b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
			if again := Clean(got); again != got {
				t.Errorf("not idempotent: Clean(%+q) = %+q", got, again)
			}
		})
	}
}

func TestStrip(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"markdown layout stays", "Your invoices:\n\n- **A**\n    code\n\tx", "Your invoices:\n\n- **A**\n    code\n\tx"},
		{"line breaks normalised", "a\r\nb\rc\u2028d\u2029e\u0085f", "a\nb\nc\nd\ne\nf"},
		{"bidi and zero-width go", "plan **\u202EBasic\u202C**\u200B", "plan **Basic**"},
		{"controls become spaces", "a\x00b\x1bc", "a b c"},
		{"emoji stays", "👩‍💻 ❤️", "👩‍💻 ❤️"},
		{"everything at once", everything, "Ada Lovelace   [31m\n \n\n\t\n\n \u00a0 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Strip(tt.in); got != tt.want {
				t.Errorf("Strip(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"tags", "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"quotes and ampersands", `Tom & "Jerry" 'x'`, "Tom &amp; &#34;Jerry&#34; &#39;x&#39;"},
		{"cleaned first", "<b>\u202E1</b>\n\u200B", "&lt;b&gt;1&lt;/b&gt;"},
		{"everything at once", "<i>" + everything + "</i>", "&lt;i&gt;Ada Lovelace [31m &lt;/i&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTML(tt.in); got != tt.want {
				t.Errorf("HTML(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
		})
	}
}

// render is what mautrix's ce.Reply and the assistant's sender do with a
// message's markdown.
func render(md string) (body, html string) {
	content := format.RenderMarkdown(md, true, false)
	return content.Body, content.FormattedBody
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantBody string   // what a plain-text client shows
		notHTML  []string // what must not appear in the HTML
	}{
		{"script tag", "<script>alert(1)</script>", "<script>alert(1)</script>", []string{"<script", "</script"}},
		{"bold", "*bold* and __strong__", "*bold* and __strong__", []string{"<em>", "<strong>"}},
		{"link", "[click](https://evil.example)", "[click](https://evil.example)", []string{"<a ", "href"}},
		{"bare URL", "www.evil.example https://evil.example", "www.evil.example https://evil.example", []string{"<a ", "href"}},
		{"image", "![x](https://evil.example/x.png)", "![x](https://evil.example/x.png)", []string{"<img"}},
		{"html entity", "Tom &amp; Jerry", "Tom &amp; Jerry", []string{"Tom &amp; Jerry"}},
		{"heading and list", "# Big\n- item", "# Big - item", []string{"<h1", "<li", "<br"}},
		{"spoiler and strike", "||secret|| ~~gone~~", "||secret|| ~~gone~~", []string{"<span", "<del"}},
		{"code", "`x` <b>", "`x` <b>", []string{"<code>", "<b>"}},
		{"unicode stays", "Zoë Ærø 日本", "Zoë Ærø 日本", nil},
		{"bidi and zero-width", "\u202Eevil\u202C\u200B name", "evil name", []string{"\u202E", "\u200B"}},
		{"everything at once", "**" + everything + "**", "**Ada Lovelace [31m **", []string{"<strong>", "\u202E", "\u2066", "\u200B", "\uFEFF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, html := render("Name: " + Markdown(tt.in))
			if body != "Name: "+tt.wantBody {
				t.Errorf("body = %+q, want %+q", body, "Name: "+tt.wantBody)
			}
			for _, bad := range tt.notHTML {
				if strings.Contains(html, bad) {
					t.Errorf("HTML %+q contains %+q", html, bad)
				}
			}
		})
	}
}
