package portal

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stripe/stripe-go/v76"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-stripe/matrix-stripe/internal/usertext"
	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// message builds the plain and the HTML body side by side, so that both say
// the same thing by construction: every piece of text goes into both, and
// only the markup differs. All text is escaped for HTML here, in one place,
// because almost everything we show (names, descriptions, numbers, URLs)
// comes from Stripe and may come from whoever filled in a checkout form.
type message struct {
	plain, html strings.Builder
	// lineStarted tells sep whether a separator is needed.
	lineStarted bool
}

// maxTextRunes keeps one long Stripe-provided string (a description, a
// product name) from turning a notice into a wall of text.
const maxTextRunes = 200

// clean makes Stripe-provided text safe for one line of a notice (see
// usertext.Clean: no bidi controls, nothing invisible, no line breaks) and
// clips it.
func clean(s string) string {
	s = usertext.Clean(s)
	if utf8.RuneCountInString(s) <= maxTextRunes {
		return s
	}
	// A clipped emoji sequence must not leave a joiner dangling before the
	// ellipsis.
	return strings.TrimRight(string([]rune(s)[:maxTextRunes]), " \u200d\ufe0f\ufe0e") + "…"
}

func (m *message) write(plain, htm string) {
	m.plain.WriteString(plain)
	m.html.WriteString(htm)
	m.lineStarted = true
}

// text adds text, cleaned and escaped in the HTML body. One space at either
// end survives cleaning, so pieces can be joined with text(" · ").
func (m *message) text(s string) {
	lead, trail := strings.HasPrefix(s, " "), strings.HasSuffix(s, " ")
	s = clean(s)
	if s == "" {
		if lead || trail {
			m.write(" ", " ")
		}
		return
	}
	h := usertext.HTML(s)
	if lead {
		s, h = " "+s, " "+h
	}
	if trail {
		s, h = s+" ", h+" "
	}
	m.write(s, h)
}

// lead starts the message with an emoji and a bold headline.
func (m *message) lead(emoji, headline string) {
	headline = clean(headline)
	m.write(emoji+" "+headline, emoji+" <strong>"+usertext.HTML(headline)+"</strong>")
}

// bold adds emphasised text.
func (m *message) bold(s string) {
	s = clean(s)
	m.write(s, "<strong>"+usertext.HTML(s)+"</strong>")
}

// code shows an identifier (an object id, an event type), in backticks in
// the plain body as Matrix clients' Markdown fallback would.
func (m *message) code(s string) {
	s = clean(s)
	m.write("`"+s+"`", "<code>"+usertext.HTML(s)+"</code>")
}

// sep separates facts within a line; nothing at the start of a line.
func (m *message) sep() {
	if m.lineStarted {
		m.text(" · ")
	}
}

// line ends the current line; empty lines are never produced.
func (m *message) line() {
	if !m.lineStarted {
		return
	}
	m.plain.WriteString("\n")
	m.html.WriteString("<br>")
	m.lineStarted = false
}

// sentence adds one of our sentences on its own line.
func (m *message) sentence(s string) {
	m.line()
	m.text(s)
}

// link adds a link: the label and the URL in the plain body, an anchor in
// the HTML body. Only absolute http(s) URLs are linked; anything else
// (javascript:, data:, relative, garbage) is left out of both bodies.
func (m *message) link(label, target string) bool {
	if !safeURL(target) {
		return false
	}
	m.sep()
	label = clean(label)
	// safeURL let through only printable ASCII, which Clean leaves alone.
	m.write(label+": "+target, `<a href="`+usertext.HTML(target)+`">`+usertext.HTML(label)+`</a>`)
	return true
}

