package logredact

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// jsonLine logs one event the way the bridge does and returns the line.
func jsonLine(t testing.TB, build func(e *zerolog.Event) *zerolog.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	build(log.Debug()).Msg("Request completed")
	return buf.Bytes()
}

// htmlJSON marshals v the way mautrix marshals request bodies: encoding/json
// with its default HTML escaping, so <>& become \u003c, \u003e, \u0026.
func htmlJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRedactLiterals(t *testing.T) {
	const token = "as-token-Zx81pQ"
	odd := `s3cr"et\with<html>&amp` // every character JSON escapes
	cases := []struct {
		name   string
		secret string
		line   func(t testing.TB) []byte
		// gone are the forms of the secret that must not survive.
		gone []string
	}{
		{"plain field", token,
			func(t testing.TB) []byte {
				return jsonLine(t, func(e *zerolog.Event) *zerolog.Event { return e.Str("as_token", token) })
			}, []string{token}},
		{"zerolog-escaped field", odd,
			func(t testing.TB) []byte {
				return jsonLine(t, func(e *zerolog.Event) *zerolog.Event { return e.Str("value", "x"+odd+"y") })
			}, []string{odd, jsonEscape(odd, false)}},
		{"HTML-escaped raw JSON body", odd,
			func(t testing.TB) []byte {
				body := htmlJSON(t, map[string]string{"body": "key " + odd + " end"})
				return jsonLine(t, func(e *zerolog.Event) *zerolog.Event { return e.RawJSON("req_body", body) })
			}, []string{odd, jsonEscape(odd, true), "s3cr", `\u0026amp`}},
		{"JSON body logged as a string (escaped twice)", odd,
			func(t testing.TB) []byte {
				body := htmlJSON(t, map[string]string{"body": odd})
				return jsonLine(t, func(e *zerolog.Event) *zerolog.Event { return e.Str("req_body", string(body)) })
			}, []string{odd, jsonEscape(jsonEscape(odd, true), false), "s3cr"}},
		{"secret that starts inside an escape sequence", "0026abcdef",
			func(t testing.TB) []byte {
				body := htmlJSON(t, map[string]string{"q": "a=1&abcdef"})
				return jsonLine(t, func(e *zerolog.Event) *zerolog.Event { return e.RawJSON("req_body", body) })
			}, []string{"0026abcdef", "abcdef"}},
		{"database password in a URI", "pa:ss@word",
			func(t testing.TB) []byte {
				return jsonLine(t, func(e *zerolog.Event) *zerolog.Event {
					return e.Str("error", "connect postgres://bridge:pa:ss@word@db/bridge failed")
				})
			}, []string{"pa:ss@word"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := tc.line(t)
			if !containsAny(line, tc.gone) {
				t.Fatalf("test line does not contain the secret: %s", line)
			}
			got := New(nil, tc.secret).Redact(line)
			assertScrubbed(t, line, got, tc.gone)
		})
	}
}

func TestRedactPatterns(t *testing.T) {
	cases := []struct {
		name   string
		value  string   // logged as a string field
		gone   []string // must not survive
		kept   string   // must survive (readable context around the secret)
		nohits bool     // nothing may be replaced
	}{
		{"live secret key", "key sk_live_51HxYzAbC0123456789", []string{"51HxYzAbC0123456789"}, "key sk_live_", false},
		{"test secret key after a newline", "config:\nsk_test_4eC39HqLyjWDarjtT1zdp7dc", []string{"4eC39HqLyjWDarjtT1zdp7dc"}, "config:", false},
		{"live restricted key", "rk_live_51Habc", []string{"51Habc"}, "rk_live_", false},
		{"test restricted key", "(rk_test_9Zz)", []string{"9Zz"}, ")", false},
		{"webhook secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "whsec_", false},
		{"payment intent client secret", "pi_3Mtw_secret_YrKJUKribcBjcG8HVhfZluoGH", []string{"YrKJUKribcBjcG8HVhfZluoGH"}, "pi_3Mtw_secret_", false},
		{"billing-portal session in Markdown", "[Open the billing portal](https://billing.stripe.com/p/session/test_YWNjdF8xTQ) — manage",
			[]string{"test_YWNjdF8xTQ"}, "https://billing.stripe.com/p/session/" + Mask + ") — manage", false},
		{"billing-portal session in HTML", `<a href="https://billing.stripe.com/session/live_abc123?x=1&y=2">Open</a>`,
			[]string{"live_abc123", "x=1"}, `">Open</a>`, false},
		{"checkout session", "pay at https://checkout.stripe.com/c/pay/cs_test_a1b2c3#fidkdWxOYHwn", []string{"cs_test_a1b2c3", "fidkdWxOYHwn"}, "pay at https://checkout.stripe.com/c/pay/", false},
		{"hosted invoice page", "https://invoice.stripe.com/i/acct_1Mx/test_YWNjdF8x?s=ap", []string{"acct_1Mx/test_YWNjdF8x"}, "invoice.stripe.com/i/", false},
		{"JWT", "token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXNfMSJ9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", []string{"eyJhbGciOiJIUzI1NiJ9", "dBjftJeZ4CVP"}, "token=", false},
		{"JWT starting inside a \\u escape", "\x0eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ9.c2lnbmF0dXJl", []string{"yJhbGci", "c2lnbmF0dXJl"}, "", false},
		{"Authorization: Bearer", "Authorization: Bearer syt_YWdlbnQ_ZqGqVnGQbjZkUJMnbLgW_0Zr4Vm", []string{"syt_YWdlbnQ"}, "Authorization: Bearer " + Mask, false},
		{"lower-case bearer in a header map", `map[authorization:[bearer abcdefgh12345]]`, []string{"abcdefgh12345"}, "bearer " + Mask, false},
		{"access_token in a query", "GET /_matrix/client/v3/sync?since=s1&access_token=syt_abc_def&timeout=0", []string{"syt_abc_def"}, "access_token=" + Mask + "&timeout=0", false},
		{"access_token in JSON", `{"access_token":"syt_abc_def","device_id":"X"}`, []string{"syt_abc_def"}, `"device_id`, false},
		{"ordinary line", "the bearer of news; disk_usage 12%; https://dashboard.stripe.com/test/customers/cus_123; eyJ alone; sk_live_", nil, "", true},
	}
	w := New(nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line := jsonLine(t, func(e *zerolog.Event) *zerolog.Event { return e.Str("body", tc.value) })
			got := w.Redact(line)
			if tc.nohits {
				if !bytes.Equal(got, line) {
					t.Fatalf("changed a line without secrets:\n in: %s\nout: %s", line, got)
				}
				return
			}
			assertScrubbed(t, line, got, tc.gone)
			if !strings.Contains(decodedBody(t, got), tc.kept) {
				t.Errorf("lost the context %q: %s", tc.kept, got)
			}
		})
	}
}

