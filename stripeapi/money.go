package stripeapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Stripe keeps every amount as an integer in the currency's minor unit; how
// many decimals that unit has is a property of the currency, not of the
// number. The tables below follow https://docs.stripe.com/currencies:
//
//   - zero-decimal: BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF
//     XOF XPF. UGX is listed there as zero-decimal, so an API amount of 100
//     is UGX 100.
//   - three-decimal: BHD JOD KWD OMR TND. Payment flows additionally require
//     the last digit to be 0; that is Stripe's rule to enforce, not ours, so
//     ParseAmount accepts three decimals (customer balances allow them).
//   - special cases that stay two-decimal in the API: ISK (whole krónur only
//     since April 2023, still sent as multiples of 100, so 100 = ISK 1),
//     HUF and TWD (two-decimal for charges; only payouts are whole units).
//     They are formatted with two decimals because that is what the API
//     amount means; ParseAmount refuses fractional ISK because Stripe does.
//   - everything else, including currencies we have never heard of, is
//     two-decimal, which is Stripe's default.

// CurrencyDecimals is how many decimals the currency's minor unit has in the
// Stripe API (0, 2 or 3). The code is case-insensitive.
func CurrencyDecimals(currency string) int {
	switch strings.ToUpper(currency) {
	case "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF",
		"UGX", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "JOD", "KWD", "OMR", "TND":
		return 3
	}
	return 2
}

// currencySymbols lists what people write for a currency. The first entry is
// what FormatAmount prints before the number; an empty list means the code
// is printed after it ("12.500 KWD"), which is unambiguous for every
// currency. Only symbols that readers of a billing timeline recognise
// without doubt get the prefix form; "$" alone is reserved for USD.
func currencySymbols(code string) []string {
	switch code {
	case "USD":
		return []string{"$", "US$"}
	case "EUR":
		return []string{"€"}
	case "GBP":
		return []string{"£"}
	case "JPY":
		return []string{"¥", "円"}
	case "CNY":
		return []string{"CN¥", "¥", "元"}
	case "INR":
		return []string{"₹"}
	case "KRW":
		return []string{"₩"}
	case "CAD":
		return []string{"CA$", "$"}
	case "AUD":
		return []string{"A$", "$"}
	case "NZD":
		return []string{"NZ$", "$"}
	case "HKD":
		return []string{"HK$", "$"}
	case "MXN":
		return []string{"MX$", "$"}
	case "BRL":
		return []string{"R$"}
	case "CHF":
		// Swiss usage puts the code first, with a space.
		return []string{"CHF "}
	}
	return nil
}

// FormatAmount shows an amount given in the currency's minor unit, e.g.
// FormatAmount(1250, "usd") = "$12.50", FormatAmount(1200, "jpy") = "¥1,200",
// FormatAmount(12500, "kwd") = "12.500 KWD", FormatAmount(-500, "usd") =
// "-$5.00". An empty currency shows the bare number.
func FormatAmount(amount int64, currency string) string {
	code := strings.ToUpper(strings.TrimSpace(currency))
	decimals := CurrencyDecimals(code)

	sign := ""
	// Through uint64 so that math.MinInt64 has an absolute value too.
	abs := uint64(amount)
	if amount < 0 {
		sign = "-"
		abs = -abs
	}
	unit := uint64(1)
	for range decimals {
		unit *= 10
	}
	number := groupThousands(strconv.FormatUint(abs/unit, 10))
	if decimals > 0 {
		number += "." + fmt.Sprintf("%0*d", decimals, abs%unit)
	}

	switch symbols := currencySymbols(code); {
	case code == "":
		return sign + number
	case len(symbols) > 0:
		return sign + symbols[0] + number
	default:
		return sign + number + " " + code
	}
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// ErrInvalidAmount is wrapped by every error ParseAmount returns, so callers
// can tell bad input from other failures. The error's text is a sentence
// meant for the person who typed the amount.
var ErrInvalidAmount = errors.New("invalid amount")

type amountError struct{ sentence string }

func (e *amountError) Error() string { return e.sentence }
func (e *amountError) Unwrap() error { return ErrInvalidAmount }

func invalidAmount(format string, args ...any) error {
	return &amountError{sentence: fmt.Sprintf(format, args...)}
}

// amountExample is how an amount of twelve and a half looks in the
// currency, so error messages show the expected shape.
func amountExample(decimals int) string {
	switch decimals {
	case 0:
		return "1200"
	case 3:
		return "12.500"
	}
	return "12.50"
}

// ParseAmount reads an amount a person typed in the currency's major unit
// ("12.50", "12", "$1,234.56", "¥1200", "12.50 EUR") and returns it in the
// minor unit Stripe expects. It accepts the currency's own symbol or code
// before or after the number and "," between groups of thousands; it
// rejects zero, negative amounts, more decimals than the currency has,
// and anything else, each with one sentence saying what is wrong.
func ParseAmount(s, currency string) (int64, error) {
	code := strings.ToUpper(strings.TrimSpace(currency))
	decimals := CurrencyDecimals(code)
	example := amountExample(decimals)

	input := strings.TrimSpace(s)
	if input == "" {
		return 0, invalidAmount("Enter an amount, like %s.", example)
	}
	if strings.HasPrefix(input, "-") || strings.HasPrefix(input, "−") {
		return 0, invalidAmount("The amount must be positive, like %s.", example)
	}
	number, err := stripCurrency(input, code)
	if err != nil {
		return 0, err
	}
	if strings.HasPrefix(number, "-") {
		return 0, invalidAmount("The amount must be positive, like %s.", example)
	}
	if number == "" {
		return 0, invalidAmount("%q has no number in it; write it like %s.", s, example)
	}

	whole, frac, hasPoint := strings.Cut(number, ".")
	if whole == "" {
		whole = "0"
	}
	if !allDigits(frac) || (hasPoint && frac == "" && whole == "0") {
		return 0, invalidAmount("%q is not an amount; write it like %s.", s, example)
	}
	whole, err = ungroup(whole, s, example)
	if err != nil {
		return 0, err
	}

	frac = strings.TrimRight(frac, "0")
	if len(frac) > decimals {
		if decimals == 0 {
			return 0, invalidAmount("%s has no decimals; write a whole amount like %s.", currencyName(code), example)
		}
		return 0, invalidAmount("%s amounts have at most %d decimals, like %s.", currencyName(code), decimals, example)
	}
	if code == "ISK" && frac != "" {
		return 0, invalidAmount("ISK amounts must be whole krónur, like 1200.")
	}

	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", decimals-len(frac)), "0")
	if digits == "" {
		return 0, invalidAmount("The amount must be more than zero.")
	}
	minor, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, invalidAmount("%q is too large to be an amount.", s)
	}
	return minor, nil
}

