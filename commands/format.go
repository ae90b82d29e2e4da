package commands

import (
	"net/url"
	"strings"
	"time"

	"maunium.net/go/mautrix/format"

	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// dateLayout is how every reply shows a day.
const dateLayout = "2 Jan 2006"

// plain makes free text from Stripe or a user (names, descriptions,
// emails, reasons) safe to put in a markdown reply; see usertext.Markdown.
// The name stays because every reply uses it.
func plain(s string) string { return usertext.Markdown(s) }

// code shows an id or other token verbatim, minus what usertext.Clean
// removes: ids are often echoed from what a user typed, and a bidi override
// inside a code span reorders it just the same.
func code[T ~string](s T) string { return format.SafeMarkdownCode(usertext.Clean(string(s))) }

// money formats minor units in their currency.
func money(amount int64, currency string) string {
	return stripeapi.FormatAmount(amount, currency)
}

// day formats a Unix time as a date; zero means unknown.
func day(unix int64) string {
	if unix <= 0 {
		return "unknown date"
	}
	return time.Unix(unix, 0).UTC().Format(dateLayout)
}

// link is a markdown link to a Stripe-hosted page, or "" when the URL is not
// plain https: a link in the room is something people click, so nothing else
// is ever made clickable.
func link(label, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return ""
	}
	return "[" + plain(label) + "](" + escapeURL(u.String()) + ")"
}

// escapeURL keeps a URL from closing the link destination early.
func escapeURL(s string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "\\", "%5C").Replace(s)
}

// words turns a Stripe enum value (past_due, requested_by_customer) into
// words (past due, requested by customer).
func words(enum string) string {
	return plain(strings.ReplaceAll(enum, "_", " "))
}

// titleBrand turns a card brand code into its usual spelling.
func titleBrand(brand string) string {
	switch brand {
	case "amex":
		return "American Express"
	case "diners":
		return "Diners Club"
	case "jcb", "JCB":
		return "JCB"
	case "unionpay":
		return "UnionPay"
	case "":
		return "Card"
	}
	r := []rune(brand)
	return plain(strings.ToUpper(string(r[0])) + string(r[1:]))
}

// card describes a card as "Visa •••• 4242".
func card(brand, last4 string) string {
	s := titleBrand(brand)
	if last4 != "" {
		s += " •••• " + plain(last4)
	}
	return s
}

// pluralize picks the singular or plural noun for n.
func pluralize(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
