package assistant

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
)

func respond(t *testing.T, e *Engine, d Data, q string, hint Lang) *Result {
	t.Helper()
	res, err := e.Respond(context.Background(), d, Question{Customer: "cus_A", Text: q, Hint: hint})
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	return res
}

// Each language's question is answered in that language, with its dates
// and amounts.
func TestAnswersInTheCustomersLanguage(t *testing.T) {
	questions := map[Lang]string{
		LangEN: "why did my payment fail?",
		LangDE: "Warum ist meine Zahlung fehlgeschlagen?",
		LangES: "¿Por qué falló mi pago?",
		LangFR: "Pourquoi mon paiement a-t-il échoué ?",
		LangPT: "Por que meu pagamento falhou?",
		LangIT: "Perché il mio pagamento è fallito?",
		LangNL: "Waarom is mijn betaling mislukt?",
	}
	for lang, q := range questions {
		res := respond(t, New(Options{}), twoCustomers(), q, "")
		if res.Lang != lang || res.Intent != IntentFailedPayment || res.Handoff {
			t.Errorf("%s %q: read as %s/%s handoff=%t", lang, q, res.Lang, res.Intent, res.Handoff)
			continue
		}
		for _, want := range []string{day(lang, unix("2024-03-01")), money(lang, 4900, "usd"), "https://pay.example/in_A"} {
			if !strings.Contains(res.Reply, want) {
				t.Errorf("%s reply lacks %q: %s", lang, want, res.Reply)
			}
		}
		if lang != LangEN && strings.Contains(res.Reply, "didn't go through") {
			t.Errorf("%s reply is in English: %s", lang, res.Reply)
		}
	}
	// The page's locale decides a message with no language of its own.
	if res := respond(t, New(Options{}), twoCustomers(), "ok", LangFR); res.Lang != LangFR || res.Reply != T(LangFR, mClosing) {
		t.Errorf("ok with a French hint: %s %q", res.Lang, res.Reply)
	}
	// The handoff line is in the customer's language too.
	if res := respond(t, New(Options{}), twoCustomers(), "Können Sie mir bei der Sache von neulich helfen, Sie wissen schon", ""); !res.Handoff ||
		res.Lang != LangDE || res.Reply != T(LangDE, mHandoff) {
		t.Errorf("German handoff: %+v", res)
	}
}