func currencyName(code string) string {
	if code == "" {
		return "The currency"
	}
	return code
}

// stripCurrency removes one currency marker (symbol or code) from either end
// of the input. A marker of another currency is an error rather than being
// ignored: "€12" in a USD room is a mistake worth pointing out.
func stripCurrency(input, code string) (string, error) {
	markers := currencySymbols(code)
	if code != "" {
		markers = append(markers, code)
	}
	for _, m := range markers {
		m = strings.TrimSpace(m)
		// EqualFold on byte slices of the input, not ToUpper: upper-casing
		// can change a string's length and would shift the cut.
		if len(input) < len(m) {
			continue
		}
		if strings.EqualFold(input[:len(m)], m) {
			return strings.TrimSpace(input[len(m):]), nil
		}
		if strings.EqualFold(input[len(input)-len(m):], m) {
			return strings.TrimSpace(input[:len(input)-len(m)]), nil
		}
	}
	// Whatever is left must be a plain number; say which marker is wrong if
	// it looks like one.
	start := strings.IndexFunc(input, func(r rune) bool { return r >= '0' && r <= '9' || r == '.' || r == ',' })
	if start < 0 {
		return "", invalidAmount("%q is not an amount; write it like %s.", input, amountExample(CurrencyDecimals(code)))
	}
	prefix := strings.TrimSpace(input[:start])
	rest := input[start:]
	end := strings.LastIndexFunc(rest, func(r rune) bool { return r >= '0' && r <= '9' || r == '.' || r == ',' })
	suffix := strings.TrimSpace(rest[end+1:])
	for _, marker := range []string{prefix, suffix} {
		if marker != "" && marker != "-" {
			if code == "" {
				return "", invalidAmount("Write the amount without a currency sign, like 12.50.")
			}
			return "", invalidAmount("%q is not a sign of %s; write the amount like %s.", marker, code, amountExample(CurrencyDecimals(code)))
		}
	}
	return strings.TrimSpace(input), nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// ungroup accepts "1234" or "1,234" (groups of exactly three after the
// first). A European "12,50" fails here, and the message says why.
func ungroup(whole, input, example string) (string, error) {
	if !strings.Contains(whole, ",") {
		if !allDigits(whole) {
			return "", invalidAmount("%q is not an amount; write it like %s.", input, example)
		}
		return whole, nil
	}
	groups := strings.Split(whole, ",")
	for i, g := range groups {
		ok := allDigits(g) && len(g) == 3
		if i == 0 {
			ok = allDigits(g) && len(g) >= 1 && len(g) <= 3
		}
		if !ok {
			return "", invalidAmount("%q is not an amount: use \".\" for decimals and \",\" only between thousands, like %s.", input, example)
		}
	}
	return strings.Join(groups, ""), nil
}
