package assistant

import (
	"context"
	"testing"
)

// BenchmarkRespond measures a reply's latency per language, from the
// message to the finished markdown, with the Stripe reads served from
// memory: what the engine adds to the Stripe round trips.
func BenchmarkRespond(b *testing.B) {
	questions := map[Lang]string{
		LangEN: "Hi, why did my card get declined? And when is my next bill?",
		LangDE: "Hallo, warum wurde meine Karte abgelehnt? Und wann ist meine nächste Rechnung?",
		LangES: "Hola, ¿por qué rechazaron mi tarjeta? ¿Y cuándo es mi próxima factura?",
		LangFR: "Bonjour, pourquoi ma carte a-t-elle été refusée ? Et quand est ma prochaine facture ?",
		LangPT: "Olá, por que meu cartão foi recusado? E quando vence a próxima fatura?",
		LangIT: "Ciao, perché la mia carta è stata rifiutata? E quando arriva la prossima fattura?",
		LangNL: "Hallo, waarom is mijn kaart geweigerd? En wanneer komt mijn volgende factuur?",
	}
	e := New(Options{})
	d := twoCustomers()
	for _, lang := range Languages {
		q := questions[lang]
		b.Run(string(lang), func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Respond(context.Background(), d, Question{Customer: "cus_A", Text: q}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRead is the understanding alone, on the whole corpus.
func BenchmarkRead(b *testing.B) {
	corpus := loadCorpus(b, "testdata/corpus")
	e := New(Options{})
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		e.Read(corpus[i%len(corpus)].Q, "")
	}
}