func safeURL(s string) bool {
	if s == "" || len(s) > 2048 {
		return false
	}
	// Stripe's URLs are plain ASCII; anything else (spaces, controls,
	// quotes, non-ASCII look-alikes) is not worth the risk of linking.
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || r == '"' || r == '<' || r == '>' || r == '\\' || r == '`' {
			return false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "https" || u.Scheme == "http"
}

func (m *message) content() *event.MessageEventContent {
	body, formatted := m.plain.String(), m.html.String()
	body = strings.TrimSuffix(body, "\n")
	formatted = strings.TrimSuffix(formatted, "<br>")
	return &event.MessageEventContent{
		MsgType:       event.MsgNotice,
		Body:          body,
		Format:        event.FormatHTML,
		FormattedBody: formatted,
		// An empty m.mentions says the notice mentions nobody, so a customer
		// named "@room" cannot ping the whole room through the legacy
		// body-matching push rule.
		Mentions: &event.Mentions{},
	}
}

// links adds the standard link line: whatever of these exist, in this order.
func (r *renderer) links(pairs ...string) {
	m := &r.msg
	m.line()
	for i := 0; i+1 < len(pairs); i += 2 {
		m.link(pairs[i], pairs[i+1])
	}
}

// money formats an amount; the one formatter lives in stripeapi.
func money(amount int64, currency stripe.Currency) string {
	return stripeapi.FormatAmount(amount, string(currency))
}

// day formats a Unix time as a date in UTC; zero (Stripe's "not set") is
// empty.
func day(unix int64) string {
	if unix <= 0 {
		return ""
	}
	return time.Unix(unix, 0).UTC().Format("2 Jan 2006")
}

// words turns an enum value from Stripe ("past_due") into words ("past due").
// Known values get a better phrasing from the caller's table first.
func words(s string) string {
	return clean(strings.ReplaceAll(s, "_", " "))
}

// capitalize upper-cases the first letter, for words at a line start.
func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// plural writes "1 month" / "3 months".
func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

// cardBrand names a card brand the way it is printed on cards.
func cardBrand(brand string) string {
	switch strings.ToLower(brand) {
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "amex", "american express":
		return "American Express"
	case "discover":
		return "Discover"
	case "jcb":
		return "JCB"
	case "diners", "diners club":
		return "Diners Club"
	case "unionpay":
		return "UnionPay"
	case "cartes_bancaires":
		return "Cartes Bancaires"
	case "", "unknown":
		return "Card"
	}
	return capitalize(words(brand))
}

// cardLabel is "Visa •••• 4242", or just the brand when last4 is missing.
func cardLabel(brand, last4 string) string {
	label := cardBrand(brand)
	if last4 != "" {
		label += " •••• " + clean(last4)
	}
	return label
}

// expiry is "12/2030".
func expiry(month, year int64) string {
	if month <= 0 || year <= 0 {
		return ""
	}
	return strconv.FormatInt(month, 10) + "/" + strconv.FormatInt(year, 10)
}

// paymentMethodType names a payment method type for people.
func paymentMethodType(t string) string {
	switch t {
	case "card":
		return "Card"
	case "sepa_debit":
		return "SEPA Direct Debit"
	case "us_bank_account":
		return "US bank account"
	case "bacs_debit":
		return "Bacs Direct Debit"
	case "au_becs_debit":
		return "BECS Direct Debit"
	case "acss_debit":
		return "Pre-authorized debit"
	case "link":
		return "Link"
	case "paypal":
		return "PayPal"
	case "ideal":
		return "iDEAL"
	case "customer_balance":
		return "Bank transfer"
	case "":
		return "Payment method"
	}
	return capitalize(words(t))
}

// declineWords explains the first decline code Stripe gave that we have
// words for; codes are tried in order from most to least specific.
func declineWords(codes ...string) (reason, code string) {
	generic := stripeapi.DeclineReason("")
	for _, c := range codes {
		if c == "" {
			continue
		}
		if code == "" {
			code = c
		}
		if words := stripeapi.DeclineReason(c); words != generic {
			return words, c
		}
	}
	return generic, code
}

// declineFix is the customer's next step after a decline, in a sentence.
func declineFix(code string) string {
	switch code {
	case "expired_card", "incorrect_cvc", "incorrect_number", "incorrect_zip", "invalid_expiry_month", "invalid_expiry_year":
		return "Please update your card details, or pay with another card."
	case "authentication_required":
		return "Please confirm the payment with your bank, then pay again."
	case "processing_error":
		return "Please try again in a little while, or pay with another card."
	case "insufficient_funds", "card_velocity_exceeded", "withdrawal_count_limit_exceeded":
		return "Please pay with another card, or try again once funds are available."
	}
	return "Please pay with another card, or update the card on file."
}
