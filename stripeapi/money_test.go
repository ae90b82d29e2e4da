package stripeapi

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		amount   int64
		currency string
		want     string
	}{
		{1250, "usd", "$12.50"},
		{1250, "USD", "$12.50"},
		{1250, "eur", "€12.50"},
		{300, "gbp", "£3.00"},
		{0, "usd", "$0.00"},
		{5, "usd", "$0.05"},
		{-500, "usd", "-$5.00"},
		{123456789, "usd", "$1,234,567.89"},
		{100000, "usd", "$1,000.00"},
		{1200, "jpy", "¥1,200"},
		{999, "jpy", "¥999"},
		{-1200, "jpy", "-¥1,200"},
		{1000000, "krw", "₩1,000,000"},
		{5000, "xof", "5,000 XOF"},
		{100, "ugx", "100 UGX"},
		{12500, "kwd", "12.500 KWD"},
		{1234567, "bhd", "1,234.567 BHD"},
		{5, "tnd", "0.005 TND"},
		{1250, "chf", "CHF 12.50"},
		{-1250, "chf", "-CHF 12.50"},
		{1250, "cad", "CA$12.50"},
		{1250, "sek", "12.50 SEK"},
		// Special cases stay two-decimal in the API (100 = 1 unit).
		{50000, "isk", "500.00 ISK"},
		{123400, "huf", "1,234.00 HUF"},
		{10000, "twd", "100.00 TWD"},
		{1250, "xyz", "12.50 XYZ"},
		{1250, "", "12.50"},
		{math.MinInt64, "usd", "-$92,233,720,368,547,758.08"},
		{math.MaxInt64, "jpy", "¥9,223,372,036,854,775,807"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatAmount(tt.amount, tt.currency); got != tt.want {
				t.Errorf("FormatAmount(%d, %q) = %q, want %q", tt.amount, tt.currency, got, tt.want)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	tests := []struct {
		input    string
		currency string
		want     int64
		// wantErr is a substring of the sentence shown to the user.
		wantErr string
	}{
		{"12.50", "usd", 1250, ""},
		{"12", "usd", 1200, ""},
		{"12.5", "usd", 1250, ""},
		{".5", "usd", 50, ""},
		{"0.01", "usd", 1, ""},
		{"  12.50  ", "usd", 1250, ""},
		{"$1,234.56", "usd", 123456, ""},
		{"$ 12", "usd", 1200, ""},
		{"US$12", "usd", 1200, ""},
		{"12.50 USD", "usd", 1250, ""},
		{"usd 12.50", "usd", 1250, ""},
		{"12.500", "usd", 1250, ""},
		{"1,000,000", "usd", 100000000, ""},
		{"€12.50", "eur", 1250, ""},
		{"CHF 12.50", "chf", 1250, ""},
		{"$12", "cad", 1200, ""},
		{"¥1200", "jpy", 1200, ""},
		{"¥1,200", "jpy", 1200, ""},
		{"1200", "jpy", 1200, ""},
		{"1200.00", "jpy", 1200, ""},
		{"12.5", "kwd", 12500, ""},
		{"12.345", "kwd", 12345, ""},
		{"1200", "isk", 120000, ""},
		{"12.34", "huf", 1234, ""},
		{"12.50", "xyz", 1250, ""},
		{"12.50", "", 1250, ""},

		{"", "usd", 0, "Enter an amount, like 12.50."},
		{"   ", "jpy", 0, "Enter an amount, like 1200."},
		{"-5", "usd", 0, "must be positive"},
		{"$-5", "usd", 0, "must be positive"},
		{"0", "usd", 0, "more than zero"},
		{"0.00", "usd", 0, "more than zero"},
		{"12.505", "usd", 0, "USD amounts have at most 2 decimals"},
		{"1200.5", "jpy", 0, "JPY has no decimals"},
		{"12.3456", "kwd", 0, "KWD amounts have at most 3 decimals"},
		{"12.5", "isk", 0, "whole krónur"},
		{"abc", "usd", 0, "is not an amount"},
		{"12abc", "usd", 0, `"abc" is not a sign of USD`},
		{"€12", "usd", 0, `"€" is not a sign of USD`},
		{"$12", "eur", 0, `"$" is not a sign of EUR`},
		{"$12", "", 0, "without a currency sign"},
		{"1e5", "usd", 0, "is not an amount"},
		{"12.5.0", "usd", 0, "is not an amount"},
		{".", "usd", 0, "is not an amount"},
		{"$", "usd", 0, "has no number"},
		{"12,50", "eur", 0, `use "." for decimals`},
		{"1,23,456", "usd", 0, `use "." for decimals`},
		{",123", "usd", 0, `use "." for decimals`},
		{"99999999999999999999", "usd", 0, "too large"},
		{"ɐɐɐ12", "usd", 0, "is not a sign of USD"},
	}
	for _, tt := range tests {
		t.Run(tt.input+" "+tt.currency, func(t *testing.T) {
			got, err := ParseAmount(tt.input, tt.currency)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseAmount(%q, %q) = %d, %v; want %d", tt.input, tt.currency, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseAmount(%q, %q) = %d, want an error containing %q", tt.input, tt.currency, got, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidAmount) {
				t.Errorf("error %v does not wrap ErrInvalidAmount", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error %q does not contain %q", msg, tt.wantErr)
			}
			if strings.Count(msg, ". ") > 0 || !strings.HasSuffix(msg, ".") {
				t.Errorf("error %q should be one sentence ending in a period", msg)
			}
		})
	}
}

// Parsing what FormatAmount printed gives the amount back, for every kind of
// currency: the two functions agree on decimals and symbols.
func TestParseAmountRoundTrip(t *testing.T) {
	for _, cur := range []string{"usd", "eur", "gbp", "jpy", "krw", "kwd", "chf", "cad", "sek", "xof", "isk", "xyz"} {
		for _, amount := range []int64{100, 1000, 123400, 99999900} {
			text := FormatAmount(amount, cur)
			got, err := ParseAmount(text, cur)
			if err != nil || got != amount {
				t.Errorf("ParseAmount(FormatAmount(%d, %s) = %q) = %d, %v", amount, cur, text, got, err)
			}
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, seed := range []string{"12.50", "$1,234.56", "¥1200", "-5", "12,50", "ɐ12", "CHF 1"} {
		f.Add(seed, "usd")
	}
	f.Fuzz(func(t *testing.T, input, currency string) {
		amount, err := ParseAmount(input, currency)
		if err == nil && amount <= 0 {
			t.Fatalf("ParseAmount(%q, %q) = %d without error", input, currency, amount)
		}
		if err != nil && !errors.Is(err, ErrInvalidAmount) {
			t.Fatalf("error %v does not wrap ErrInvalidAmount", err)
		}
	})
}