func TestFormatsPerLanguage(t *testing.T) {
	for lang, want := range map[Lang]string{LangEN: "€1,234.50", LangDE: "1.234,50\u00a0€", LangFR: "1\u202f234,50\u00a0€",
		LangNL: "€ 1.234,50", LangES: "1.234,50\u00a0€"} {
		if got := formatMoney(lang, 123450, "eur"); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
	if got := formatMoney(LangDE, -500, "usd"); got != "-5,00\u00a0$" {
		t.Errorf("negative: %q", got)
	}
	if got := formatMoney(LangDE, 1200, "jpy"); got != "1.200\u00a0¥" {
		t.Errorf("zero-decimal: %q", got)
	}
	when := unix("2026-03-02")
	for lang, want := range map[Lang]string{LangEN: "2 Mar 2026", LangDE: "2. März 2026", LangES: "2 de marzo de 2026",
		LangFR: "2 mars 2026", LangPT: "2 de março de 2026", LangIT: "2 marzo 2026", LangNL: "2 maart 2026"} {
		if got := day(lang, when); got != want {
			t.Errorf("%s: %q, want %q", lang, got, want)
		}
	}
}

// Every message key has a translation in every language, with the same
// placeholders.
func TestCatalogComplete(t *testing.T) {
	for lang, msgs := range catalog {
		for key, en := range msgEN {
			tr, ok := msgs[key]
			if !ok || strings.TrimSpace(tr) == "" {
				t.Errorf("%s lacks message %d (%q)", lang, key, en)
				continue
			}
			for _, ph := range []string{"%[1]s", "%[2]s", "%[3]s", "%[4]s"} {
				if strings.Count(tr, ph) != strings.Count(en, ph) {
					t.Errorf("%s message %q: placeholder %s used %d times, English %d", lang, tr, ph, strings.Count(tr, ph), strings.Count(en, ph))
				}
			}
		}
	}
}

// "Don't X, just Y" asks for Y; an inability is still a request.
func TestNegation(t *testing.T) {
	e := New(Options{})
	for q, want := range map[string]Intent{
		"I don't want to cancel, just pause":                IntentPause,
		"No, I don't need a human, just my balance":         IntentBalance,
		"don't cancel, change my card":                      IntentUpdatePayment,
		"I can't cancel my subscription":                    IntentCancel,
		"Ich will nicht kündigen, nur pausieren":            IntentPause,
		"No quiero cancelar, solo cambiar mi tarjeta":       IntentUpdatePayment,
		"Je ne veux pas résilier, juste changer de carte":   IntentUpdatePayment,
		"my payment didn't go through":                      IntentFailedPayment,
		"I don't recognise this charge":                     IntentUnrecognized,
		"I am not happy with the service and want a refund": IntentRefundRequest,
	} {
		if r := e.Read(q, ""); r.Intent != want || r.Confidence < e.opts.Threshold {
			t.Errorf("%q: %s (%.2f), want %s", q, r.Intent, r.Confidence, want)
		}
	}
}

// A message asking two things gets both answered.
func TestSeveralQuestionsInOne(t *testing.T) {
	res := respond(t, New(Options{}), twoCustomers(), "When is my next bill? And can I have my invoices please?", "")
	if !slices.Contains(res.Intents, IntentNextBill) || !slices.Contains(res.Intents, IntentInvoices) || res.Handoff {
		t.Fatalf("intents %v handoff %t", res.Intents, res.Handoff)
	}
	if plain := strings.ReplaceAll(res.Reply, "\\", ""); !strings.Contains(plain, "1 Apr 2024") || !strings.Contains(plain, "A-0001") {
		t.Errorf("reply does not answer both: %s", res.Reply)
	}
}

// A wall of keywords, or a long message of nothing billing-related, is
// not answered with confidence.
func TestNoConfidenceWithoutAQuestion(t *testing.T) {
	e := New(Options{})
	for _, q := range []string{"refund cancel invoice pause balance upgrade", "card refund dispute plan pause owe",
		"Die App stürzt ständig ab, wenn ich die Einstellungen öffne", "¿Va a llover mañana?", "asdf qwer zxcv"} {
		if r := e.Read(q, ""); r.Intent != IntentUnknown && r.Confidence >= e.opts.Threshold {
			t.Errorf("%q answered as %s (%.2f)", q, r.Intent, r.Confidence)
		}
	}
}

func TestTyposInEveryLanguage(t *testing.T) {
	e := New(Options{})
	for q, want := range map[string]Intent{
		"Rückerstatung bitte":             IntentRefundRequest,
		"quiero un reenbolso":             IntentRefundRequest,
		"je veux annuller mon abonnement": IntentCancel,
		"quero cancelar minha assinatrua": IntentCancel,
		"ik wil mijn abonement opzeggen":  IntentCancel,
		"vorrei il rimborzo":              IntentRefundRequest,
		"payment faild":                   IntentFailedPayment,
	} {
		if r := e.Read(q, ""); r.Intent != want || r.Confidence < e.opts.Threshold {
			t.Errorf("%q: %s (%.2f), want %s", q, r.Intent, r.Confidence, want)
		}
	}
}

// A "yes" accepts in every language; "ok" and 👍 close instead.
func TestAccepts(t *testing.T) {
	e := New(Options{})
	for q, lang := range map[string]Lang{"yes": LangEN, "Yes please!": LangEN, "ja": LangDE, "ja gerne": LangDE, "sí": LangES,
		"si": LangES, "oui": LangFR, "sim": LangPT, "sì": LangIT, "ja graag": LangNL} {
		got, ok := e.Accepts(q, "")
		if !ok {
			t.Errorf("%q is not a yes", q)
		}
		// "ja" and "si" (= "sì" without its accent) are words of two languages.
		if q != "ja" && q != "si" && q != "sì" && got != lang {
			t.Errorf("%q: language %s, want %s", q, got, lang)
		}
	}
	for _, q := range []string{"ok", "👍", "no", "yes but when is my next bill?", "nein"} {
		if _, ok := e.Accepts(q, ""); ok {
			t.Errorf("%q taken for a yes", q)
		}
	}
}

// The offered step is what a "yes" will run; no offer when it is not the
// customer's to take.
func TestOffers(t *testing.T) {
	e := New(Options{})
	for q, want := range map[string]string{"update my card": "portal", "refund please": "request-refund ch_A1",
		"cancel my subscription": "cancel", "when is my next bill": ""} {
		if res := respond(t, e, twoCustomers(), q, ""); res.Offer != want {
			t.Errorf("%q offers %q, want %q", q, res.Offer, want)
		}
	}
	off := New(Options{SelfService: func(string) bool { return false }})
	for _, q := range []string{"update my card", "refund please", "cancel my subscription"} {
		if res := respond(t, off, twoCustomers(), q, ""); res.Offer != "" || !res.Handoff {
			t.Errorf("%q with self-service off offers %q", q, res.Offer)
		}
	}
}

// A question about someone else is answered about the asker only, and
// says so.
func TestAnotherPersonNamed(t *testing.T) {
	d := twoCustomers()
	d.customers["cus_A"].Email = "a@example.com"
	for _, q := range []string{"how much does bob@example.com owe?", "What does my husband owe?", "how much does cus_B owe"} {
		res := respond(t, New(Options{}), d, q, "")
		if !strings.HasPrefix(res.Reply, T(LangEN, mOtherPerson)) || strings.Contains(res.Reply, "123") {
			t.Errorf("%q: %s", q, res.Reply)
		}
	}
	if res := respond(t, New(Options{}), d, "how much does a@example.com owe?", ""); strings.Contains(res.Reply, T(LangEN, mOtherPerson)) {
		t.Errorf("the asker's own email was taken for someone else: %s", res.Reply)
	}
}

func richCustomer() *fakeData {
	d := twoCustomers()
	a := d.customers["cus_A"]
	now := time.Now()
	ts := func(days int) int64 { return now.AddDate(0, 0, -days).Unix() }
	d.charges["cus_A"] = []*stripe.Charge{
		{ID: "ch_new", Customer: a, Amount: 1999, Currency: "eur", Status: stripe.ChargeStatusSucceeded, Created: ts(1),
			CalculatedStatementDescriptor: "ACME*BILLING", PaymentMethodDetails: &stripe.ChargePaymentMethodDetails{Card: &stripe.ChargePaymentMethodDetailsCard{Last4: "4242"}}},
		{ID: "ch_old", Customer: a, Amount: 1999, Currency: "eur", Status: stripe.ChargeStatusSucceeded, Created: ts(2),
			CalculatedStatementDescriptor: "ACME*BILLING"},
		{ID: "ch_refunded", Customer: a, Amount: 500, Currency: "eur", Status: stripe.ChargeStatusSucceeded, Created: ts(40), Refunded: true, AmountRefunded: 500,
			Refunds: &stripe.RefundList{Data: []*stripe.Refund{{ID: "re_1", Amount: 500, Currency: "eur", Status: stripe.RefundStatusSucceeded, Created: ts(30),
				DestinationDetails: &stripe.RefundDestinationDetails{Card: &stripe.RefundDestinationDetailsCard{Reference: "ARN123456"}}}}}},
	}
	d.invoices["cus_A"] = []*stripe.Invoice{
		{ID: "in_1", Number: "A-0002", Customer: a, Status: stripe.InvoiceStatusPaid, Currency: "eur", Total: 1999, Created: ts(1),
			HostedInvoiceURL: "https://pay.example/in_1", InvoicePDF: "https://pdf.example/in_1.pdf"},
		{ID: "in_due", Number: "A-0003", Customer: a, Status: stripe.InvoiceStatusOpen, Currency: "eur", Total: 700, AmountRemaining: 700,
			Created: ts(20), DueDate: ts(10), HostedInvoiceURL: "https://pay.example/in_due"},
	}
	d.prices = map[string]*stripe.Price{
		"price_basic": {ID: "price_basic", Active: true, Nickname: "Basic", UnitAmount: 900, Currency: "eur", Recurring: &stripe.PriceRecurring{Interval: "month"}},
		"price_year":  {ID: "price_year", Active: true, Nickname: "Pro yearly", UnitAmount: 19900, Currency: "eur", Recurring: &stripe.PriceRecurring{Interval: "year"}},
	}
	return d
}

func TestNewIntentsAnswerFromLiveData(t *testing.T) {
	e := New(Options{Plans: []string{"price_basic", "price_year", "price_gone"}})
	cases := []struct {
		q       string
		intent  Intent
		want    []string
		handoff bool
		offer   string
	}{
		{"did my payment go through?", IntentPayments, []string{"went through", "€19.99"}, false, ""},
		{"I don't recognise this charge", IntentUnrecognized, []string{"ACME*BILLING", "4242", "Reply **yes**"}, false, OfferAgent},
		{"I was charged twice", IntentDoubleCharge, []string{"two payments of **€19.99**", "`!stripe request-refund ch_new`"}, false, "request-refund ch_new"},
		{"I cancelled but you still charged me", IntentBilledAfterCancel, []string{"sorry", "€19.99"}, true, ""},
		{"where is my refund?", IntentRefundStatus, []string{"ask your bank", "ARN123456"}, false, ""},
		{"when is my next bill?", IntentNextBill, []string{"overdue", "€7.00", "https://pay.example/in_due"}, false, ""},
		{"can I get a VAT invoice pdf?", IntentInvoices, []string{"A-0002", "https://pdf.example/in_1.pdf", "VAT"}, false, ""},
		{"which plans can I switch to?", IntentChangePlan, []string{"Basic", "€9.00", "per month", "Pro yearly", "per year", "price_year"}, false, ""},
	}
	for _, c := range cases {
		res := respond(t, e, richCustomer(), c.q, "")
		if res.Intent != c.intent || res.Handoff != c.handoff || res.Offer != c.offer {
			t.Errorf("%q: %s handoff=%t offer=%q\n%s", c.q, res.Intent, res.Handoff, res.Offer, res.Reply)
			continue
		}
		plain := strings.ReplaceAll(res.Reply, "\\", "")
		for _, w := range c.want {
			if !strings.Contains(plain, w) {
				t.Errorf("%q: reply lacks %q:\n%s", c.q, w, res.Reply)
			}
		}
	}
	// A fully refunded latest payment is not offered again.
	d := richCustomer()
	d.charges["cus_A"] = d.charges["cus_A"][2:]
	if res := respond(t, e, d, "I want a refund", ""); strings.Contains(res.Reply, "request-refund") || res.Offer != "" ||
		!strings.Contains(res.Reply, "already been refunded") {
		t.Errorf("refund of a refunded payment: %s", res.Reply)
	}
}

func TestInvoicesOfAMonth(t *testing.T) {
	d := richCustomer()
	e := New(Options{})
	e.clock = func() time.Time { return time.Unix(d.invoices["cus_A"][0].Created, 0).AddDate(0, 0, 1) }
	m := time.Unix(d.invoices["cus_A"][0].Created, 0).UTC()
	q := "invoice for " + monthNames[LangEN][m.Month()-1]
	res := respond(t, e, d, q, "")
	if plain := strings.ReplaceAll(res.Reply, "\\", ""); !strings.Contains(plain, "A-0002") || !strings.Contains(plain, monthYear(LangEN, m)) {
		t.Errorf("%q: %s", q, res.Reply)
	}
	other := m.AddDate(0, -5, 0)
	res = respond(t, e, d, "invoice for "+monthNames[LangEN][other.Month()-1], "")
	if strings.Contains(res.Reply, "A-0002") {
		t.Errorf("another month's invoice shown: %s", res.Reply)
	}
}

const kbMarkdown = `# Our help

## Shipping
Keywords: delivery, parcel
We ship within 2 business days; delivery takes 3–5 days.

## Versand
ID: Shipping
Lang: de
Wir versenden innerhalb von 2 Werktagen.

## VAT and taxes
Prices include VAT where it applies. Businesses can add a VAT number in the billing portal.
`

func writeKB(t *testing.T, name, text string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKnowledgeBase(t *testing.T) {
	kb, err := LoadKnowledge(writeKB(t, "kb.md", strings.Replace(kbMarkdown, "## Versand\nID: Shipping", "## Versand\nID: ship", 1)))
	if err != nil {
		t.Fatal(err)
	}
	// IDs group translations: give the English one the same id.
	kb.Topics[0].ID = "ship"
	e := New(Options{Knowledge: kb})
	res := respond(t, e, twoCustomers(), "How long does shipping take?", "")
	if res.Topic != "Shipping" || res.Handoff || !strings.Contains(res.Reply, "**Shipping**") || !strings.Contains(res.Reply, "2 business days") {
		t.Errorf("shipping: %+v", res)
	}
	res = respond(t, e, twoCustomers(), "Wie lange dauert der Versand?", "")
	if res.Topic != "Versand" || !strings.Contains(res.Reply, "Werktagen") {
		t.Errorf("German shipping: %+v", res)
	}
	res = respond(t, e, twoCustomers(), "¿Los precios incluyen el IVA?", "")
	if res.Topic != "VAT and taxes" {
		t.Errorf("Spanish VAT question: %+v", res)
	}
	// Billing questions are answered from the data, not the knowledge base.
	if res = respond(t, e, twoCustomers(), "why did my payment fail?", ""); res.Topic != "" || res.Intent != IntentFailedPayment {
		t.Errorf("billing question went to the knowledge base: %+v", res)
	}
	if res = respond(t, e, twoCustomers(), "tell me a joke", ""); res.Topic != "" || !res.Handoff {
		t.Errorf("no topic: %+v", res)
	}

	y, err := LoadKnowledge(writeKB(t, "kb.yaml", "topics:\n  - title: Terms\n    keywords: [contract, conditions]\n    answer: Our terms are at https://example.com/terms.\n"))
	if err != nil || len(y.Topics) != 1 || y.Search("where are your terms and conditions?", LangEN) == nil {
		t.Errorf("yaml: %v %+v", err, y)
	}
	for name, text := range map[string]string{"bad.yaml": "topics: [", "empty.md": "# nothing", "notitle.yaml": "topics:\n  - answer: x\n", "kb.txt": "x"} {
		if _, err := LoadKnowledge(writeKB(t, name, text)); err == nil {
			t.Errorf("%s loaded", name)
		}
	}
}

// LLM mode keeps the rules' policy: a reply offering a switched-off
// command, or a refund the rules refused, is replaced by the rules'.
func TestLLMKeepsThePolicy(t *testing.T) {
	f, _ := startLLM(t, func(w http.ResponseWriter, req llmReq, round int) {
		writeText(w, "Sure, send `!stripe cancel` or `!stripe request-refund ch_A1`.")
	})
	_ = f
	srvURL := f.url
	e := New(Options{SelfService: func(c string) bool { return c != "cancel" }, LLM: &LLMOptions{BaseURL: srvURL, Model: "m", Timeout: 5 * time.Second}})
	res := respond(t, e, twoCustomers(), "cancel my subscription", "")
	if strings.Contains(res.Reply, "!stripe cancel") || !res.Handoff {
		t.Errorf("switched-off command from the model reached the room: %s", res.Reply)
	}
	d := twoCustomers()
	d.charges["cus_A"][1].Disputed = true
	e = New(Options{LLM: &LLMOptions{BaseURL: srvURL, Model: "m", Timeout: 5 * time.Second}})
	if res = respond(t, e, d, "refund please", ""); strings.Contains(res.Reply, "request-refund") {
		t.Errorf("a refund of a disputed payment offered by the model: %s", res.Reply)
	}
	// The model is told the customer's language.
	respond(t, e, twoCustomers(), "Warum ist meine Zahlung fehlgeschlagen?", "")
	last := f.reqs[len(f.reqs)-1]
	if !strings.Contains(*last.Messages[0].Content, "German") {
		t.Errorf("system prompt does not name the language: %s", *last.Messages[0].Content)
	}
}
