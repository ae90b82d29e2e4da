package assistant

import (
	"strconv"
	"strings"
	"time"

	"github.com/matrix-stripe/matrix-stripe/stripeapi"
)

// monthNames are each language's month names, January first.
var monthNames = map[Lang][12]string{
	LangEN: {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
	LangDE: {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
	LangES: {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	LangFR: {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
	LangPT: {"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"},
	LangIT: {"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
	LangNL: {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
}

// canonicalMonths are the canonical words the lexicons map month names to.
var canonicalMonths = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september",
	"october", "november", "december"}

// day formats a date the way the language writes it: "2 Mar 2026",
// "2. März 2026", "2 de marzo de 2026".
func day(lang Lang, unix int64) string {
	t := time.Unix(unix, 0).UTC()
	d, y := strconv.Itoa(t.Day()), strconv.Itoa(t.Year())
	m := monthNames[lang][t.Month()-1]
	switch lang {
	case LangEN:
		return t.Format("2 Jan 2006")
	case LangDE:
		return d + ". " + m + " " + y
	case LangES, LangPT:
		return d + " de " + m + " de " + y
	case LangFR:
		if t.Day() == 1 {
			d = "1er"
		}
		return d + " " + m + " " + y
	}
	return d + " " + m + " " + y
}

// monthYear names a month: "March 2026", "marzo de 2026".
func monthYear(lang Lang, t time.Time) string {
	m, y := monthNames[lang][t.Month()-1], strconv.Itoa(t.Year())
	if lang == LangES || lang == LangPT {
		return m + " de " + y
	}
	if lang == "" {
		m = monthNames[LangEN][t.Month()-1]
	}
	return m + " " + y
}

// money formats an amount for the language, escaped for markdown:
// English "€1,234.50"; German, Spanish, Italian and Portuguese
// "1.234,50 €"; French "1 234,50 €"; Dutch "€ 1.234,50".
func money(lang Lang, amount int64, currency string) string {
	return esc(formatMoney(lang, amount, currency))
}

func formatMoney(lang Lang, amount int64, currency string) string {
	en := stripeapi.FormatAmount(amount, currency)
	if lang == LangEN || lang == "" {
		return en
	}
	// Split the English form into symbol and number and rebuild it with
	// the language's separators and symbol position.
	first := strings.IndexAny(en, "0123456789")
	last := strings.LastIndexAny(en, "0123456789")
	if first < 0 {
		return en
	}
	sign, symbol := "", en[:first]
	if strings.HasPrefix(symbol, "-") {
		sign, symbol = "-", symbol[1:]
	}
	symbol = strings.TrimSpace(symbol + en[last+1:])
	group, decimal := ".", ","
	if lang == LangFR {
		group = "\u202f"
	}
	number := strings.NewReplacer(",", "\x00", ".", decimal).Replace(en[first : last+1])
	number = strings.ReplaceAll(number, "\x00", group)
	if symbol == "" {
		return sign + number
	}
	if lang == LangNL {
		return symbol + " " + sign + number
	}
	return sign + number + "\u00a0" + symbol
}
