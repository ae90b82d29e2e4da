package commands

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix/format"
)

// render is what mautrix's ce.Reply does with a reply's markdown.
func render(md string) (body, html string) {
	content := format.RenderMarkdown(md, true, false)
	return content.Body, content.FormattedBody
}

func TestPlainEscapesStripeText(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantBody string   // what a plain-text client shows
		notHTML  []string // what must not appear in the HTML
	}{
		{"script tag", "<script>alert(1)</script>", "<script>alert(1)</script>", []string{"<script", "</script"}},
		{"bold", "*bold* and __strong__", "*bold* and __strong__", []string{"<em>", "<strong>"}},
		{"link", "[click](https://evil.example)", "[click](https://evil.example)", []string{"<a ", "href"}},
		{"image", "![x](https://evil.example/x.png)", "![x](https://evil.example/x.png)", []string{"<img"}},
		{"html entity", "Tom &amp; Jerry", "Tom &amp; Jerry", []string{"Tom &amp; Jerry"}},
		{"heading and list", "# Big\n- item", "# Big - item", []string{"<h1", "<li", "<br"}},
		{"spoiler and strike", "||secret|| ~~gone~~", "||secret|| ~~gone~~", []string{"<span", "<del"}},
		{"code", "`x` <b>", "`x` <b>", []string{"<code>", "<b>"}},
		{"unicode stays", "Zoë Ærø 日本", "Zoë Ærø 日本", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, html := render("Name: " + plain(tt.in))
			if body != "Name: "+tt.wantBody {
				t.Errorf("body = %q, want %q", body, "Name: "+tt.wantBody)
			}
			for _, bad := range tt.notHTML {
				if strings.Contains(html, bad) {
					t.Errorf("HTML %q contains %q", html, bad)
				}
			}
		})
	}
}

func TestLinkOnlyForHTTPS(t *testing.T) {
	tests := []struct {
		url  string
		want string // substring of the HTML; "" means no link at all
	}{
		{"https://invoice.stripe.com/i/acct_1/test_abc?s=ap", `href="https://invoice.stripe.com/i/acct_1/test_abc?s=ap"`},
		{"https://pay.stripe.com/a)b(c", `href="https://pay.stripe.com/a%29b%28c"`},
		{"javascript:alert(1)", ""},
		{"http://invoice.stripe.com/i/x", ""},
		{"https://user:pw@evil.example/", ""},
		{"", ""},
	}
	for _, tt := range tests {
		l := link("Pay *now*", tt.url)
		if tt.want == "" {
			if l != "" {
				t.Errorf("%q: want no link, got %q", tt.url, l)
			}
			continue
		}
		_, html := render(l)
		if !strings.Contains(html, tt.want) || strings.Contains(html, "<em>") {
			t.Errorf("%q: HTML %q, want %q", tt.url, html, tt.want)
		}
	}
}

func TestSmallFormatters(t *testing.T) {
	if got := day(1717200000); got != "1 Jun 2024" {
		t.Errorf("day = %q", got)
	}
	if got := card("visa", "4242"); got != "Visa •••• 4242" {
		t.Errorf("card = %q", got)
	}
	if got := card("", ""); got != "Card" {
		t.Errorf("empty card = %q", got)
	}
	if got := words("requested_by_customer"); got != "requested by customer" {
		t.Errorf("words = %q", got)
	}
	if got := balanceText(-1500, "usd"); got != "$15.00 credit (taken off the next invoice)" {
		t.Errorf("balance = %q", got)
	}
}
