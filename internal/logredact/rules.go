package logredact

import (
	"bytes"
	"regexp"
)

// urlTail is the rest of a URL after a known prefix: it stops at whitespace,
// control characters (the console's colour codes), quotes, a backslash (the
// start of a JSON escape such as \" or \u0026), HTML brackets and the
// brackets Markdown puts around links.
const urlTail = `[^\s\x00-\x1f"'\\<>()\[\]{}|^` + "`" + `]+`

// rule is one shape of secret. The regexp's first group is the secret
// itself; what is around it (a "Bearer " or a URL's host) stays readable.
type rule struct {
	name string
	re   *regexp.Regexp
	// needles are literal substrings every match contains; a line without
	// any of them skips the regexp, which keeps ordinary lines cheap.
	needles [][]byte
}

// defaultRules are the secret shapes scrubbed from every line, known or
// not: a key from the environment of another process, a secret the config
// does not list, a session link Stripe handed back.
func defaultRules() []rule {
	return []rule{
		// Stripe secret and restricted keys. No \b before the prefix: inside
		// JSON a key can follow an escape such as \n.
		{"stripe_key", regexp.MustCompile(`(?:sk|rk)_(?:live|test)_([0-9A-Za-z]+)`), needles("sk_live_", "sk_test_", "rk_live_", "rk_test_")},
		{"webhook_secret", regexp.MustCompile(`whsec_([0-9A-Za-z+/=]+)`), needles("whsec_")},
		// PaymentIntent and SetupIntent client secrets, as in stripe-go's
		// response bodies.
		{"client_secret", regexp.MustCompile(`(?:pi|seti)_[0-9A-Za-z]+_secret_([0-9A-Za-z]+)`), needles("_secret_")},
		// Billing-portal sessions (/p/session/…, /session/…) and every other
		// billing.stripe.com path: all of them are links for one customer.
		{"billing_portal_url", regexp.MustCompile(`billing\.stripe\.com/(?:p/)?(?:session/)?(` + urlTail + `)`), needles("billing.stripe.com/")},
		{"checkout_url", regexp.MustCompile(`checkout\.stripe\.com/(?:c/)?(?:pay/)?(` + urlTail + `)`), needles("checkout.stripe.com/")},
		{"hosted_invoice_url", regexp.MustCompile(`invoice\.stripe\.com/(?:i/)?(` + urlTail + `)`), needles("invoice.stripe.com/")},
		{"receipt_url", regexp.MustCompile(`pay\.stripe\.com/(?:receipts/)?(` + urlTail + `)`), needles("pay.stripe.com/")},
		// JWTs: the header is base64url JSON, so it starts with eyJ ({").
		{"jwt", regexp.MustCompile(`(eyJ[0-9A-Za-z_-]*\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+)`), needles("eyJ")},
		// Authorization: Bearer <token>. At least 8 characters, so that prose
		// ("the bearer of bad news") is left alone.
		{"bearer", regexp.MustCompile(`(?i:bearer)\s+([0-9A-Za-z._~+/=-]{8,})`), needles("Bearer", "bearer", "BEARER")},
		// access_token=… in a query, and "access_token":"…" in JSON, escaped
		// or not.
		{"access_token", regexp.MustCompile(`(?i:access_token)["\\]*\s*[:=]\s*["\\]*([^\s"'\\&#,;}]+)`), needles("ccess_token", "CCESS_TOKEN")},
	}
}

func needles(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, n := range s {
		out[i] = []byte(n)
	}
	return out
}

func (r *rule) apply(line []byte) []byte {
	found := false
	for _, n := range r.needles {
		if bytes.Contains(line, n) {
			found = true
			break
		}
	}
	if !found {
		return line
	}
	var spans [][2]int
	for _, m := range r.re.FindAllSubmatchIndex(line, -1) {
		spans = append(spans, [2]int{m[2], m[3]})
	}
	return mask(line, spans)
}