// TestConsoleOutput covers the pretty format: ConsoleWriter decodes the JSON
// and prints values raw or Go-quoted, with colour codes around them.
func TestConsoleOutput(t *testing.T) {
	const secret = `hs"token-Q9x`
	var out bytes.Buffer
	w := New(&out, secret)
	log := zerolog.New(zerolog.ConsoleWriter{Out: w}).With().Timestamp().Logger()
	log.Info().Str("hs_token", secret).Str("link", "https://billing.stripe.com/p/session/test_abcdef").Msg("sent " + secret)
	got := out.String()
	for _, bad := range []string{secret, goQuote(secret), "test_abcdef"} {
		if strings.Contains(got, bad) {
			t.Errorf("console output contains %q: %q", bad, got)
		}
	}
	if !strings.Contains(got, Mask) || !strings.Contains(got, "\x1b[") {
		t.Errorf("want masked, coloured output: %q", got)
	}
}

func TestShortSecretsIgnored(t *testing.T) {
	line := []byte(`{"level":"debug","message":"abc"}` + "\n")
	if got := New(nil, "", "abc").Redact(line); !bytes.Equal(got, line) {
		t.Errorf("a secret shorter than %d characters was scrubbed: %s", MinSecretLen, got)
	}
}

func TestWriteSplitLine(t *testing.T) {
	const secret = "hs-token-0123456789"
	var out bytes.Buffer
	w := New(&out, secret)
	line := `{"level":"debug","hs_token":"` + secret + `"}` + "\n"
	cut := strings.Index(line, secret) + 5
	for _, part := range []string{line[:cut], line[cut:], `{"partial":"` + secret[:9]} {
		if n, err := w.Write([]byte(part)); err != nil || n != len(part) {
			t.Fatalf("Write = %d, %v; want %d", n, err, len(part))
		}
	}
	if strings.Contains(out.String(), "hs-token") || !strings.Contains(out.String(), Mask) {
		t.Errorf("split secret reached the output: %q", out.String())
	}
	if strings.Contains(out.String(), "partial") {
		t.Errorf("a line without its newline was written before Flush: %q", out.String())
	}
	if err := w.Flush(); err != nil || !strings.HasSuffix(out.String(), `{"partial":"hs-token-`) {
		t.Errorf("Flush: %v, output %q", err, out.String())
	}
}

func assertScrubbed(t *testing.T, in, got []byte, gone []string) {
	t.Helper()
	if !bytes.Contains(got, []byte(Mask)) {
		t.Errorf("nothing replaced:\n in: %s\nout: %s", in, got)
	}
	for _, g := range gone {
		if bytes.Contains(got, []byte(g)) {
			t.Errorf("%q survived:\n in: %s\nout: %s", g, in, got)
		}
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Errorf("no longer valid JSON (%v):\n in: %s\nout: %s", err, in, got)
	}
	if !bytes.HasSuffix(got, []byte("\n")) {
		t.Errorf("lost the newline: %q", got)
	}
}

func containsAny(line []byte, subs []string) bool {
	for _, s := range subs {
		if bytes.Contains(line, []byte(s)) {
			return true
		}
	}
	return false
}

func decodedBody(t *testing.T, line []byte) string {
	t.Helper()
	var v struct {
		Body string `json:"body"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	return v.Body
}

// BenchmarkRedactDebugLine measures a typical mautrix request line, which
// every Matrix request writes at debug level.
func BenchmarkRedactDebugLine(b *testing.B) {
	body := htmlJSON(b, map[string]any{
		"msgtype": "m.notice", "body": "Invoice in_1OaBcD paid: $50.00 by Visa •••• 4242. Reply `!stripe refund` to refund it.",
		"format": "org.matrix.custom.html", "formatted_body": "<p>Invoice <code>in_1OaBcD</code> paid: <strong>$50.00</strong></p>",
		"com.matrix-stripe.event": "evt_1OaBcDeFgHiJkLmN",
	})
	line := jsonLine(b, func(e *zerolog.Event) *zerolog.Event {
		return e.Str("component", "matrix").Int("req_id", 42).Str("method", "PUT").
			Str("url", "http://127.0.0.1:8008/_matrix/client/v3/rooms/!abc:localhost/send/m.room.message/mst-evt_1OaBcDeFgHiJkLmN?user_id=%40stripe_main%3Alocalhost").
			Int("status_code", 200).Int64("response_length", 59).Str("response_mime", "application/json").RawJSON("req_body", body)
	})
	w := New(nil, "as-token-0123456789abcdef", "hs-token-0123456789abcdef", "sk_test_51HxYzAbC0123456789", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "db-password")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		_ = w.Redact(line)
	}
}
